"""The sparse part of a module's plan: detect each matrix's pattern, color it, fix the indices.

Everything is decided here, at generation time, in Python: where the pattern comes from (the
user's .npz file, the symbolic trace, or asdex's jaxpr walk; never values at sample points), how
the backend that evaluates the matrix colors it (what it can do is declared in
backends/registry.py: `exact` for sympy, which writes each nonzero; `column`, `row` and
`symmetric` for colored JVPs, VJPs and HVPs), and the gather that decompresses its products.
The result is a frozen `SparseMatrix` per matrix (generator/model.py) that templates only read.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import DiffgenError
from ..model import Inspected, SparseMatrix
from ..sparse_options import MODES, SparseOptions
from ..symbolic.derivatives import symbolic_derivatives
from ..symbolic.dtypes import SymbolicError
from . import expressions, jaxpr
from .coloring import Coloring, color_hessian, color_jacobian
from .pattern import Pattern, load_npz

#: The operators whose results are sparse matrices, and the quantity of each.
MATRICES = {"jacobian": "jacobian", "hessian": "hessian"}
#: What a backend can evaluate sparsely, as declared in backends/registry.py (Entry.sparse).
Capability = Literal["exact", "column", "row", "symmetric"]
_SOURCES = {
    "symbolic": "detected from the traced expressions",
    "jaxpr": "detected from the jaxpr by asdex",
    "user": "the user's pattern, read from {path}",
}


def options(inspected: Inspected) -> SparseOptions:
    return inspected.target.option(SparseOptions)


def _what(inspected: Inspected, quantity: str) -> str:
    return f"the {quantity.capitalize()} of {inspected.target.function}"


def _shape(inspected: Inspected, quantity: str) -> tuple[int, int]:
    n = inspected.active.spec.size
    return (inspected.output.size, n) if quantity == "jacobian" else (n, n)


def user_path(inspected: Inspected) -> Path:
    """The pattern file, relative to the project root (where the function is imported from)."""
    path = Path(options(inspected).pattern)
    return path if path.is_absolute() else inspected.root / path


def detect(inspected: Inspected, quantity: str, jaxpr_first: bool = False) -> Pattern:
    """The pattern of the Jacobian or Hessian: the user's file, else the symbolic trace and
    asdex on the jaxpr, in that order or (`jaxpr_first`: jax traces the function for the module
    anyway, and asdex is far cheaper at large n) the other; a function neither sees through is
    refused. Both detectors read the function's structure, and both are conservative."""
    shape = _shape(inspected, quantity)
    if options(inspected).pattern:
        return load_npz(
            user_path(inspected), shape, _what(inspected, quantity), quantity == "hessian"
        )
    active = [arg.active for arg in inspected.args].index(True)
    failed = {}
    for route in ("jaxpr", "symbolic") if jaxpr_first else ("symbolic", "jaxpr"):
        try:
            return _ROUTES[route](inspected, quantity, active)
        except (SymbolicError, DiffgenError) as error:
            failed[route] = error.what
    raise DiffgenError(
        f"no sparsity detector sees through {inspected.target.function}",
        f"the symbolic trace failed ({failed['symbolic']}) and so did jax's ({failed['jaxpr']});"
        " a pattern is read from the function's structure, never from values at sample points,"
        " and a torch-only function has no detector yet",
        "write the function with the Array API (array_namespace(x)) so that the symbolic"
        " detector traces it, or with jax.numpy for asdex, or pass the pattern as a"
        ' scipy.sparse .npz file with --sparsity PATH (sparsity = "PATH")',
    )


def _symbolic(inspected: Inspected, quantity: str, active: int) -> Pattern:
    traced, _ = symbolic_derivatives(inspected)
    wrt = traced.inputs[active]
    if quantity == "jacobian":
        return expressions.jacobian_pattern(traced.output, wrt)
    return expressions.hessian_pattern(traced.output, wrt)


def _jaxpr(inspected: Inspected, quantity: str, active: int) -> Pattern:
    specs = [arg.spec for arg in inspected.args]
    if quantity == "jacobian":
        return jaxpr.jacobian_pattern(inspected.function, specs, active)
    return jaxpr.hessian_pattern(inspected.function, specs, active)


_ROUTES = {"symbolic": _symbolic, "jaxpr": _jaxpr}


def _jacobian_coloring(pattern: Pattern, can: Sequence[str], mode: str, backend: str) -> Coloring:
    wanted = MODES[mode]
    modes = [m for m in ("column", "row") if m in can]
    if wanted != "auto" and wanted not in modes:
        raise DiffgenError(
            f"--sparse-mode {mode} is not possible with --backend {backend}",
            f"{backend} evaluates a sparse Jacobian by "
            + " or ".join(f"{m} coloring" for m in modes),
            "drop --sparse-mode (auto), or pass "
            + " or ".join(f"--sparse-mode {k}" for k, v in MODES.items() if v in modes),
        )
    chosen = wanted if wanted != "auto" else ("auto" if len(modes) == 2 else modes[0])
    return color_jacobian(pattern, chosen)  # type: ignore[arg-type]


def _index(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.int64).reshape(-1)
    array.flags.writeable = False
    return array


def matrix(
    inspected: Inspected,
    quantity: str,
    can: Sequence[str],
    backend: str,
    jaxpr_first: bool = False,
) -> SparseMatrix:
    """The SparseMatrix of one quantity, evaluated by a backend that can do `can`; the pattern
    from asdex first where `jaxpr_first` (a module whose inner backend is jax)."""
    needed = {"exact", "symmetric"} if quantity == "hessian" else {"exact", "column", "row"}
    if not needed & set(can):
        raise cannot_color(inspected, quantity, backend)
    pattern = detect(inspected, quantity, jaxpr_first)
    source = _SOURCES[pattern.source].format(path=options(inspected).pattern)
    empty = _index(np.zeros(0))
    lower = _index(np.flatnonzero(pattern.rows >= pattern.cols)) if quantity == "hessian" else empty
    if "exact" in can:
        return SparseMatrix(
            quantity, pattern.shape, pattern.rows, pattern.cols, pattern.indptr, source,
            "exact", 0, empty, empty, lower, pattern.describe(),
            f"no products: each of the {pattern.nnz} nonzeros is written as its own expression",
        )  # fmt: skip
    if quantity == "hessian":
        coloring = color_hessian(pattern)
        gather = coloring.flat_indices().copy()
        upper = np.flatnonzero(pattern.rows < pattern.cols)
        mirror = pattern.positions(pattern.cols[upper], pattern.rows[upper])
        gather[upper] = gather[mirror]  # both triangles read one product: exactly symmetric
    else:
        coloring = _jacobian_coloring(pattern, can, options(inspected).mode, backend)
        gather = coloring.flat_indices()
    cost = coloring.describe()
    if backend == "finitediff":  # differences, not AD products: say what they cost
        c, n = coloring.ncolors, pattern.shape[1]
        what = "calls of f" if quantity == "jacobian" else "inner gradients"
        cost += f" (differences: {2 * c} {what} instead of {2 * n})"
    return SparseMatrix(
        quantity, pattern.shape, pattern.rows, pattern.cols, pattern.indptr, source,
        coloring.mode, coloring.ncolors, coloring.colors, _index(gather), lower,
        pattern.describe(), cost,
    )  # fmt: skip


def cannot_color(inspected: Inspected, quantity: str, backend: str) -> DiffgenError:
    return DiffgenError(
        f"--backend {backend} cannot evaluate a sparse {quantity} of {inspected.target.function}",
        f"{backend} has no colored evaluation of a {quantity} in this version",
        "use a backend that evaluates sparse matrices (sympy, finitediff, jax:* and torch:* all"
        " do, see `diffgen backends`), or drop --sparse",
    )


def refuse_no_matrix(inspected: Inspected, ops: Sequence[str]) -> None:
    """--sparse needs an operator with a matrix result (jacobian or hessian)."""
    if not any(op in MATRICES for op in ops):
        raise DiffgenError(
            f"--sparse has nothing to do for {', '.join(ops)}",
            "sparse applies to the operators with a matrix result, jacobian and hessian; the"
            " others return arrays shaped like x or f(x)",
            "add jacobian or hessian to --ops, or drop --sparse (and --sparsity)",
        )


def describe(matrices: Sequence[SparseMatrix], flavour_type: str) -> str:
    """The paragraph of the module docstring on its sparse matrices."""
    parts = []
    for m in matrices:
        a, b = m.coordinates
        parts.append(
            f"The {m.quantity} is sparse: {m.pattern_text}, {m.source}; {m.cost_text}."
            f" {m.quantity} returns a {flavour_type} of this fixed pattern,"
            f" {m.quantity}_values the values in the order of {a} and {b}"
            + (" (the lower triangle)" if m.quantity == "hessian" else "")
            + "."
        )
    parts.append("value returns f(x) alone, so that a solver's callbacks need only this module.")
    return " ".join(parts)


def record(matrices: Sequence[SparseMatrix]) -> str:
    """The DIFFGEN entry: per matrix its shape, nnz, density, mode, colors and cost."""
    entries = ", ".join(
        f'"{m.quantity}": {{"shape": {m.shape!r}, "nnz": {m.nnz}, "density": '
        f'{m.nnz / max(m.shape[0] * m.shape[1], 1):.6g}, "mode": "{m.mode}", "colors": '
        f'{m.ncolors}, "cost": "{m.cost_text}", "source": "{m.source}"}}'
        for m in matrices
    )
    return "{" + entries + "}"


#: The largest index a module's int32 index constants hold.
INT32_MAX = 2**31 - 1


def index_literal(values: np.ndarray) -> str:
    """`_index([...])`: a read-only int32 array as compact source, several numbers a line (the
    module template shields it from black)."""
    if values.size and int(values.max()) > INT32_MAX:
        raise DiffgenError(
            f"a sparse index of {int(values.max()):,} does not fit the module's int32 indices",
            "the index constants are int32, as scipy.sparse keeps them below 2**31",
            "use a smaller size",
        )
    if values.size <= 12:
        return f"_index({values.astype(int).tolist()!r})"
    rows = textwrap.wrap(", ".join(map(str, values.tolist())), width=88)
    return "_index([\n" + "".join(f"    {row}\n" for row in rows) + "])"


def constants(matrices: Sequence[SparseMatrix]) -> tuple[tuple[str, str, str], ...]:
    """The module constants of the sparse matrices: the CSR structure, the public coordinates
    of `<quantity>_values` (IPOPT's structure), and a colored evaluation's colors and gather."""
    found = []
    for m in matrices:
        p = m.prefix
        rows, cols = m.coordinates
        if m.quantity == "jacobian":
            found += [
                (cols, index_literal(m.cols),
                 "The column of each Jacobian nonzero, in CSR order: the csr_array's indices"),
                (f"_{p}_INDPTR", index_literal(m.indptr), "The Jacobian's CSR row pointers"),
                (rows, f"_rows(_{p}_INDPTR)", "The row of each Jacobian nonzero"),
            ]  # fmt: skip
        else:
            found += [
                ("_HESSIAN_INDICES", index_literal(m.cols),
                 "The column of each Hessian nonzero (both triangles), in CSR order"),
                (f"_{p}_INDPTR", index_literal(m.indptr), "The Hessian's CSR row pointers"),
                ("_HESSIAN_LOWER", index_literal(m.lower),
                 "Where the lower triangle's entries are among the Hessian's nonzeros"),
                (rows, "_index(_rows(_HESSIAN_INDPTR)[_HESSIAN_LOWER])",
                 "The row of each lower-triangle Hessian nonzero (IPOPT's hessianstructure)"),
                (cols, "_index(_HESSIAN_INDICES[_HESSIAN_LOWER])",
                 "The column of each lower-triangle Hessian nonzero"),
            ]  # fmt: skip
        if m.mode != "exact":
            product = {"column": "column", "row": "row", "symmetric": "column"}[m.mode]
            found += [
                (f"_{p}_COLORS", index_literal(m.colors),
                 f"The color of each {product} ({m.cost_text}); -1: in no seed"),
                (f"_{p}_GATHER", index_literal(m.gather),
                 "Where each nonzero is in the products, stacked color by color and flattened"),
            ]  # fmt: skip
    return tuple(found)
