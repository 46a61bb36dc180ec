"""The sparse plan (generator/sparse/plan.py): random banded, block and arrow patterns built
into functions are detected conservatively, and every coloring's gather decompresses exactly."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from array_api_compat import array_namespace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import DiffgenError
from generator.model import Arg, Inspected, SparseMatrix
from generator.sparse import plan
from generator.sparse_options import SparseOptions
from generator.spec import Spec
from generator.target import Target

SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))  # fmt: skip
Mask = npt.NDArray[np.bool_]
_COUNTER = itertools.count()


@st.composite
def masks(draw: st.DrawFn, square: bool) -> Mask:
    """A random banded, block-diagonal or arrow pattern (m x n), with random holes."""
    n = draw(st.integers(3, 14))
    m = n if square else draw(st.integers(2, 14))
    kind = draw(st.sampled_from(["banded", "block", "arrow"]))
    i, j = np.indices((m, n))
    if kind == "banded":
        lower, upper = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        mask = (j - i <= upper) & (i - j <= lower)
    elif kind == "block":
        size = draw(st.integers(1, 4))
        mask = (i // size) == (j // size)
    else:
        mask = (i == j) | (i == 0) | (j == 0)
    holes = np.array(draw(st.lists(st.booleans(), min_size=m * n, max_size=m * n)))
    mask &= ~holes.reshape(m, n) | (i == j) if square else mask & ~holes.reshape(m, n)
    if square:
        mask |= mask.T
    return np.asarray(mask)


def inspected(function: Any, n: int, m: int | None, **options: Any) -> Inspected:
    """A target of `function` at x: float64[n] (a unique name: the trace is cached by target)."""
    name = f"tests.property:f{next(_COUNTER)}"
    target = Target(name, backend="finitediff", options=(SparseOptions(True, **options),))
    output = Spec("float64", (m,) if m is not None else ())
    x = Arg("x", Spec("float64", (n,)), True)
    return Inspected(target, "tests.property", name, (x,), output, function)


def jacobian_function(mask: Mask, weights: npt.NDArray[np.float64]) -> Any:
    """y_i = sum over the mask's row i of w_ij sin(x_j): J_ij = w_ij cos(x_j) exactly there."""

    def f(x: Any) -> Any:
        xp = array_namespace(x)
        rows = [
            sum((float(weights[i, j]) * xp.sin(x[j]) for j in np.flatnonzero(mask[i])),
                start=0.0 * x[0])
            for i in range(mask.shape[0])
        ]  # fmt: skip
        return xp.stack(rows)

    return f


def hessian_function(mask: Mask, weights: npt.NDArray[np.float64]) -> Any:
    """sum over the mask's pairs i < j of w_ij x_i x_j, plus w_ii x_i**3 on its diagonal."""

    def f(x: Any) -> Any:
        total = 0.0 * x[0]
        for i, j in zip(*np.nonzero(np.triu(mask)), strict=True):
            power = x[i] ** 3 if i == j else x[i] * x[j]
            total = total + float(weights[i, j]) * power
        return total

    return f


def products(m: SparseMatrix, dense: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """What a backend computes: one product per color, stacked color by color."""
    seeds = np.equal.outer(m.colors, np.arange(m.ncolors)).astype(np.float64)
    return seeds.T @ dense if m.mode == "row" else (dense @ seeds).T


@SETTINGS
@given(masks(square=False), st.sampled_from(["auto", "forward", "reverse"]), st.integers(0, 99))
def test_jacobians_are_detected_and_decompressed_exactly(mask: Mask, mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 2.0, mask.shape)
    m, n = mask.shape
    target = inspected(jacobian_function(mask, weights), n, m, mode=mode)
    matrix = plan.matrix(target, "jacobian", ("column", "row"), "jax:forward")
    assert matrix.shape == (m, n) and matrix.source == "detected from the traced expressions"
    found = np.zeros((m, n), dtype=bool)
    found[matrix.rows, matrix.cols] = True
    np.testing.assert_array_equal(found, mask)  # exact here: conservative, and nothing more
    assert matrix.mode == {"forward": "column", "reverse": "row"}.get(mode, matrix.mode)
    x = rng.uniform(-1.0, 1.0, n)
    dense = np.where(mask, weights * np.cos(x), 0.0)
    values = products(matrix, dense).reshape(-1)[matrix.gather]
    np.testing.assert_array_equal(values, dense[matrix.rows, matrix.cols])  # exact
    assert matrix.ncolors <= (n if matrix.mode == "column" else m)


@SETTINGS
@given(masks(square=True), st.integers(0, 99))
def test_hessians_are_detected_and_decompressed_exactly(mask: Mask, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 2.0, mask.shape)
    n = mask.shape[0]
    target = inspected(hessian_function(mask, weights), n, None)
    matrix = plan.matrix(target, "hessian", ("column", "symmetric"), "finitediff")
    found = np.zeros((n, n), dtype=bool)
    found[matrix.rows, matrix.cols] = True
    np.testing.assert_array_equal(found, mask)
    x = rng.uniform(-1.0, 1.0, n)
    upper = np.triu(np.where(mask, weights, 0.0), 1)
    dense = upper + upper.T + np.diag(np.where(np.diag(mask), 6.0 * np.diag(weights) * x, 0.0))
    values = products(matrix, dense).reshape(-1)[matrix.gather]
    np.testing.assert_array_equal(values, dense[matrix.rows, matrix.cols])
    assert np.all(matrix.rows[matrix.lower] >= matrix.cols[matrix.lower])
    assert matrix.lower.size == int(np.tril(mask).sum())


def test_an_arrowhead_hessian_takes_two_colors_and_says_so() -> None:
    def arrow(x: Any) -> Any:
        xp = array_namespace(x)
        return xp.sum((x[0] * x[1:] - 1.0) ** 2)

    matrix = plan.matrix(inspected(arrow, 200, None), "hessian", ("symmetric",), "jax:forward")
    assert (matrix.ncolors, matrix.nnz, matrix.mode) == (2, 598, "symmetric")
    assert matrix.cost_text == "star coloring, 2 HVPs instead of 200"
    assert matrix.pattern_text == "200 x 200, 598 nonzeros (1.49% dense)"
    exact = plan.matrix(inspected(arrow, 200, None), "hessian", ("exact",), "sympy")
    assert exact.mode == "exact" and exact.ncolors == 0 and exact.gather.size == 0


def test_a_jax_module_detects_with_asdex_first_and_both_routes_agree() -> None:
    """A module whose inner backend is jax reads the pattern from the jaxpr (asdex: seconds
    where the symbolic trace takes a minute at n = 10^4); the two detectors agree."""

    def arrow(x: Any) -> Any:
        xp = array_namespace(x)
        return xp.sum((x[0] * x[1:] - 1.0) ** 2) + xp.sum(x[1:] * x[:-1])

    target = inspected(arrow, 50, None)
    by_jax = plan.matrix(target, "hessian", ("symmetric",), "jax:forward", jaxpr_first=True)
    traced = plan.matrix(target, "hessian", ("symmetric",), "jax:forward")
    assert by_jax.source == "detected from the jaxpr by asdex"
    assert traced.source == "detected from the traced expressions"
    np.testing.assert_array_equal(by_jax.rows, traced.rows)
    np.testing.assert_array_equal(by_jax.cols, traced.cols)
    assert by_jax.nnz == 50 + 2 * 49 + 2 * 48  # diagonal, arrow, band (its (1, 0) in the arrow)
    assert by_jax.ncolors == traced.ncolors


def test_a_backend_that_cannot_color_is_refused() -> None:
    """Every backend colors today; one that declares no sparse evaluation (Entry.sparse = ())
    is refused before any detection, with what, why and the fix."""

    def band(x: Any) -> Any:
        xp = array_namespace(x)
        return xp.sum(x[1:] * x[:-1])

    target = inspected(band, 10, None)
    with pytest.raises(DiffgenError) as refused:
        plan.matrix(target, "hessian", ("column", "row"), "newbackend")
    assert refused.value.what == (
        f"--backend newbackend cannot evaluate a sparse hessian of {target.target.function}"
    )
    assert refused.value.fix.startswith("use a backend that evaluates sparse matrices")


def test_a_backend_without_the_mode_asked_for_is_refused() -> None:
    def band(x: Any) -> Any:
        return x[1:] * x[:-1]

    target = inspected(band, 6, 5, mode="reverse")
    with pytest.raises(DiffgenError, match="--sparse-mode reverse is not possible") as error:
        plan.matrix(target, "jacobian", ("column", "symmetric"), "finitediff")
    assert error.value.fix == "drop --sparse-mode (auto), or pass --sparse-mode forward"
    with pytest.raises(DiffgenError, match="cannot evaluate a sparse jacobian"):
        plan.matrix(target, "jacobian", (), "jax:forward")


def test_constants_are_read_only_int32_literals() -> None:
    def band(x: Any) -> Any:
        return x[1:] * x[:-1]

    matrix = plan.matrix(inspected(band, 30, 29), "jacobian", ("column",), "finitediff")
    names = [name for name, _, _ in plan.constants([matrix])]
    assert names == ["JACOBIAN_COLS", "_JACOBIAN_INDPTR", "JACOBIAN_ROWS", "_JACOBIAN_COLORS",
                     "_JACOBIAN_GATHER"]  # fmt: skip
    literal = dict((name, value) for name, value, _ in plan.constants([matrix]))
    assert literal["JACOBIAN_ROWS"] == "_rows(_JACOBIAN_INDPTR)"
    assert literal["JACOBIAN_COLS"].startswith("_index([\n    0, 1, 1, 2, 2, 3,")
    assert plan.index_literal(np.arange(3)) == "_index([0, 1, 2])"
