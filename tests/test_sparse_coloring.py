"""Colorings of sparsity patterns (generator/sparse/coloring.py): known optima on the classic
structures, validity checked by brute force, and exact decompression of random matrices."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import DiffgenError
from generator.sparse import Coloring, Pattern, color_hessian, color_jacobian

SMALL = settings(max_examples=25, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip
LARGE = settings(max_examples=500, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip


def from_dense(mask: npt.ArrayLike) -> Pattern:
    return Pattern.from_matrix(np.asarray(mask, dtype=bool), "user")


def banded(n: int, k: int) -> Pattern:
    offsets = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    return from_dense(offsets <= k)


def arrowhead(n: int) -> Pattern:
    mask = np.eye(n, dtype=bool)
    mask[0, :] = mask[:, 0] = True
    return from_dense(mask)


def block_diagonal(blocks: int, size: int) -> Pattern:
    return from_dense(np.kron(np.eye(blocks), np.ones((size, size))))


def stencil(N: int) -> Pattern:
    """The 5-point Laplacian on an N x N grid (Dirichlet boundary), unknowns in C order."""
    line = banded(N, 1).to_dense().astype(int)
    eye = np.eye(N, dtype=int)
    return from_dense(np.kron(line, eye) + np.kron(eye, line))


def check_jacobian_coloring(coloring: Coloring) -> None:
    """No two rows (row mode) or columns (column mode) of one color share a column or row."""
    dense = coloring.pattern.to_dense()
    groups = dense if coloring.mode == "row" else dense.T  # one line per colored vertex
    for color in range(coloring.ncolors):
        members = groups[coloring.colors == color]
        assert (members.sum(axis=0) <= 1).all(), f"color {color} has a conflict"
    assert ((coloring.colors >= 0) == groups.any(axis=1)).all()


def check_star_coloring(coloring: Coloring) -> None:
    """A distance-1 coloring in which no path on four vertices has two colors (brute force)."""
    dense = coloring.pattern.to_dense()
    np.fill_diagonal(dense, False)
    colors = coloring.colors
    edges = list(zip(*np.nonzero(dense), strict=True))
    assert all(colors[i] != colors[j] for i, j in edges)
    neighbours = [np.flatnonzero(row).tolist() for row in dense]
    for i, j in edges:  # the middle edge of a path k-i-j-l
        for k in neighbours[i]:
            for l in neighbours[j]:  # noqa: E741
                if len({k, i, j, l}) == 4 and colors[k] == colors[j] and colors[l] == colors[i]:
                    raise AssertionError(f"the path {k}-{i}-{j}-{l} has two colors")


def random_values(pattern: Pattern, seed: int, symmetric: bool) -> npt.NDArray[np.float64]:
    """A matrix with random normal values exactly at the pattern's entries."""
    rng = np.random.default_rng(seed)
    matrix = np.zeros(pattern.shape)
    matrix[pattern.rows, pattern.cols] = rng.standard_normal(pattern.nnz)
    if symmetric:
        lower = np.tril(matrix)
        matrix = lower + np.tril(lower, -1).T
    return matrix


def check_decompression(coloring: Coloring, seed: int) -> None:
    """Compress a random matrix of the pattern with the seeds, decompress: bit-identical."""
    pattern = coloring.pattern
    matrix = random_values(pattern, seed, coloring.mode == "symmetric")
    seeds = coloring.seeds()
    compressed = seeds.T @ matrix if coloring.mode == "row" else matrix @ seeds
    values = coloring.decompress(compressed)
    np.testing.assert_array_equal(values, matrix[pattern.rows, pattern.cols], strict=True)
    products = compressed if coloring.mode == "row" else compressed.T  # one per color, stacked
    np.testing.assert_array_equal(products.reshape(-1)[coloring.flat_indices()], values)
    csr = scipy.sparse.csr_array((values, pattern.cols, pattern.indptr), shape=pattern.shape)
    np.testing.assert_array_equal(csr.toarray(), matrix)
    rebuilt = np.zeros(pattern.shape)
    rebuilt[pattern.rows, pattern.cols] = values
    np.testing.assert_array_equal(rebuilt, matrix)


# ----------------------------------------------------------------------------- known optima
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_banded_jacobian_takes_2k_plus_1_columns(k: int) -> None:
    coloring = color_jacobian(banded(60, k))
    assert (coloring.mode, coloring.ncolors) == ("column", 2 * k + 1)
    check_jacobian_coloring(coloring)
    check_decompression(coloring, k)


def test_tridiagonal_hessian_takes_3_colors_not_n() -> None:
    coloring = color_hessian(banded(1000, 1))
    assert (coloring.mode, coloring.ncolors) == ("symmetric", 3)
    assert coloring.describe() == "star coloring, 3 HVPs instead of 1000"
    check_star_coloring(color_hessian(banded(30, 1)))
    check_decompression(coloring, 0)


@pytest.mark.parametrize("n", [2, 3, 50, 2000])
def test_arrowhead_hessian_takes_2_colors(n: int) -> None:
    coloring = color_hessian(arrowhead(n))
    assert coloring.ncolors == 2
    assert coloring.colors.tolist() == [0] + [1] * (n - 1)
    check_decompression(coloring, n)
    if n <= 50:
        check_star_coloring(coloring)


def test_arrowhead_jacobian_needs_n_products_either_way() -> None:
    """A full row and a full column: no one-sided coloring beats n (bicoloring would)."""
    coloring = color_jacobian(arrowhead(40))
    assert (coloring.mode, coloring.ncolors) == ("column", 40)
    assert color_jacobian(arrowhead(40), mode="row").ncolors == 40
    check_decompression(coloring, 1)


def test_the_mode_with_fewer_colors_is_chosen_and_can_be_forced() -> None:
    n = 30
    full_row = np.eye(n, dtype=bool)
    full_row[-1, :] = True  # a constraint on all variables: reverse mode wins
    coloring = color_jacobian(from_dense(full_row))
    assert (coloring.mode, coloring.ncolors, coloring.compressed_shape) == ("row", 2, (2, n))
    assert coloring.describe() == "row coloring, 2 VJPs instead of 30"
    check_jacobian_coloring(coloring)
    check_decompression(coloring, 2)
    forced = color_jacobian(from_dense(full_row), mode="column")
    assert (forced.mode, forced.ncolors) == ("column", n)
    transposed = color_jacobian(from_dense(full_row.T))
    assert (transposed.mode, transposed.ncolors) == ("column", 2)
    tie = color_jacobian(banded(10, 1))
    assert tie.mode == "column"  # a tie goes to JVPs


@pytest.mark.parametrize("size", [1, 2, 4, 7])
def test_block_diagonal_takes_the_block_size(size: int) -> None:
    pattern = block_diagonal(12, size)
    jacobian, hessian = color_jacobian(pattern), color_hessian(pattern)
    assert (jacobian.ncolors, hessian.ncolors) == (size, size)
    check_jacobian_coloring(jacobian)
    check_star_coloring(hessian)
    check_decompression(jacobian, size)
    check_decompression(hessian, size)


@pytest.mark.parametrize("N", [8, 9, 20, 21])
def test_five_point_stencil_takes_5_colors(N: int) -> None:
    """5 is optimal for both: a row has 5 entries, and a grid's star chromatic number is 5
    (Fertin, Raspaud & Reed, J. Graph Theory 47(3), 2004). Greedy star coloring reaches it
    on even grids and takes 6 on odd ones (a heuristic: optimal coloring is NP-hard)."""
    pattern = stencil(N)
    jacobian, hessian = color_jacobian(pattern), color_hessian(pattern)
    assert jacobian.ncolors == 5
    assert jacobian.order == "smallest_last"  # natural and largest-first take 7
    assert color_jacobian(pattern, orders=("natural",)).ncolors == 7
    assert hessian.ncolors == (5 if N % 2 == 0 else 6)
    check_jacobian_coloring(jacobian)
    check_star_coloring(hessian)
    check_decompression(jacobian, N)
    check_decompression(hessian, N)


def test_diagonal_and_empty_patterns() -> None:
    diagonal = color_hessian(from_dense(np.eye(5)))
    assert (diagonal.ncolors, diagonal.colors.tolist()) == (1, [0] * 5)
    empty = Pattern.from_coo((3, 4), [], [], "user")
    coloring = color_jacobian(empty)
    assert (coloring.ncolors, coloring.colors.tolist()) == (0, [-1] * 4)
    assert coloring.seeds().shape == (4, 0)
    assert coloring.decompress(np.zeros((3, 0))).shape == (0,)
    gap = np.eye(4, dtype=bool)
    gap[2, 2] = False  # a variable the function does not depend on: in no seed
    assert color_hessian(from_dense(gap)).colors.tolist() == [0, 0, -1, 0]


def test_coloring_is_deterministic_and_read_only() -> None:
    pattern = stencil(9)
    first, second = color_hessian(pattern), color_hessian(pattern)
    assert first.colors.tolist() == second.colors.tolist()
    assert first.compressed_rows.tolist() == second.compressed_rows.tolist()
    with pytest.raises(ValueError, match="read-only"):
        first.colors[0] = 3


def test_decompress_checks_the_compressed_shape() -> None:
    coloring = color_hessian(banded(6, 1))
    with pytest.raises(ValueError, match=r"B is \(6, 2\), not \(6, 3\)"):
        coloring.decompress(np.zeros((6, 2)))


def test_a_non_symmetric_pattern_is_refused_as_a_hessian() -> None:
    with pytest.raises(DiffgenError) as error:
        color_hessian(from_dense(np.triu(np.ones((4, 4)))))
    assert error.value.what == (
        "a 4 x 4 pattern that is not symmetric cannot be colored as a Hessian"
    )


def test_orders_are_compared_and_the_fewest_colors_kept() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((80, 80)) < 0.05
    pattern = from_dense(mask | mask.T | np.eye(80, dtype=bool))
    each = {o: color_hessian(pattern, orders=(o,)).ncolors for o in ("natural", "largest_first")}
    each["smallest_last"] = color_hessian(pattern, orders=("smallest_last",)).ncolors
    assert color_hessian(pattern).ncolors == min(each.values())


# ---------------------------------------------------------------------------- random patterns
@st.composite
def patterns(draw: st.DrawFn) -> tuple[npt.NDArray[np.bool_], int]:
    """A random square mask: banded, block, arrow or scattered pieces, unioned; and a seed."""
    n = draw(st.integers(1, 24))
    mask = np.zeros((n, n), dtype=bool)
    for kind in draw(st.lists(st.sampled_from(["band", "block", "arrow", "random"]), max_size=3)):
        if kind == "band":
            lo, hi = draw(st.integers(0, 3)), draw(st.integers(0, 3))
            offsets = np.subtract.outer(np.arange(n), np.arange(n))
            mask |= (offsets <= lo) & (offsets >= -hi)
        elif kind == "block":
            size = draw(st.integers(1, n))
            mask |= np.kron(np.eye(-(-n // size)), np.ones((size, size)))[:n, :n] > 0
        elif kind == "arrow":
            k = draw(st.integers(0, n - 1))
            mask[k, :] |= draw(st.booleans())
            mask[:, k] |= draw(st.booleans())
        else:
            density = draw(st.floats(0.0, 0.3))
            seed = draw(st.integers(0, 2**16))
            mask |= np.random.default_rng(seed).random((n, n)) < density
    return mask, draw(st.integers(0, 2**16))


def check_random(mask: npt.NDArray[np.bool_], seed: int) -> None:
    jacobian = color_jacobian(from_dense(mask))
    check_jacobian_coloring(jacobian)
    check_decompression(jacobian, seed)
    other = color_jacobian(from_dense(mask), mode="row" if jacobian.mode == "column" else "column")
    assert other.ncolors >= jacobian.ncolors
    check_decompression(other, seed)
    hessian = color_hessian(from_dense(mask | mask.T))
    check_star_coloring(hessian)
    check_decompression(hessian, seed)


@SMALL
@given(case=patterns())
def test_random_patterns_color_validly_and_decompress_exactly(
    case: tuple[npt.NDArray[np.bool_], int],
) -> None:
    check_random(*case)


@pytest.mark.fuzz
@LARGE
@given(case=patterns())
def test_random_patterns_color_validly_and_decompress_exactly_many(
    case: tuple[npt.NDArray[np.bool_], int],
) -> None:
    check_random(*case)


def test_every_three_by_three_pattern() -> None:
    """All 512 Jacobian patterns of a 3 x 3 matrix and all 64 symmetric ones, exhaustively."""
    for bits in itertools.product([False, True], repeat=9):
        mask = np.array(bits).reshape(3, 3)
        jacobian = color_jacobian(from_dense(mask))
        check_jacobian_coloring(jacobian)
        check_decompression(jacobian, sum(bits))
        if (mask == mask.T).all():
            hessian = color_hessian(from_dense(mask))
            check_star_coloring(hessian)
            check_decompression(hessian, sum(bits))
