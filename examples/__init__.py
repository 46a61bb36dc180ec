"""Example user functions, written against the Array API standard."""
