"""The `sympy` backend: exact symbolic derivatives, emitted as straight-line code over floats.

The function is traced once with symbolic arrays (symbolic.py), differentiated sparsely
(derivatives.py), and each generated function's results are printed with their common
subexpressions eliminated (emit.py). The module imports numpy and math only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from ..errors import DiffgenError
from ..model import BackendPlan, ErrorModel
from ..operators import OPERATORS, TANGENTS, batch_of, order_of
from ..symbolic.derivatives import MAX_WORK, Derivatives, symbolic_derivatives
from ..symbolic.printer import OVERFLOWING, Result, emit, unpack

if TYPE_CHECKING:
    from ..model import FunctionPlan, Inspected, SparseMatrix

#: Emitted code evaluates the exact expressions in float64: each operation rounds once, and the
#: rounding errors add up along the expression and through cancellation; 64 eps of the scale
#: covers the examples' measured worst case (about 4 eps) with room for deeper expressions.
ERROR = ErrorModel(
    factor=64.0,
    exponents=(1.0, 1.0, 1.0),
    why="p = 1 for every order: the expressions are exact and only their float64 evaluation rounds",
    variants_exact=False,
)


@dataclass(frozen=True)
class SympyPlan(BackendPlan):
    """The sympy backend's plan: the statements of each function's body, by function name."""

    bodies: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def body(self, name: str) -> tuple[str, ...]:
        return dict(self.bodies)[name]


#: The dialect of emit.py in which a function of each flavour is printed: a private inner function
#: under a jax or torch outer is jax or torch code, which the outer differentiates again.
DIALECT = {"numpy": "math", "jax": "jax", "torch": "torch"}


def columns(name: str, symbols: list[Any], batch: int) -> str:
    """`dx_0, dx_1 = dxs.reshape(B, -1).T`: a batch of tangents as one column per element."""
    targets = ", ".join(map(str, symbols)) if len(symbols) > 1 else f"({symbols[0]},)"
    return f"{targets} = {name}.reshape({batch}, -1).T"


def tangent(name: str, like: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    flat = [sympy.Symbol(f"{name}_{k}", real=True) for k in range(like.size)]
    return np.array(flat, dtype=object).reshape(like.shape)


def refuse_large(inspected: Inspected, work: int) -> None:
    """Refuse, before differentiating, a function whose derivatives would take minutes."""
    if work > MAX_WORK:
        raise DiffgenError(
            f"the sympy derivatives of {inspected.target.function} would take about {work:,}"
            f" units of work (estimated on the traced expressions), past the limit of"
            f" {MAX_WORK:,} (about a minute)",
            "a symbolic derivative is differentiated term by term, each term by every element"
            " of x it holds: a term holding all n elements (a dot product X @ w inside a loss, a"
            " dense A @ x) costs n times more for the gradient and n**2 for the Hessian, and the"
            " code would be as large",
            "use the jax or torch backend (--backend jax:reverse, or torch:reverse; --outer"
            " jax:forward or torch:forward for second order), which differentiate the operations"
            " of the function instead of its expanded expressions",
        )


def nonzeros(d: Derivatives, matrix: SparseMatrix) -> tuple[Any, ...]:
    """A sparse matrix's entries in its pattern's order: only those are printed, straight into
    the values. A nonzero derivative outside the pattern (a user's pattern that misses one)
    is refused: the module would return a wrong matrix."""
    rows = d.jacobian if matrix.quantity == "jacobian" else d.hessian
    inside = set(zip(matrix.rows.tolist(), matrix.cols.tolist(), strict=True))
    missed = [(i, j) for i, row in enumerate(rows) for j in row if (i, j) not in inside]
    if missed:
        i, j = missed[0]
        raise DiffgenError(
            f"the sparsity pattern of the {matrix.quantity} misses {len(missed)} entries that"
            f" are not zero, the first at ({i}, {j})",
            f"the pattern is {matrix.source}, and the symbolic derivative has a nonzero"
            " expression there, so the sparse matrix would be wrong",
            "add the entries to the pattern file, or drop --sparsity to have the pattern"
            " detected",
        )
    return tuple(rows[i].get(j, sympy.S.Zero) for i, j in inside_order(matrix))


def inside_order(matrix: SparseMatrix) -> list[tuple[int, int]]:
    return list(zip(matrix.rows.tolist(), matrix.cols.tolist(), strict=True))


class Sympy:
    """Exact derivatives by SymPy, printed as math-on-floats code; imports numpy and math only."""

    name = "sympy"
    summary = "exact symbolic derivatives (SymPy), emitted as straight-line code"
    flavour = "numpy"
    #: its expressions print as math, jax or torch code
    operators: tuple[str, ...] = tuple(OPERATORS)

    def plan(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], outer: str
    ) -> BackendPlan:
        traced, d = symbolic_derivatives(inspected)
        refuse_large(inspected, d.work(order_of(r.name for f in functions for r in f.results)))
        active = [arg.active for arg in inspected.args].index(True)
        symbols = {arg.name: traced.inputs[i] for i, arg in enumerate(inspected.args)}
        shaped = {"x": traced.inputs[active], "y": traced.output}
        symbols.update({kind: tangent(kind, shaped[like]) for kind, like in TANGENTS.items()})
        batches_of = {batch_of(kind): kind for kind in TANGENTS}  # dxs: a batch of dx
        names = {str(s) for array in symbols.values() for s in array.reshape(-1)}
        clash = sorted(names & {arg.name for arg in inspected.args})
        if clash:
            raise DiffgenError(
                f"parameter {clash[0]!r} has the name of an element of another argument",
                "the sympy backend names elements NAME_INDEX (x_0, x_1, ...) in its code",
                f"rename {clash[0]!r} in {inspected.target.function}",
            )
        dx, dy = (list(symbols[kind].reshape(-1)) for kind in TANGENTS)
        bodies: list[tuple[str, tuple[str, ...]]] = []
        constants, uses_math, temporaries, batches = {}, False, 0, False
        overflow: set[str] = set()
        like = str(traced.inputs[active].reshape(-1)[0])  # torch's constants follow x
        plain = {f.name for f in functions}
        for f in functions:
            dialect = DIALECT[f.flavour]
            if f.results[0].values and f.operator in plain:  # the plain operator's nonzeros
                args = ", ".join(p.name for p in f.params)
                bodies.append((f.name, (f"_{f.operator} = {f.operator}({args}).data",)))
                continue
            results = [
                (
                    Result(r.name, (r.sparse.nnz,), r.dtype, False, entries=nonzeros(d, r.sparse))
                    if r.sparse
                    else Result(
                        r.name, r.spec.shape, r.dtype, r.scalar, **d.quantity(r.name, dx, dy)
                    )
                )
                for r in f.results
            ]
            emitted = emit(results, dialect, like, f.batch)
            unpacked = tuple(
                (
                    unpack(dialect, p.name, list(symbols[p.name].reshape(-1)), p.scalar)
                    if p.name in symbols
                    else columns(p.name, list(symbols[batches_of[p.name]].reshape(-1)), f.batch)
                )
                for p in f.params
            )
            batches |= f.batch > 0
            bodies.append((f.name, unpacked + emitted.lines))
            constants.update({c[0]: c for c in emitted.constants})
            uses_math |= emitted.uses_math
            overflow.update(emitted.helpers)
            temporaries += sum(line.startswith("_t") for line in emitted.lines)
        return SympyPlan(
            template="sympy.py.jinja",
            stdlib=(),
            imports=("import math",) if uses_math else (),
            constants=tuple(constants[name] for name in sorted(constants)),
            helpers=tuple(name for name in OVERFLOWING if name in overflow)
            + ("frozen",) * bool(constants)
            + ("batched",) * batches,
            description=(
                "Exact derivatives by SymPy, differentiated sparsely and printed as straight-line"
                " float64 code with common subexpressions eliminated across each function's"
                f" results ({temporaries} temporaries in all). Inputs are unpacked to Python"
                " floats and evaluated with math, which beats numpy's per-call overhead on"
                " scalar code; results are assembled into numpy arrays."
            ),
            error=ERROR,
            results_ready=True,
            bodies=tuple(bodies),
        )
