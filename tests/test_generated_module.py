"""The generated modules as users see them: standalone and right against scipy (typed and
linted: scripts/lint.sh runs mypy --strict, ruff and black over generated/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import rosen_der, rosen_hess, rosen_hess_prod

from generator.backends.finitediff import ERROR as FINITEDIFF
from generator.measure.loader import load
from tests.conftest import REPO, run_blocked

EPS = float(np.finfo(np.float64).eps)


ROSEN = load(REPO / "generated/rosen_finitediff.py")


@pytest.mark.parametrize("seed", range(5))
def test_rosen_matches_scipy(seed: int) -> None:
    """Central differences err by ~eps**(2/3) (first order) and ~eps**(1/2) (second order)
    relative to the scale of the derivatives; we allow what the error model allows, 30 times
    that (backends/finitediff.py)."""
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-2.0, 2.0, 10), rng.uniform(-1.0, 1.0, 10)
    for actual, expected, order in (
        (ROSEN.gradient(x), rosen_der(x), 1),
        (ROSEN.hessian(x), rosen_hess(x), 2),
        (ROSEN.hvp(x, v), rosen_hess_prod(x, v), 2),
    ):
        atol = FINITEDIFF.atol(order, EPS, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)


def test_accepts_read_only_non_contiguous_and_python_scalars() -> None:
    x = np.linspace(0.1, 0.9, 20)[::2]
    x.flags.writeable = False
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(ROSEN.gradient(x), ROSEN.gradient(x.copy()))
    assert type(ROSEN.pullback(x, 1.0)) is np.ndarray
    with pytest.raises(ValueError, match=r"dy: expected float64\[\], got float64\[1\]"):
        ROSEN.pullback(x, np.ones(1))
    with pytest.raises(ValueError, match=r"x: expected float64\[10\], got int64\[10\]"):
        ROSEN.gradient(np.arange(10))


def test_generated_module_runs_without_generator(tmp_path: Path) -> None:
    shutil.copy(REPO / "generated/rosen_finitediff.py", tmp_path)
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    blocked = {"generator", "jinja2", "black", "scipy", "sympy"}
    call = "import numpy as np; print(module.gradient(np.full(10, 0.5)).tolist())"
    printed = run_blocked(tmp_path, "rosen_finitediff.py", blocked, call)
    np.testing.assert_allclose(eval(printed), rosen_der(np.full(10, 0.5)), rtol=1e-8)


def test_module_imports_only_numpy_and_the_user_function() -> None:
    lines = (REPO / "generated/rosen_finitediff.py").read_text().splitlines()
    imports = sorted({line.split()[1] for line in lines if line.startswith(("import ", "from "))})
    assert imports == [
        "__future__", "collections.abc", "examples.rosen", "numpy", "numpy.typing", "types",
        "typing",
    ]  # fmt: skip


def test_module_state_is_immutable() -> None:
    with pytest.raises(TypeError):
        ROSEN.DIFFGEN["backend"] = "other"  # type: ignore[index]
    assert ROSEN.DIFFGEN["operators"] == ("pushforward", "pullback", "gradient", "hvp", "hessian")
    assert set(ROSEN.__all__) == {
        "pushforward", "value_and_pushforward", "pullback", "value_and_pullback", "gradient",
        "value_and_gradient", "hvp", "gradient_and_hvp", "hessian", "value_gradient_and_hessian",
    }  # fmt: skip


def test_float32_curve_keeps_float32() -> None:
    curve = load(REPO / "generated/curve_finitediff.py")
    t, radius = np.float32(0.3), np.float32(2.0)
    derivative = curve.derivative(np.asarray(t), np.asarray(radius))
    assert derivative.dtype == np.float32 and derivative.shape == (3,)
    expected = [-2.0 * np.sin(0.3), 2.0 * np.cos(0.3), 0.5]
    # float32: eps**(2/3) ~ 2.4e-5, and f is of size ~2
    eps32 = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(derivative, expected, atol=FINITEDIFF.atol(1, eps32, 2.0))
    second = curve.second_derivative(np.asarray(t), np.asarray(radius))
    expected2 = [-2.0 * np.cos(0.3), -2.0 * np.sin(0.3), 0.0]
    np.testing.assert_allclose(second, expected2, atol=FINITEDIFF.atol(2, eps32, 2.0))
