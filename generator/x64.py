"""jax's 64-bit mode, switched on only around diffgen's own calls of user functions."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext


def precise() -> AbstractContextManager[object]:
    """A block in which jax computes in float64, as numpy does; a no-op unless jax is imported.

    A function written with jax.numpy and called with float64 numpy arrays returns float32 while
    jax's x64 mode is off, which would make probed output specs and reference values wrong.
    `jax.enable_x64(True)` is thread-local and restored on exit: the configuration of the
    program that runs diffgen is left as it was. jax is not imported here when the user's
    module did not import it (a numpy or Array API function never needs it).
    """
    jax = sys.modules.get("jax")
    if jax is None:
        return nullcontext()
    context: AbstractContextManager[object] = jax.enable_x64(True)
    return context
