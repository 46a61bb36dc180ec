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


def _operands(node: Any) -> tuple[Any, ...]:
    """The operands a derivative of `node` flows through."""
    if isinstance(node, _CONSTANT_PIECES) or not node.args:
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
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if node in self.deps:
                continue
            operands = _operands(node)
            if ready:
                self.deps[node] = self._combine(node, [self.deps[op] for op in operands])
            else:
                stack.append((node, True))
                stack.extend((op, False) for op in operands if op not in self.deps)
        return self.deps[root]

    def _combine(self, node: Any, parts: list[Deps]) -> Deps:
        if not parts:
            return frozenset((self.index[node],)) if node in self.index else EMPTY
        nonempty = [part for part in parts if part]
        if not nonempty:
            return EMPTY
        union = nonempty[0].union(*nonempty[1:]) if len(nonempty) > 1 else nonempty[0]
        if isinstance(node, _LINEAR):
            return union
        if isinstance(node, sympy.Mul):
            self._cross(nonempty)
        else:  # a power or any other function: nonlinear in everything it depends on
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


def _as_array(deps: Deps, cache: dict[Deps, npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    array = cache.get(deps)
    if array is None:
        array = cache[deps] = np.fromiter(sorted(deps), dtype=np.int64, count=len(deps))
    return array


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
    cache: dict[Deps, npt.NDArray[np.int64]] = {}
    rows: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)]
    cols: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)]
    for left, right in walk.products:
        a, b = _as_array(left, cache), _as_array(right, cache)
        rows += [np.repeat(a, b.size), np.tile(b, a.size)]
        cols += [np.tile(b, a.size), np.repeat(a, b.size)]
    n = wrt.size
    return Pattern.from_coo((n, n), np.concatenate(rows), np.concatenate(cols), "symbolic")
