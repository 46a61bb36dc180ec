"""diffgen: generate standalone, prepared derivative code for a Python function.

The public API (the command line `diffgen` is a layer over it)::

    import generator as diffgen
    diffgen.generate("model:loss", args={"w": "float64[20]", "X": "float64[200,20]"},
                     wrt="w", ops="gradient,hessian", backend="jax:reverse", outer="jax:forward")
    diffgen.check("pyproject.toml")   # the generated files that are not current, and why
    diffgen.build("pyproject.toml")   # regenerate the stale targets of [tool.diffgen]
"""

from __future__ import annotations

from .api import build, check, generate, target
from .errors import DiffgenError
from .spec import Spec, parse_spec
from .stale import Problem
from .target import Target
from .version import __version__
from .write import Built

__all__ = [
    "Built",
    "DiffgenError",
    "Problem",
    "Spec",
    "Target",
    "__version__",
    "build",
    "check",
    "generate",
    "parse_spec",
    "target",
]
