"""Scenarios in the families of DifferentiationInterfaceTest, with derivatives written by hand.

Each scenario is an Array API function (in `functions.py`, importable by generated modules),
the spec of its arguments, and closed forms of its Jacobian (and second derivatives), from which
every operator's expected value follows.
"""
