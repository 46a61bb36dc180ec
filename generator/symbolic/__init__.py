"""Symbolic tracing with SymPy: the Array API namespace, exact derivatives, their printer."""

from __future__ import annotations

from .array import SymbolicArray
from .dtypes import SymbolicError
from .trace import Traced, trace

__all__ = ["SymbolicArray", "SymbolicError", "Traced", "trace"]
