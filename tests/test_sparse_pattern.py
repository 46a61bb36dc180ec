"""Sparsity detection (generator/sparse): exact and conservative on user-like functions with
known patterns, by the symbolic walk and by asdex's jaxpr route, and a user's .npz patterns."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse
from array_api_compat import array_namespace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import DiffgenError
from generator.sparse import Pattern, expressions, load_npz
from generator.spec import parse_spec
from generator.symbolic import trace
from generator.x64 import precise

SMALL = settings(max_examples=6, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip
LARGE = settings(max_examples=300, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip
Mask = npt.NDArray[np.bool_]
Specs = list[tuple[str, str]]
#: asdex runs where it is installed (the `jax` extra); the symbolic route always runs.
HAS_ASDEX = importlib.util.find_spec("asdex") is not None


# ------------------------------------------------------------------------- user-like functions
def rosenbrock(x: Any) -> Any:
    """The chained Rosenbrock function."""
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def shift(z: Any, s: int, axis: int) -> Any:
    """A periodic shift, as np.roll(z, s, axis) (the Array API subset has no roll)."""
    xp = array_namespace(z)
    n = z.shape[axis]
    s %= n
    head = z[n - s :] if axis == 0 else z[:, n - s :]
    tail = z[: n - s] if axis == 0 else z[:, : n - s]
    return xp.concat([head, tail], axis=axis)


def brusselator(t: Any, y: Any) -> Any:
    """The 2-D Brusselator's right-hand side on a periodic N x N grid: y = (u, v), (2, N, N)."""
    xp = array_namespace(y)
    u, v = y[0], y[1]

    def laplacian(z: Any) -> Any:
        return shift(z, 1, 0) + shift(z, -1, 0) + shift(z, 1, 1) + shift(z, -1, 1) - 4.0 * z

    du = 1.0 + u * u * v - 4.4 * u + 10.0 * laplacian(u) + 0.0 * t
    dv = 3.4 * u - u * u * v + 10.0 * laplacian(v)
    return xp.stack([du, dv])


def lorenz96(t: Any, y: Any, forcing: Any) -> Any:
    """dy_i = (y_{i+1} - y_{i-2}) y_{i-1} - y_i + F, periodic: a banded ODE rhs."""
    return (shift(y, -1, 0) - shift(y, 2, 0)) * shift(y, 1, 0) - y + forcing


def arrowhead_objective(x: Any) -> Any:
    """A scale x[0] fitted against every other variable, plus a regularizer."""
    xp = array_namespace(x)
    return xp.sum((x[0] * x[1:] - 1.0) ** 2) + 0.5 * xp.sum(x**2)


def arm(theta: Any, lengths: Any) -> Any:
    """The positions of every joint of a planar arm: (n, 2), joint k moved by angles 0..k."""
    xp = array_namespace(theta)
    angle, x, y, joints = 0.0 * theta[0], 0.0, 0.0, []
    for k in range(theta.shape[0]):
        angle = angle + theta[k]
        x = x + lengths[k] * xp.cos(angle)
        y = y + lengths[k] * xp.sin(angle)
        joints.append(xp.stack([x, y]))
    return xp.stack(joints)


def kinks(x: Any) -> Any:
    """Branches, floors, kinks: derivatives flow through values, never through conditions."""
    xp = array_namespace(x)
    return xp.stack(
        [
            xp.where(x[0] > 0.0, x[1], x[2]),
            xp.floor(x[3]) * x[4],
            xp.abs(x[5] - x[6]),
            xp.maximum(x[0] * x[1], x[7]),
        ]
    )


# ------------------------------------------------------------------------------- the routes
def parsed(specs: Specs) -> list[tuple[str, Any]]:
    return [(name, parse_spec(spec)) for name, spec in specs]


def symbolic(kind: str, function: Callable[..., Any], specs: Specs, wrt: int = 0) -> Pattern:
    traced = trace(function, parsed(specs))
    detect = expressions.hessian_pattern if kind == "hessian" else expressions.jacobian_pattern
    return detect(traced.output, traced.inputs[wrt])


def jaxpr(kind: str, function: Callable[..., Any], specs: Specs, wrt: int = 0) -> Pattern:
    from generator.sparse import jaxpr as route

    detect = route.hessian_pattern if kind == "hessian" else route.jacobian_pattern
    return detect(function, [spec for _, spec in parsed(specs)], wrt)


ROUTES = [
    pytest.param(symbolic, id="symbolic"),
    pytest.param(jaxpr, id="jaxpr", marks=pytest.mark.skipif(not HAS_ASDEX, reason="no asdex")),
]


def numeric(kind: str, function: Callable[..., Any], specs: Specs, wrt: int) -> Mask:
    """Where jax's dense derivative is nonzero at some of four random points (each sign flipped
    at every other, for both sides of every branch): verification only, never detection."""
    rng = np.random.default_rng(0)
    shapes = [parse_spec(spec).shape for _, spec in specs]
    seen = np.zeros((0,), dtype=bool)
    with precise():
        derivative = jax.jit(
            (jax.hessian if kind == "hessian" else jax.jacfwd)(function, argnums=wrt)
        )
        for point in range(4):
            sign = -1.0 if point % 2 else 1.0
            args = [sign * rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
                    for shape in shapes]  # fmt: skip
            dense = np.asarray(derivative(*args)).reshape(-1, args[wrt].size) != 0
            seen = dense if point == 0 else seen | dense
    return seen


def check_exact(
    kind: str, route: Any, function: Any, specs: Specs, truth: Mask, wrt: int = 0
) -> Pattern:
    """The route finds exactly `truth`, and jax's dense derivative at random points has no
    nonzero outside it (conservative) and every entry of it somewhere (exact)."""
    pattern = route(kind, function, specs, wrt)
    assert pattern.shape == truth.shape
    np.testing.assert_array_equal(pattern.to_dense(), truth)
    seen = numeric(kind, function, specs, wrt)
    assert not (seen & ~truth).any(), "a nonzero outside the pattern"
    np.testing.assert_array_equal(seen, truth)
    return pattern


def band(n: int, lower: int, upper: int, periodic: bool = False) -> Mask:
    offsets = np.subtract.outer(np.arange(n), np.arange(n))
    if periodic:
        offsets = (offsets + n // 2) % n - n // 2
    return (offsets <= lower) & (offsets >= -upper)


# -------------------------------------------------------------------------- known patterns
@pytest.mark.parametrize("route", ROUTES)
def test_chained_rosenbrock_hessian_is_tridiagonal(route: Any) -> None:
    pattern = check_exact("hessian", route, rosenbrock, [("x", "float64[30]")], band(30, 1, 1))
    assert (pattern.nnz, pattern.describe()) == (88, "30 x 30, 88 nonzeros (9.78% dense)")


@pytest.mark.parametrize("route", ROUTES)
def test_brusselator_jacobian_is_two_coupled_periodic_stencils(route: Any) -> None:
    N = 5
    index = np.arange(2 * N * N).reshape(2, N, N)
    truth = np.zeros((2 * N * N, 2 * N * N), dtype=bool)
    for species in (0, 1):
        rows = index[species]
        for axis, step in [(0, 0), (0, 1), (0, -1), (1, 1), (1, -1)]:  # its own 5-point stencil
            truth[rows, np.roll(rows, step, axis)] = True
        truth[rows, index[1 - species]] = True  # the reaction couples u and v pointwise
    specs = [("t", "float64[]"), ("y", f"float64[2,{N},{N}]")]
    pattern = check_exact("jacobian", route, brusselator, specs, truth, wrt=1)
    assert pattern.nnz == 6 * 2 * N * N


@pytest.mark.parametrize("route", ROUTES)
def test_lorenz96_jacobian_is_a_periodic_band(route: Any) -> None:
    specs = [("t", "float64[]"), ("y", "float64[12]"), ("forcing", "float64[]")]
    check_exact("jacobian", route, lorenz96, specs, band(12, 2, 1, periodic=True), wrt=1)


@pytest.mark.parametrize("route", ROUTES)
def test_arrowhead_objective_has_an_arrowhead_hessian(route: Any) -> None:
    truth = np.eye(20, dtype=bool)
    truth[0, :] = truth[:, 0] = True
    check_exact("hessian", route, arrowhead_objective, [("x", "float64[20]")], truth)


@pytest.mark.parametrize("route", ROUTES)
def test_robot_arm_jacobian_is_block_lower_triangular(route: Any) -> None:
    n = 7
    truth = np.repeat(np.tril(np.ones((n, n), dtype=bool)), 2, axis=0)  # rows x_k, y_k: 0..k
    specs = [("theta", f"float64[{n}]"), ("lengths", f"float64[{n}]")]
    check_exact("jacobian", route, arm, specs, truth)


@pytest.mark.parametrize("route", ROUTES)
def test_conditions_and_floors_carry_no_derivative(route: Any) -> None:
    truth = np.zeros((4, 8), dtype=bool)
    truth[0, [1, 2]] = truth[1, 4] = truth[2, [5, 6]] = truth[3, [0, 1, 7]] = True
    check_exact("jacobian", route, kinks, [("x", "float64[8]")], truth)
    hessian = np.zeros((8, 8), dtype=bool)
    hessian[0, 1] = hessian[1, 0] = True  # only the product inside the maximum is nonlinear

    def total(x: Any) -> Any:
        return array_namespace(x).sum(kinks(x))

    check_exact("hessian", route, total, [("x", "float64[8]")], hessian)


def test_constants_are_not_differentiated() -> None:
    """Only the active argument's symbols are differentiated: the other's are constants."""

    def weighted(x: Any, c: Any) -> Any:
        return array_namespace(x).sum(c * x**2 + c**3 * x * x[0])

    specs = [("x", "float64[4]"), ("c", "float64[4]")]
    truth = np.eye(4, dtype=bool)
    truth[0, :] = truth[:, 0] = True
    np.testing.assert_array_equal(symbolic("hessian", weighted, specs).to_dense(), truth)
    by_c = symbolic("hessian", weighted, specs, wrt=1)  # c_i**3 alone is nonlinear in c
    np.testing.assert_array_equal(by_c.to_dense(), np.eye(4, dtype=bool))


def test_products_of_many_factors_pair_distinct_factors_only() -> None:
    """prod(x): every pair i != j, and no diagonal (each x_i is linear in it)."""

    def product(x: Any) -> Any:
        return array_namespace(x).prod(x)

    pattern = symbolic("hessian", product, [("x", "float64[6]")])
    np.testing.assert_array_equal(pattern.to_dense(), ~np.eye(6, dtype=bool))


def test_deep_expressions_need_no_recursion() -> None:
    """An explicit integrator's loop nests 300 operations deep: the walk takes them with
    Python's recursion limit far below their depth."""

    def integrate(x: Any) -> Any:
        xp = array_namespace(x)
        for _ in range(100):
            x = xp.tanh(x + 0.001 * x[::-1])
        return x

    traced = trace(integrate, parsed([("x", "float64[4]")]))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100)
    try:
        pattern = expressions.jacobian_pattern(traced.output, traced.inputs[0])
    finally:
        sys.setrecursionlimit(limit)
    diagonals = np.eye(4, dtype=bool) | np.eye(4, dtype=bool)[::-1]
    np.testing.assert_array_equal(pattern.to_dense(), diagonals)


def test_jaxpr_route_without_asdex_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.sparse import jaxpr as route

    real = importlib.import_module

    def missing(name: str, package: str | None = None) -> Any:
        if name == "asdex":
            raise ImportError("No module named 'asdex'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(DiffgenError) as error:
        route.jacobian_pattern(lorenz96, [parse_spec("float64[]")] * 3, 1)
    assert error.value.what == (
        "detecting the sparsity pattern of a jax function needs the asdex package, which is "
        "not installed"
    )
    assert "asdex==0.5.1" in error.value.fix


@pytest.mark.skipif(not HAS_ASDEX, reason="no asdex")
def test_jaxpr_route_refuses_a_vector_hessian() -> None:
    with pytest.raises(DiffgenError) as error:
        jaxpr("hessian", lambda x: x**2, [("x", "float64[3]")])
    assert error.value.what == (
        "the Hessian pattern of test_jaxpr_route_refuses_a_vector_hessian.<locals>.<lambda> "
        "cannot be read from its jaxpr: ValueError: Expected scalar-valued function, but f has "
        "output shape (3,)."
    )


# ----------------------------------------------------------------------------- the Pattern
def test_pattern_normalizes_coordinates_and_is_read_only() -> None:
    pattern = Pattern.from_coo((3, 4), [2, 0, 2, 1], [1, 3, 1, 0], "user")
    assert (pattern.rows.tolist(), pattern.cols.tolist()) == ([0, 1, 2], [3, 0, 1])
    assert (pattern.nnz, pattern.density) == (3, 0.25)
    assert pattern == Pattern.from_coo((3, 4), [0, 1, 2], [3, 0, 1], "symbolic")
    assert hash(pattern) == hash(Pattern.from_coo((3, 4), [0, 1, 2], [3, 0, 1], "symbolic"))
    assert pattern != Pattern.from_coo((3, 5), [0, 1, 2], [3, 0, 1], "user")
    with pytest.raises(ValueError, match="read-only"):
        pattern.rows[0] = 1
    with pytest.raises(ValueError, match="coordinates outside a 3 x 4 matrix"):
        Pattern.from_coo((3, 4), [3], [0], "user")
    assert pattern.positions(np.array([2, 0, 1]), np.array([1, 0, 0])).tolist() == [2, -1, 1]


def test_pattern_triangles_and_cover() -> None:
    full = Pattern.from_matrix(band(5, 1, 1), "symbolic")
    lower = full.lower()
    assert (lower.nnz, lower.is_symmetric(), full.is_symmetric()) == (9, False, True)
    assert lower.symmetrized() == full
    gather = full.positions(lower.rows, lower.cols)  # IPOPT's lower-triangle values, one gather
    assert (full.rows[gather].tolist(), full.cols[gather].tolist()) == (
        lower.rows.tolist(),
        lower.cols.tolist(),
    )
    assert full.indptr.tolist() == [0, 2, 5, 8, 11, 13]
    assert full.covers(lower) and not lower.covers(full)
    assert full.transpose() == full
    assert Pattern.dense((2, 3), "user").nnz == 6


def test_a_user_pattern_file_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "pattern.npz"
    lower = scipy.sparse.csr_array(np.tril(band(6, 1, 1)).astype(float))
    scipy.sparse.save_npz(path, lower)
    hessian = load_npz(path, (6, 6), "the Hessian of f", symmetric=True)
    assert (hessian.source, hessian.nnz, hessian.is_symmetric()) == ("user", 16, True)
    assert load_npz(path, (6, 6), "the Jacobian of f").nnz == 11
    with pytest.raises(DiffgenError) as error:
        load_npz(path, (6, 7), "the Jacobian of f")
    assert error.value.what == (f"the pattern in {path} is 6 x 6, but the Jacobian of f is 6 x 7")
    with pytest.raises(DiffgenError) as error:
        load_npz(tmp_path / "missing.npz", (6, 6), "the Jacobian of f")
    assert (
        error.value.what == f"the sparsity pattern file {tmp_path / 'missing.npz'} does not exist"
    )
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(DiffgenError) as error:
        load_npz(garbage, (6, 6), "the Jacobian of f")
    assert error.value.what.startswith(f"{garbage} is not a scipy.sparse .npz file")


def test_stored_zeros_of_a_user_pattern_count_as_structure(tmp_path: Path) -> None:
    matrix = scipy.sparse.csr_array(
        (np.array([0.0, 2.0]), np.array([0, 1]), np.array([0, 1, 2])), shape=(2, 2)
    )
    path = tmp_path / "zeros.npz"
    scipy.sparse.save_npz(path, matrix)
    assert load_npz(path, (2, 2), "the Jacobian of f").nnz == 2


# ----------------------------------------------------------------- random built-in structure
@st.composite
def structures(draw: st.DrawFn) -> tuple[list[list[int]], list[tuple[int, int]], int]:
    """Row sets (banded, block, arrow or scattered) and product pairs over n variables."""
    n = draw(st.integers(2, 10))
    kind = draw(st.sampled_from(["band", "block", "arrow", "random"]))
    if kind == "band":
        lo, hi = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        sets = [[j for j in range(n) if -lo <= j - i <= hi] for i in range(n)]
    elif kind == "block":
        size = draw(st.integers(1, n))
        sets = [[j for j in range(n) if j // size == i // size] for i in range(n)]
    elif kind == "arrow":
        sets = [list(range(n))] + [[0, i] for i in range(1, n)]
    else:
        sets = [sorted(draw(st.sets(st.integers(0, n - 1), max_size=n))) for _ in range(n)]
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=4))
    return sets, pairs, n


def built(sets: list[list[int]], pairs: list[tuple[int, int]]) -> tuple[Any, Any]:
    """y_r = sin(w . x[S_r]), and f = sum_r cos(w . x[S_r]) + sum of x_a x_b over the pairs."""
    weights = [np.linspace(0.5, 1.5, max(len(s), 1)) for s in sets]

    def rows(x: Any) -> list[Any]:
        xp = array_namespace(x)
        return [xp.sum(x[np.array(s)] * w) if s else 0.0 * xp.sum(x[:0]) + 1.0
                for s, w in zip(sets, weights, strict=True)]  # fmt: skip

    def vector(x: Any) -> Any:
        xp = array_namespace(x)
        return xp.stack([xp.sin(r) for r in rows(x)])

    def scalar(x: Any) -> Any:
        xp = array_namespace(x)
        return sum((xp.cos(r) for r in rows(x)), x[0] * 0.0) + sum(
            (x[a] * x[b] for a, b in pairs), x[0] * 0.0
        )

    return vector, scalar


def check_structure(case: tuple[list[list[int]], list[tuple[int, int]], int]) -> None:
    sets, pairs, n = case
    vector, scalar = built(sets, pairs)
    jacobian = np.zeros((n, n), dtype=bool)
    hessian = np.zeros((n, n), dtype=bool)
    for r, s in enumerate(sets):
        jacobian[r, s] = True
        hessian[np.ix_(s, s)] = True
    for a, b in pairs:
        hessian[a, b] = hessian[b, a] = True
    specs = [("x", f"float64[{n}]")]
    for route in (symbolic, jaxpr) if HAS_ASDEX else (symbolic,):
        check_exact("jacobian", route, vector, specs, jacobian)
        check_exact("hessian", route, scalar, specs, hessian)


@SMALL
@given(case=structures())
def test_random_structures_are_detected_exactly(
    case: tuple[list[list[int]], list[tuple[int, int]], int],
) -> None:
    check_structure(case)


@pytest.mark.fuzz
@LARGE
@given(case=structures())
def test_random_structures_are_detected_exactly_many(
    case: tuple[list[list[int]], list[tuple[int, int]], int],
) -> None:
    check_structure(case)
