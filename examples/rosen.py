"""The Rosenbrock function, the classic test objective of optimization."""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace


def rosen(x: Any) -> Any:
    """sum(100 (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2), as scipy.optimize.rosen."""
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
