"""The backends: each turns an inspected target into the plan of its operator bodies."""
