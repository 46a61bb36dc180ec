"""Symbolic derivatives of traced expressions, built sparsely and guarded against blow-up.

Each entry is differentiated only by the symbols it contains: a sum is split into its terms and
each term is differentiated by its own free symbols, so the gradient of a sum of n local terms
costs O(n) derivatives rather than O(n^2). The Hessian is the Jacobian of the gradient, computed
for k >= j only and mirrored. Every quantity is guarded by its size (`MAX_NODES`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import sympy

from .errors import DiffgenError
from .symbolic import Traced, trace

if TYPE_CHECKING:
    from .inspect_target import Inspected

Expr = Any  # sympy is untyped
Row = dict[int, Expr]  # the nonzero entries of one row of a sparse matrix, by column

#: The most distinct subexpressions one quantity may have. A module of that size is ~100k lines;
#: beyond it black, import and compile take minutes, where jax or torch trace the same function
#: in milliseconds.
MAX_NODES = 400_000


def derivative(expr: Expr, symbol: Expr) -> Expr:
    """d expr / d symbol by the sum, product, power and chain rules on sympy's own nodes.

    About 8x faster than `expr.diff(symbol)`, whose Derivative machinery queries assumptions at
    every node. Kinks are differentiated where the derivative exists: sign and Heaviside have
    derivative zero, and max/min take the derivative of the argument that wins (as jax and torch
    do). Anything else (Piecewise, symbolic exponents) goes to `diff`.
    """
    if not isinstance(expr, sympy.Basic) or symbol not in expr.free_symbols:
        return sympy.S.Zero
    if expr.is_Symbol:
        return sympy.S.One
    if expr.is_Add:
        return sympy.Add(*(derivative(arg, symbol) for arg in expr.args))
    if expr.is_Mul:
        args = expr.args
        return sympy.Add(
            *(
                sympy.Mul(*args[:i], derivative(arg, symbol), *args[i + 1 :])
                for i, arg in enumerate(args)
                if symbol in arg.free_symbols
            )
        )
    if expr.is_Pow and expr.exp.is_Number:
        base, exponent = expr.args
        return exponent * base ** (exponent - 1) * derivative(base, symbol)
    if isinstance(expr, (sympy.sign, sympy.Heaviside)):
        return sympy.S.Zero  # zero wherever it exists: everywhere but at the jump
    if isinstance(expr, (sympy.Max, sympy.Min)) and len(expr.args) == 2:
        first, second = expr.args
        wins = first >= second if isinstance(expr, sympy.Max) else first <= second
        return sympy.Piecewise(
            (derivative(first, symbol), wins), (derivative(second, symbol), True)
        )
    if isinstance(expr, sympy.Function) and len(expr.args) == 1:
        return expr.fdiff(1) * derivative(expr.args[0], symbol)
    return expr.diff(symbol)


def sparse_gradient(expr: Expr, symbols: Sequence[Expr], index: dict[Expr, int]) -> Row:
    """The nonzero partial derivatives of expr by the indexed symbols, term by term."""
    terms = expr.args if isinstance(expr, sympy.Add) else (expr,)
    by_column: dict[int, list[Expr]] = {}
    for term in terms:
        for symbol in getattr(term, "free_symbols", ()):
            if symbol in index:
                by_column.setdefault(index[symbol], []).append(term)
    row = {}
    for k in sorted(by_column):
        partial = sympy.Add(*(derivative(term, symbols[k]) for term in by_column[k]))
        if partial != 0:
            row[k] = partial
    return row


def dag_size(exprs: Iterable[Expr]) -> int:
    """The number of distinct subexpressions: what common-subexpression elimination keeps."""
    seen: set[Expr] = set()
    stack = [e for e in exprs if isinstance(e, sympy.Basic)]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.args)
    return len(seen)


def guard(what: str, exprs: Iterable[Expr]) -> None:
    """Refuse expressions past MAX_NODES distinct subexpressions, naming the quantity."""
    size = dag_size(exprs)
    if size > MAX_NODES:
        raise DiffgenError(
            f"the sympy {what} has {size:,} distinct subexpressions, past the limit of"
            f" {MAX_NODES:,}",
            "symbolic derivatives can grow much faster than the function (a dense matrix"
            " product under a Hessian does), and code of that size takes minutes to format,"
            " import and compile",
            "use the jax or torch backend for this function, or ask for fewer operators",
        )


class Progress:
    """Report a long symbolic build on stderr, at most every two seconds."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total = what, total
        self.start = self.last = time.monotonic()

    def step(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last > 2.0:
            self.last = now
            elapsed = now - self.start
            print(
                f"diffgen: sympy {self.what}: {done}/{self.total} ({elapsed:.0f} s)",
                file=sys.stderr,
            )


def rows_values(rows: Sequence[Row]) -> list[Expr]:
    return [value for row in rows for value in row.values()]


class Derivatives:
    """The derivatives of one traced function f: R^n -> R^m, each built on first use."""

    def __init__(self, outputs: Sequence[Expr], symbols: Sequence[Expr]) -> None:
        self.outputs = [sympy.sympify(e) for e in outputs]
        self.symbols = tuple(symbols)
        self.index = {symbol: k for k, symbol in enumerate(self.symbols)}

    @cached_property
    def jacobian(self) -> tuple[Row, ...]:
        """Row i holds the nonzero d y_i / d x_j."""
        progress = Progress("jacobian rows", len(self.outputs))
        rows = []
        for i, output in enumerate(self.outputs):
            rows.append(sparse_gradient(output, self.symbols, self.index))
            progress.step(i + 1)
        guard("jacobian", rows_values(rows))
        return tuple(rows)

    @cached_property
    def hessian(self) -> tuple[Row, ...]:
        """Row j holds the nonzero d2 f / dx_j dx_k of a scalar f, from k >= j, mirrored."""
        (gradient,) = self.jacobian
        rows: list[Row] = [{} for _ in self.symbols]
        progress = Progress("hessian rows", len(self.symbols))
        for j in range(len(self.symbols)):
            if j in gradient:
                for k, value in sparse_gradient(gradient[j], self.symbols, self.index).items():
                    if k >= j:
                        rows[j][k] = rows[k][j] = value
            progress.step(j + 1)
        sorted_rows = tuple(dict(sorted(row.items())) for row in rows)
        guard("hessian", rows_values(sorted_rows))
        return sorted_rows

    @cached_property
    def second_derivative(self) -> tuple[Expr, ...]:
        """d2 y_i / dx2 for a scalar x."""
        (x,) = self.symbols
        second = tuple(derivative(row.get(0, sympy.S.Zero), x) for row in self.jacobian)
        guard("second derivative", second)
        return second

    def pushforward(self, dx: Sequence[Expr]) -> tuple[Expr, ...]:
        """J dx, contracted symbolically (J is never formed numerically)."""
        result = tuple(sympy.Add(*(v * dx[j] for j, v in row.items())) for row in self.jacobian)
        guard("pushforward", result)
        return result

    def pullback(self, dy: Sequence[Expr]) -> tuple[Expr, ...]:
        """dy^T J, contracted symbolically."""
        columns: list[list[Expr]] = [[] for _ in self.symbols]
        for i, row in enumerate(self.jacobian):
            for j, value in row.items():
                columns[j].append(dy[i] * value)
        result = tuple(sympy.Add(*terms) for terms in columns)
        guard("pullback", result)
        return result

    def hvp(self, dx: Sequence[Expr]) -> tuple[Expr, ...]:
        """H dx: the directional derivative of the gradient along dx."""
        result = tuple(sympy.Add(*(v * dx[k] for k, v in row.items())) for row in self.hessian)
        guard("hvp", result)
        return result

    def quantity(self, name: str, dx: Sequence[Expr], dy: Sequence[Expr]) -> dict[str, Any]:
        """One operator's result as `entries` (flat, C order) or sparse `rows` of a matrix."""
        n = len(self.symbols)
        if name == "value":
            return {"entries": tuple(self.outputs)}
        if name in ("jacobian", "hessian"):
            return {"rows": self.jacobian if name == "jacobian" else self.hessian}
        if name == "pushforward":
            return {"entries": self.pushforward(dx)}
        if name == "pullback":
            return {"entries": self.pullback(dy)}
        if name == "derivative":
            return {"entries": tuple(row.get(0, sympy.S.Zero) for row in self.jacobian)}
        if name == "gradient":
            return {"entries": tuple(self.jacobian[0].get(j, sympy.S.Zero) for j in range(n))}
        if name == "second_derivative":
            return {"entries": self.second_derivative}
        return {"entries": self.hvp(dx)}

    def dense(self, name: str, dx: Sequence[Expr], dy: Sequence[Expr]) -> tuple[Expr, ...]:
        """One operator's result as a flat tuple of every entry, zeros included."""
        found = self.quantity(name, dx, dy)
        if "entries" in found:
            return tuple(found["entries"])
        rows = found["rows"]
        width = len(self.symbols)
        return tuple(row.get(j, sympy.S.Zero) for row in rows for j in range(width))


@lru_cache(maxsize=4)
def symbolic_derivatives(inspected: Inspected) -> tuple[Traced, Derivatives]:
    """Trace the function once and prepare its derivatives in the active argument.

    Cached, so that the sympy backend and the exact references of the tests share the work.
    """
    traced = trace(inspected.function, [(arg.name, arg.spec) for arg in inspected.args])
    active = [arg.active for arg in inspected.args].index(True)
    outputs, symbols = traced.output.reshape(-1), traced.inputs[active].reshape(-1)
    return traced, Derivatives(list(outputs), list(symbols))
