"""Exact structural Jacobian and Hessian patterns of traced SymPy expressions, without
differentiating them.

One post-order walk over the expression DAG (each distinct subexpression once) computes, for
every node u, the set G(u) of active symbols that u depends on differentiably: the global
gradient pattern of u. The Hessian pattern is collected on the way, as the Hessian tracer of
SparseConnectivityTracer.jl does (Hill & Dalle, "Sparser, Better, Faster, Stronger: Efficient
Automatic Differentiation for Sparse Jacobians and Hessians", arXiv:2501.17737): a node adds the
pairs G(a) x G(b) where it is nonlinear, and nothing where it is linear. With H(u) the pairs
(i, j) at which d2u / dxi dxj is not structurally zero:

- a symbol: G = {its index} (the active argument's symbols only; a constant's symbols are {});
- a sum, |u|, max, min, `where` (Piecewise: its branches; a condition has derivative zero), and
  Mod(p, q) = p - q floor(p / q): G is the union, H the union of the operands' H (linear, or
  piecewise linear: their second derivative is zero wherever it exists);
- sign, floor, ceiling, Heaviside, comparisons and logic: G = H = {} (derivative zero between
  the jumps: what generator/derivatives.py, jax and torch compute);
- a product: the union, plus G(a) x G(b) for every two distinct factors a, b;
- a power and every other function (exp, sin, atan2, ...): the union G, plus G x G.

This is exact up to algebraic cancellation that SymPy's canonical form does not perform
(`(x + y)**2 - x**2 - 2*x*y` keeps the pair (x, y)): never an entry missed, and no entry that
the sympy backend's own derivative would not write as a nonzero expression.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import sympy

from .pattern import Pattern

#: A numpy object array of SymPy expressions, as `generator.symbolic.trace` returns them.
Exprs = npt.NDArray[np.object_]
Deps = frozenset[int]

EMPTY: Deps = frozenset()
#: Nodes whose derivative is zero wherever it exists.
_CONSTANT_PIECES = (
    sympy.sign,
    sympy.floor,
    sympy.ceiling,
    sympy.Heaviside,
    sympy.logic.boolalg.Boolean,  # relationals, And/Or/Not, true/false
)
#: Nodes that are linear, or piecewise linear, in each of their operands.
_LINEAR = (sympy.Add, sympy.Abs, sympy.Max, sympy.Min, sympy.Mod, sympy.Piecewise)


_KINDS: dict[type, str] = {}


def _kind(node: Any) -> str:
    """How a node passes derivatives on: constant, linear, product or nonlinear (by its type)."""
    node_type: type = type(node)
    kind = _KINDS.get(node_type)
    if kind is None:
        if issubclass(node_type, _CONSTANT_PIECES) and not issubclass(node_type, sympy.Symbol):
            kind = "constant"
        elif issubclass(node_type, _LINEAR):
            kind = "linear"
        else:
            kind = "product" if issubclass(node_type, sympy.Mul) else "nonlinear"
        _KINDS[node_type] = kind
    return kind


def _operands(node: Any) -> tuple[Any, ...]:
    """The operands a derivative of `node` flows through."""
    if not node.args or _kind(node) == "constant":
        return ()
    if isinstance(node, sympy.Piecewise):
        return tuple(branch.expr for branch in node.args)
    return tuple(node.args)


class _Walk:
    """One walk over a DAG: gradient patterns by node, and the products that make the Hessian."""

    def __init__(self, symbols: Exprs) -> None:
        self.index: dict[Any, int] = {s: k for k, s in enumerate(symbols.reshape(-1))}
        self.deps: dict[Any, Deps] = {}
        self.products: set[tuple[Deps, Deps]] = set()

    def of(self, root: Any) -> Deps:
        """G(root), walking the nodes not yet seen, deepest first and without recursion."""
        if not isinstance(root, sympy.Basic):
            return EMPTY
        deps = self.deps
        stack: list[tuple[Any, tuple[Any, ...] | None]] = [(root, None)]
        while stack:
            node, operands = stack.pop()
            if operands is None:  # first visit: its operands first
                if node not in deps:
                    operands = _operands(node)
                    stack.append((node, operands))
                    stack.extend((op, None) for op in operands if op not in deps)
            elif node not in deps:
                deps[node] = self._combine(node, [deps[op] for op in operands])
        return deps[root]

    def _combine(self, node: Any, parts: list[Deps]) -> Deps:
        if not parts:
            return frozenset((self.index[node],)) if node in self.index else EMPTY
        nonempty = [part for part in parts if part]
        if not nonempty:
            return EMPTY
        union = nonempty[0].union(*nonempty[1:]) if len(nonempty) > 1 else nonempty[0]
        kind = _kind(node)
        if kind == "product":
            self._cross(nonempty)
        elif kind == "nonlinear":  # a power or any other function
            self.products.add((union, union))
        return union

    def _cross(self, factors: list[Deps]) -> None:
        """G(a) x G(b) for all a != b, as G(a) x (union of the others), in O(factors) unions."""
        if len(factors) < 2:
            return
        before: list[Deps] = [EMPTY]
        for part in factors[:-1]:
            before.append(before[-1] | part)
        after: Deps = EMPTY
        for k in range(len(factors) - 1, -1, -1):
            self.products.add((factors[k], before[k] | after))
            after = after | factors[k]


def jacobian_pattern(output: Exprs, wrt: Exprs) -> Pattern:
    """The pattern of d output / d wrt, both flattened in C order: (output.size, wrt.size)."""
    walk = _Walk(wrt)
    rows: list[int] = []
    cols: list[int] = []
    for row, expr in enumerate(np.asarray(output, dtype=object).reshape(-1)):
        deps = walk.of(expr)
        rows.extend([row] * len(deps))
        cols.extend(deps)
    return Pattern.from_coo((output.size, wrt.size), rows, cols, "symbolic")


def hessian_pattern(output: Exprs, wrt: Exprs) -> Pattern:
    """The pattern of the Hessian of a scalar output by wrt (flattened), n x n and symmetric.

    For an output of several entries it is the union of their Hessians' patterns: the pattern
    of the Hessian of any weighted sum of them (a Lagrangian's, for a constraint function).
    """
    walk = _Walk(wrt)
    for expr in np.asarray(output, dtype=object).reshape(-1):
        walk.of(expr)
    rows: list[int] = []
    cols: list[int] = []
    blocks: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    for left, right in walk.products:
        if len(left) * len(right) <= 64:
            for i, j in itertools.product(left, right):
                rows += (i, j)
                cols += (j, i)
        else:
            a = np.fromiter(left, np.int64, len(left))
            b = np.fromiter(right, np.int64, len(right))
            blocks += [(np.repeat(a, b.size), np.tile(b, a.size))]
    row_parts = [np.array(rows, np.int64), *(r for r, _ in blocks), *(c for _, c in blocks)]
    col_parts = [np.array(cols, np.int64), *(c for _, c in blocks), *(r for r, _ in blocks)]
    n = wrt.size
    return Pattern.from_coo(
        (n, n), np.concatenate(row_parts), np.concatenate(col_parts), "symbolic"
    )
