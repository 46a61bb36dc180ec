"""A dense objective with a constant matrix argument, its sizes read from jaxtyping annotations.

No `from __future__ import annotations` here: jaxtyping reads its annotations at run time.
"""

import numpy as np
from array_api_compat import array_namespace
from jaxtyping import Float64


def dense(x: Float64[np.ndarray, "n"], A: Float64[np.ndarray, "n n"]) -> Float64[np.ndarray, ""]:
    """sum(tanh(A @ x)) + x @ x / 2; A is a constant (not differentiated)."""
    xp = array_namespace(x, A)
    return xp.sum(xp.tanh(A @ x)) + xp.sum(x * x) / 2.0
