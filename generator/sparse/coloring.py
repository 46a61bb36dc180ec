"""Colorings of sparsity patterns, and where each nonzero is read from the compressed matrix.

Columns of a Jacobian J (m x n) that share no row can be seeded together: with S (n x c) the
0/1 matrix of a column coloring, one JVP per color gives B = J S (m x c), and J[i, j] is B[i,
color(j)]. Rows that share no column likewise: one VJP per color of a row coloring gives
B = S^T J (c x n), and J[i, j] = B[color(i), j]. Both are greedy partial distance-2 colorings of
the bipartite graph of J (Gebremedhin, Manne & Pothen, "What color is your Jacobian? Graph
coloring for computing derivatives", SIAM Review 47(4), 2005, Sec. 3); `color_jacobian` computes
both and keeps the one with fewer colors (columns on a tie: a JVP is the cheaper product).

A symmetric Hessian H takes a star coloring of its adjacency graph (same paper, Sec. 4): a
distance-1 coloring in which every path on four vertices uses at least three colors. With
B = H S (one HVP per color), every H[i, j] is read directly: B[i, color(j)] when j is i's only
neighbour of that color, else B[j, color(i)] (a star coloring makes one of the two unique, or
the path k-i-j-l would be two-colored). An arrowhead Hessian takes 2 colors, a tridiagonal 3,
where a distance-2 coloring would take n and 3.

Every coloring here is deterministic: the vertex orders are stable sorts, colors first-fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse

from ..errors import DiffgenError
from .pattern import Indices, Pattern

Mode = Literal["column", "row", "symmetric"]
Order = Literal["natural", "largest_first", "smallest_last"]
#: The orders tried by default: the coloring with fewer colors is kept, the first on a tie.
ORDERS: tuple[Order, ...] = ("natural", "largest_first", "smallest_last")
#: Bipartite graphs whose column-intersection graph would have more entries than this get
#: their largest-first degrees bounded (pairs counted once per shared row), not counted exactly.
EXACT_DEGREE_LIMIT = 20_000_000
_PRODUCT = {"column": "JVP", "row": "VJP", "symmetric": "HVP"}


def _frozen(values: npt.ArrayLike) -> Indices:
    array = np.array(values, dtype=np.int64).reshape(-1)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Coloring:
    """A coloring of a pattern and the decompression indices a generated module ships.

    `colors[k]` is the color of column k (mode column or symmetric) or row k (mode row), -1
    for one with no nonzero (it is in no seed). The compressed matrix B is m x ncolors (column,
    symmetric) or ncolors x n (row); the k-th nonzero of the pattern, in the pattern's order,
    is B[compressed_rows[k], compressed_cols[k]].
    """

    pattern: Pattern
    mode: Mode
    order: Order
    colors: Indices
    ncolors: int
    compressed_rows: Indices
    compressed_cols: Indices

    @property
    def compressed_shape(self) -> tuple[int, int]:
        """The shape of B: (m, ncolors), or (ncolors, n) for a row coloring."""
        m, n = self.pattern.shape
        return (self.ncolors, n) if self.mode == "row" else (m, self.ncolors)

    @property
    def dense_products(self) -> int:
        """How many products the dense matrix takes: n JVPs or HVPs, or m VJPs."""
        m, n = self.pattern.shape
        return m if self.mode == "row" else n

    def seeds(self, dtype: npt.DTypeLike = np.float64) -> npt.NDArray[np.generic]:
        """S: one 0/1 column per color, (n, ncolors), or (m, ncolors) for a row coloring."""
        seeds = np.zeros((self.colors.size, self.ncolors), dtype=dtype)
        used = self.colors >= 0
        seeds[np.flatnonzero(used), self.colors[used]] = 1
        return seeds

    def decompress(self, compressed: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """The nonzeros' values, in the pattern's order, gathered from B."""
        if compressed.shape != self.compressed_shape:
            raise ValueError(f"B is {compressed.shape}, not {self.compressed_shape}")
        return compressed[self.compressed_rows, self.compressed_cols]

    def flat_indices(self) -> Indices:
        """The nonzeros' positions in the products stacked color by color and flattened: one
        gather, `values = products.reshape(-1)[FLAT]`, from the ncolors x m JVPs (vmapped
        over the seeds), ncolors x n VJPs, or ncolors x n HVPs."""
        if self.mode == "row":
            return _frozen(self.compressed_rows * self.pattern.shape[1] + self.compressed_cols)
        return _frozen(self.compressed_cols * self.pattern.shape[0] + self.compressed_rows)

    def describe(self) -> str:
        """`star coloring, 3 HVPs instead of 10000`: what a docstring or the CLI says."""
        kind = "star" if self.mode == "symmetric" else self.mode
        product = _PRODUCT[self.mode]
        return (
            f"{kind} coloring, {self.ncolors} {product}{'s' * (self.ncolors != 1)} instead of "
            f"{self.dense_products}"
        )


def _groups(keys: Indices, values: Indices, count: int) -> list[list[int]]:
    """values grouped by key (0 <= key < count), each group in ascending order."""
    order = np.lexsort((values, keys))
    bounds = np.searchsorted(keys[order], np.arange(count + 1)).tolist()
    ordered = values[order].tolist()
    return [ordered[bounds[k] : bounds[k + 1]] for k in range(count)]


def _intersection(pattern: Pattern) -> scipy.sparse.csr_array | None:
    """The column intersection graph (columns sharing a row), without loops; None past
    EXACT_DEGREE_LIMIT entries."""
    csr = pattern.to_csr().astype(np.int64)
    if float((np.diff(csr.indptr).astype(np.float64) ** 2).sum()) > EXACT_DEGREE_LIMIT:
        return None
    shared = scipy.sparse.csr_array(csr.T @ csr)
    shared.setdiag(0)
    shared.eliminate_zeros()
    return shared


def _smallest_last(graph: scipy.sparse.csr_array) -> list[int]:
    """Matula & Beck's smallest-last order (J. ACM 30(3), 1983): the vertices removed one of
    least remaining degree at a time, in reverse. Ties go to the vertex whose degree changed
    last, so removal sweeps a grid front by front (5 colors for a 5-point stencil's columns)."""
    indptr, indices = graph.indptr.tolist(), graph.indices.tolist()
    degree = np.diff(graph.indptr).tolist()
    buckets: list[dict[int, None]] = [{} for _ in range(max(degree, default=0) + 1)]
    for v, d in enumerate(degree):
        buckets[d][v] = None
    removed = [False] * len(degree)
    lowest, order = 0, []
    for _ in range(len(degree)):
        while not buckets[lowest]:
            lowest += 1
        v = next(reversed(buckets[lowest]))
        del buckets[lowest][v]
        removed[v] = True
        order.append(v)
        for w in indices[indptr[v] : indptr[v + 1]]:
            if not removed[w]:
                del buckets[degree[w]][w]
                degree[w] -= 1
                buckets[degree[w]][w] = None
        lowest = max(lowest - 1, 0)
    return order[::-1]


def _vertex_order(graph: scipy.sparse.csr_array | None, degree: Indices, order: Order) -> list[int]:
    """The order to color vertices in; largest-first is a stable sort by decreasing degree."""
    if order == "natural":
        return list(range(degree.size))
    if order == "smallest_last" and graph is not None:
        return _smallest_last(graph)
    largest_first: list[int] = np.argsort(-degree, kind="stable").tolist()
    return largest_first


def _column_order(pattern: Pattern, order: Order) -> list[int]:
    """The columns' order, with degrees in the column intersection graph; past its size limit,
    degrees bounded by counting a column once per shared row, and largest-first for
    smallest-last."""
    n = pattern.shape[1]
    graph = None if order == "natural" else _intersection(pattern)
    if graph is not None:
        degree = np.diff(graph.indptr)
    else:
        row_length = np.bincount(pattern.rows, minlength=pattern.shape[0])
        degree = np.bincount(pattern.cols, weights=row_length[pattern.rows] - 1, minlength=n)
    return _vertex_order(graph, degree.astype(np.int64), order)


def _partial_distance2(pattern: Pattern, order: Order) -> Indices:
    """First-fit colors of the columns such that no two of one color share a row."""
    m, n = pattern.shape
    if n and np.bincount(pattern.rows, minlength=m).max(initial=0) == n:
        return _frozen(np.arange(n))  # a full row: n colors are needed, and one each is optimal
    column_rows = _groups(pattern.cols, pattern.rows, n)
    row_colors: list[set[int]] = [set() for _ in range(m)]
    colors = [-1] * n
    for j in _column_order(pattern, order):
        rows = column_rows[j]
        if not rows:
            continue
        forbidden = set().union(*(row_colors[r] for r in rows))
        color = 0
        while color in forbidden:
            color += 1
        colors[j] = color
        for r in rows:
            row_colors[r].add(color)
    return _frozen(colors)


def _coloring(pattern: Pattern, mode: Mode, order: Order, colors: Indices) -> Coloring:
    ncolors = int(colors.max(initial=-1)) + 1
    if mode == "row":
        rows, cols = colors[pattern.rows], pattern.cols
    else:
        rows, cols = pattern.rows, colors[pattern.cols]
    return Coloring(pattern, mode, order, colors, ncolors, _frozen(rows), _frozen(cols))


def _best(candidates: list[Coloring]) -> Coloring:
    return min(candidates, key=lambda coloring: coloring.ncolors)  # the first on a tie


def color_jacobian(
    pattern: Pattern,
    mode: Literal["auto", "column", "row"] = "auto",
    orders: tuple[Order, ...] = ORDERS,
) -> Coloring:
    """A column (forward, JVPs) or row (reverse, VJPs) coloring of a Jacobian pattern.

    `auto` keeps the mode with fewer colors, columns on a tie; for each mode the order with
    fewer colors among `orders` is kept, the first on a tie.
    """
    candidates: list[Coloring] = []
    if mode in ("auto", "column"):
        candidates.append(
            _best([_coloring(pattern, "column", o, _partial_distance2(pattern, o)) for o in orders])
        )
    if mode in ("auto", "row"):
        transposed = pattern.transpose()
        colorings = [
            _coloring(pattern, "row", o, _partial_distance2(transposed, o)) for o in orders
        ]
        candidates.append(_best(colorings))
    return _best(candidates)


def _star(adjacency: list[list[int]], present: list[bool], order: list[int]) -> Indices:
    """Greedy first-fit star coloring, keeping the colored vertices' subgraph star-colored.

    A new two-colored path on four vertices must contain v, the vertex being colored: either at
    an end, v-w-x-y with color(v) = color(x), color(w) = color(y), which `hubs[w]` (the colors of
    colored neighbours x of w that have another neighbour y of w's color) forbids; or inside,
    u-v-w-x with color(u) = color(w), color(v) = color(x), which forbidding every color around
    two same-colored neighbours u, w of v prevents. Each update costs a vertex's degree.
    """
    n = len(adjacency)
    colors = [-1] * n
    counts: list[dict[int, int]] = [{} for _ in range(n)]  # colored neighbours by color
    first: list[dict[int, int]] = [{} for _ in range(n)]  # the first of them by color
    hubs: list[set[int]] = [set() for _ in range(n)]
    for v in order:
        if not present[v]:
            continue
        forbidden: set[int] = set()
        by_color: dict[int, list[int]] = {}
        for w in adjacency[v]:
            if colors[w] >= 0:
                forbidden.add(colors[w])
                forbidden |= hubs[w]
                by_color.setdefault(colors[w], []).append(w)
        for same in by_color.values():
            if len(same) > 1:
                for w in same:
                    forbidden.update(counts[w])
        color = 0
        while color in forbidden:
            color += 1
        colors[v] = color
        for x in adjacency[v]:
            count = counts[x][color] = counts[x].get(color, 0) + 1
            if count == 1:
                first[x][color] = v
            elif colors[x] >= 0:
                hubs[v].add(colors[x])
                if count == 2:
                    hubs[first[x][color]].add(colors[x])
        for w in adjacency[v]:
            if colors[w] >= 0 and counts[v].get(colors[w], 0) > 1:
                hubs[w].add(color)
    return _frozen(colors)


def _star_coloring(pattern: Pattern, order: Order) -> Coloring:
    n = pattern.shape[0]
    off = pattern.rows != pattern.cols
    rows, cols = pattern.rows[off], pattern.cols[off]
    adjacency = _groups(rows, cols, n)
    present = [False] * n
    for k in np.union1d(pattern.rows, pattern.cols).tolist():
        present[k] = True
    graph = scipy.sparse.csr_array((np.ones(rows.size, np.int8), (rows, cols)), shape=(n, n))
    degree = np.bincount(rows, minlength=n).astype(np.int64)
    colors = _star(adjacency, present, _vertex_order(graph, degree, order))
    ncolors = int(colors.max(initial=-1)) + 1
    # B[i, color(j)] if j is i's only neighbour of color(j), else B[j, color(i)]
    keys = rows * max(ncolors, 1) + colors[cols]
    unique, counts = np.unique(keys, return_counts=True)
    alone = counts[np.searchsorted(unique, keys)] == 1
    compressed_rows = pattern.rows.copy()
    compressed_cols = colors[pattern.cols].copy()
    where = np.flatnonzero(off)
    compressed_rows[where[~alone]] = cols[~alone]
    compressed_cols[where[~alone]] = colors[rows[~alone]]
    return Coloring(
        pattern,
        "symmetric",
        order,
        colors,
        ncolors,
        _frozen(compressed_rows),
        _frozen(compressed_cols),
    )


def color_hessian(pattern: Pattern, orders: tuple[Order, ...] = ORDERS) -> Coloring:
    """A star coloring of a symmetric pattern, for one HVP per color and direct decompression.

    The order with fewer colors among `orders` is kept, the first on a tie.
    """
    if not pattern.is_symmetric():
        m, n = pattern.shape
        raise DiffgenError(
            f"a {m} x {n} pattern that is not symmetric cannot be colored as a Hessian",
            "a star coloring reads H[i, j] or H[j, i]: it needs both, so the pattern must equal "
            "its transpose",
            "symmetrize the pattern (Pattern.symmetrized) or color it as a Jacobian",
        )
    return _best([_star_coloring(pattern, order) for order in orders])
