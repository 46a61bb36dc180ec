"""Generation-time work of the jax backends: trace every kernel; for --jax-export, export it.

An exported kernel is lowered, serialized and embedded as base64, with source locations that do
not depend on the checkout.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ...errors import DiffgenError
from ...x64 import precise
from ..ad import rendered_kernels, sparse_names

if TYPE_CHECKING:
    from ...model import Inspected
    from .plan import JaxPlan


#: The platforms a --jax-export artifact is lowered for: it runs on any of them.
EXPORT_PLATFORMS = ("cpu", "cuda")

#: The template that renders the kernels alone, with the `_export` function.
KERNELS = "jax_kernels.py.jinja"


@contextmanager
def stable_locations() -> Iterator[None]:
    """Source locations in exported MLIR without directories and call stacks, so that an
    artifact's bytes do not depend on where the project is checked out or who called diffgen."""
    import jax

    settings = {
        "jax_include_full_tracebacks_in_locations": False,
        "jax_hlo_source_file_canonicalization_regex": ".*/",
    }
    saved = {name: getattr(jax.config, name) for name in settings}
    update: Callable[[str, object], None] = jax.config.update
    try:
        for name, value in settings.items():
            update(name, value)
        yield
    finally:
        for name, value in saved.items():
            update(name, value)


def chunks(blob: bytes, width: int = 88) -> str:
    """A serialized artifact as a parenthesized base64 literal, `width` characters a line."""
    text = base64.b64encode(blob).decode("ascii")
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    return "(\n" + "\n".join(f'    "{line}"' for line in lines) + "\n)"


def traced_error(inspected: Inspected, kernel: str, error: Exception) -> DiffgenError:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return DiffgenError(
        f"jax cannot trace {inspected.target.function}",
        f"tracing {kernel} raised {type(error).__name__}: {first}",
        "write the function with jax.numpy or against the Array API (array_namespace; see the"
        ' README section "Authoring functions" and examples/jax_functions.py), without numpy calls'
        " or Python control flow on its arguments' values; or use --backend finitediff",
    )


def target_digest(inspected: Inspected) -> str:
    """What binds --jax-export artifacts to their target: a digest of the target's definition
    and its function's source, in each artifact's name and in the module."""
    text = f"{inspected.target.canonical()}\n{inspected.source_digest}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def traced(plan: JaxPlan, inspected: Inspected) -> dict[str, str]:
    """Trace every kernel for its specs (a function jax cannot trace fails here, not at import);
    for --jax-export, also lower each for EXPORT_PLATFORMS and serialize it: base64 by kernel."""
    import jax
    import numpy as np

    names: dict[str, object] = {"PLATFORMS": EXPORT_PLATFORMS, "TARGET": target_digest(inspected)}
    names.update(sparse_names(plan))
    kernels = rendered_kernels(KERNELS, plan, inspected, names)
    shapes = {
        name: jax.ShapeDtypeStruct(spec.shape, np.dtype(spec.dtype))  # type: ignore[no-untyped-call]
        for name, spec in plan.specs
    }
    blobs = {}
    with precise(), stable_locations():
        for k in plan.kernels:
            specs = [shapes[spec] for _, spec in k.specs]
            try:
                if plan.export:
                    blobs[k.name] = chunks(kernels["_export"](kernels[k.name], *specs))
                else:
                    jax.eval_shape(kernels[k.name], *specs)
            except Exception as error:  # whatever the user's code raised while traced
                raise traced_error(inspected, k.name, error) from error
    return blobs
