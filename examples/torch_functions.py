"""A function with the traps of traced derivatives, written against the Array API standard.

It runs with numpy (diffgen's probe and references), with SymPy's tracer (exact references)
and with torch tensors and torch.func's transforms alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace

#: A constant the function captures: traced into the graph as a module-level tensor.
WEIGHTS = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]])


def kinks(X: Any) -> Any:
    """sqrt, abs, where, maximum and integer powers of a 2 x 3 matrix, weighted by WEIGHTS.

    The kinks (X = 0.5 for where, X = 0.45 for abs, X = 0.3 X[:, ::-1] for maximum) are away
    from the test points, which are drawn at random; derivatives are those of the branch taken.
    """
    xp = array_namespace(X)
    weights = xp.asarray(WEIGHTS, dtype=X.dtype)
    branch = xp.where(X > 0.5, xp.sqrt(X), X**2)
    kinked = branch + xp.maximum(X, 0.3 * xp.flip(X, axis=1))
    return xp.sum(weights * kinked**3) + xp.sum(xp.abs(X - 0.45)) ** 2 + xp.sum(X @ X.T)
