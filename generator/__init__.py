"""diffgen: generate standalone, prepared derivative code for a Python function."""

from __future__ import annotations

__version__ = "0.1.0"
