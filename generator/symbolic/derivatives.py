"""Symbolic derivatives of traced expressions, built sparsely and guarded against blow-up.

Each entry is differentiated only by the symbols it contains: a sum is split into its terms and
each term is differentiated by its own free symbols, so the gradient of a sum of n local terms
costs O(n) derivatives rather than O(n^2). The Hessian is the Jacobian of the gradient, computed
for k >= j only and mirrored. Before any of it, `Derivatives.work` estimates the cost from the
traced expressions (`estimate_work`), so that a function whose derivatives would take minutes is
refused (the sympy backend) or handed to another reference route (references.py) in seconds.
Every quantity built is also guarded by its size (`MAX_NODES`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import sympy

from ..budget import phase, tick
from ..errors import DiffgenError
from ..operators import QUANTITIES, Rules
from .trace import Traced, trace

if TYPE_CHECKING:
    from ..model import Inspected

Expr = Any  # sympy is untyped
Row = dict[int, Expr]  # the nonzero entries of one row of a sparse matrix, by column

#: The most distinct subexpressions one quantity may have. A module of that size is ~100k lines;
#: beyond it black, import and compile take minutes, where jax or torch trace the same function
#: in milliseconds.
MAX_NODES = 400_000

#: The estimated work (`estimate_work`) past which the sympy backend refuses a function. One unit
#: is one node of a term differentiated by one of its symbols, about 30-100 µs of SymPy here:
#: 1,000,000 units is roughly a minute. The logistic loss of a 200 x 20 data matrix has
#: 3.7 million units for its Hessian; Rosenbrock's Hessian at n = 1000, 35,000.
MAX_WORK = 500_000
#: The work of one Jacobian nonzero beyond its derivative: contracted into the pushforward and
#: pullback, and through sympy.cse, whose time grows faster than linearly in the terms of a sum
#: (the pushforward of a dense 200 x 200 `A @ x` takes 50 s there).
NONZERO_WORK = 20


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
    if isinstance(expr, (sympy.sign, sympy.Heaviside, sympy.floor, sympy.ceiling)):
        return sympy.S.Zero  # zero wherever it exists: everywhere but at the jumps
    if isinstance(expr, sympy.Mod):  # p - q floor(p / q), differentiated between the jumps
        p, q = expr.args
        return derivative(p, symbol) - sympy.floor(p / q) * derivative(q, symbol)
    if isinstance(expr, (sympy.Max, sympy.Min)) and len(expr.args) == 2:
        first, second = expr.args
        wins = first >= second if isinstance(expr, sympy.Max) else first <= second
        return sympy.Piecewise(
            (derivative(first, symbol), wins), (derivative(second, symbol), True)
        )
    if isinstance(expr, sympy.Function) and len(expr.args) == 1:
        return outer_derivative(expr) * derivative(expr.args[0], symbol)
    return expr.diff(symbol)


@lru_cache(maxsize=64)
def _outer_template(function: Any) -> tuple[Expr, Expr]:
    """f'(u) of a one-argument SymPy function, on a placeholder u."""
    u = sympy.Dummy("u", real=True)
    return u, function(u).fdiff(1)


def outer_derivative(expr: Expr) -> Expr:
    """f'(a) for expr = f(a), built without re-evaluating f(a).

    `tanh(a).fdiff(1)` is `1 - tanh(a)**2` with tanh(a) evaluated again, which asks SymPy's
    assumptions about a (a quarter of a second for a sum of 200 products). The derivative is
    taken once on a placeholder and a substituted in without evaluation: the template is
    already in canonical form, so nothing is lost.
    """
    u, template = _outer_template(expr.func)
    with sympy.evaluate(False):
        return template.xreplace({u: expr.args[0]})


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
        tick()
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


def terms(expr: Expr) -> Iterable[Expr]:
    """The terms sparse differentiation treats one by one: through sums and constant factors."""
    if isinstance(expr, sympy.Add):
        for arg in expr.args:
            yield from terms(arg)
    elif isinstance(expr, sympy.Mul) and sum(not a.is_number for a in expr.args) == 1:
        yield from terms(next(a for a in expr.args if not a.is_number))
    else:
        yield expr


def estimate_work(outputs: Iterable[Expr], symbols: Iterable[Expr], order: int) -> int:
    """The cost of differentiating `outputs` `order` times, before doing it.

    Each term is differentiated once by each of the k symbols it contains, at a cost that grows
    with its size; its second derivatives k times more. So the estimate is the sum over terms of
    (distinct subexpressions) * k**order, plus NONZERO_WORK a nonzero of the Jacobian: linear
    for Rosenbrock's local terms, quadratic in n for a term that holds every element of x (a dot
    product inside a loss).
    """
    active = set(symbols)
    total = 0
    for output in outputs:
        output = sympy.sympify(output)
        if order:  # each Jacobian nonzero is printed and contracted (J dx, dy^T J) as well
            total += NONZERO_WORK * len(output.free_symbols & active)
        for term in terms(output):
            k = len(term.free_symbols & active)
            if k:
                total += dag_size([term]) * k**order
    return total


def rows_values(rows: Sequence[Row]) -> list[Expr]:
    return [value for row in rows for value in row.values()]


class Derivatives:
    """The derivatives of one traced function f: R^n -> R^m, each built on first use."""

    def __init__(self, outputs: Sequence[Expr], symbols: Sequence[Expr]) -> None:
        self.outputs = [sympy.sympify(e) for e in outputs]
        self.symbols = tuple(symbols)
        self.index = {symbol: k for k, symbol in enumerate(self.symbols)}
        self._work: dict[int, int] = {}

    def work(self, order: int) -> int:
        """The estimated work of derivatives up to `order` (`estimate_work`), cached."""
        if order not in self._work:
            self._work[order] = estimate_work(self.outputs, self.symbols, order)
        return self._work[order]

    @cached_property
    def jacobian(self) -> tuple[Row, ...]:
        """Row i holds the nonzero d y_i / d x_j."""
        rows = []
        with phase("sympy jacobian"):
            for i, output in enumerate(self.outputs):
                tick(f"row {i + 1}/{len(self.outputs)}")
                rows.append(sparse_gradient(output, self.symbols, self.index))
        guard("jacobian", rows_values(rows))
        return tuple(rows)

    @cached_property
    def hessian(self) -> tuple[Row, ...]:
        """Row j holds the nonzero d2 f / dx_j dx_k of a scalar f, from k >= j, mirrored."""
        (gradient,) = self.jacobian
        rows: list[Row] = [{} for _ in self.symbols]
        with phase("sympy hessian"):
            for j in range(len(self.symbols)):
                tick(f"row {j + 1}/{len(self.symbols)}")
                if j in gradient:
                    found = sparse_gradient(gradient[j], self.symbols, self.index)
                    for k, value in found.items():
                        if k >= j:
                            rows[j][k] = rows[k][j] = value
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
        return SYMBOLIC[name](self, dx, dy)

    def dense(self, name: str, dx: Sequence[Expr], dy: Sequence[Expr]) -> tuple[Expr, ...]:
        """One operator's result as a flat tuple of every entry, zeros included."""
        found = self.quantity(name, dx, dy)
        if "entries" in found:
            return tuple(found["entries"])
        rows = found["rows"]
        width = len(self.symbols)
        return tuple(row.get(j, sympy.S.Zero) for row in rows for j in range(width))


Tangent = Sequence[Expr]  # a symbolic tangent, flat: dx_0, dx_1, ...
#: Each quantity of the operator table from the derivatives of f, given symbolic tangents dx
#: and dy: `entries` (flat, C order) or the sparse `rows` of a matrix (the sympy family's rules).
SYMBOLIC: Rules[Callable[[Derivatives, Tangent, Tangent], dict[str, Any]]] = Rules(
    "the sympy derivatives", QUANTITIES
)


@SYMBOLIC.register("value")
def _value(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"entries": tuple(d.outputs)}


@SYMBOLIC.register("pushforward")
def _pushforward(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"entries": d.pushforward(dx)}


@SYMBOLIC.register("pullback")
def _pullback(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"entries": d.pullback(dy)}


@SYMBOLIC.register("derivative")
def _derivative(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"entries": tuple(row.get(0, sympy.S.Zero) for row in d.jacobian)}


@SYMBOLIC.register("gradient")
def _gradient(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"entries": tuple(d.jacobian[0].get(j, sympy.S.Zero) for j in range(len(d.symbols)))}


@SYMBOLIC.register("jacobian")
def _jacobian(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"rows": d.jacobian}


@SYMBOLIC.register("second_derivative")
def _second_derivative(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"entries": d.second_derivative}


@SYMBOLIC.register("hvp")
def _hvp(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"entries": d.hvp(dx)}


@SYMBOLIC.register("hessian")
def _hessian(d: Derivatives, dx: Tangent, dy: Tangent) -> dict[str, Any]:
    return {"rows": d.hessian}


@lru_cache(maxsize=4)
def symbolic_derivatives(inspected: Inspected) -> tuple[Traced, Derivatives]:
    """Trace the function once and prepare its derivatives in the active argument.

    Cached, so that the sympy backend and the exact references of the tests share the work.
    """
    name = inspected.target.function
    with phase(f"sympy trace of {name}"):
        traced = trace(inspected.function, [(arg.name, arg.spec) for arg in inspected.args])
    active = [arg.active for arg in inspected.args].index(True)
    outputs, symbols = traced.output.reshape(-1), traced.inputs[active].reshape(-1)
    return traced, Derivatives(list(outputs), list(symbols))
