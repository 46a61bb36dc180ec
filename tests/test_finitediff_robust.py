"""finitediff modules at the edges a user reaches: tiny, huge and zero directions, and functions
that write into their arguments (and what the torch, jax and sympy modules do with those)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generator.backends.finitediff import ERROR as FINITEDIFF
from generator.backends.torch_options import TorchOptions
from generator.errors import DiffgenError
from generator.measure.loader import load
from generator.pipeline import generate
from generator.target import Target
from tests.conftest import REPO, Project

A43 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-0.2, 0.6, 0.1], [1.0, 0.3, -0.4]])
B4 = np.array([0.3, -0.2, 0.9, 0.1])
X3 = np.array([0.4, -0.3, 0.8])
HESSIAN = A43.T @ A43  # of least_squares: 0.5 |A x - b|^2, exact
#: The directions' scales: subnormal, tiny, huge, and zero.
SCALES = [1e-320, 1e-300, 1e300, 0.0]
#: (backend, outer): finitediff over finitediff, over an exact inner, and first order alone.
PAIRS = [("finitediff", None), ("sympy", "finitediff")]


def generated(function: str, args: Any, ops: Any, backend: str, outer: str | None,
              folder: Path, root: Path = REPO, **options: Any) -> Any:  # fmt: skip
    target = Target(function, args=args, ops=ops, backend=backend, outer=outer, tests=False,
                    **options)  # fmt: skip
    (file,) = generate(target, root)
    path = folder / f"m_{function.rpartition(':')[2]}_{backend.replace(':', '_')}_{outer}.py"
    path.write_text(file.text)
    return load(path)


def least_squares(backend: str, outer: str | None, folder: Path, **options: Any) -> Any:
    args = (("x", "float64[3]"), ("A", "float64[4,3]"), ("b", "float64[4]"))
    ops = ("hvp", "hessian", "pushforward")
    return generated("tests.scenarios.corpus:least_squares", args, ops, backend, outer, folder,
                     **options)  # fmt: skip


def tolerance(v: np.ndarray) -> float:
    """The error model's bound of nested differences (30 eps**(1/2)) of the scale of H v, plus a
    few subnormal units: a subnormal H v holds only a few significant bits, in the reference as
    in the result."""
    scale = float(np.max(np.abs(HESSIAN)) * np.max(np.abs(v))) * HESSIAN.shape[0]
    eps = float(np.finfo(np.float64).eps)
    return FINITEDIFF.atol(2, eps, scale) + 8 * np.finfo(np.float64).smallest_subnormal


@pytest.mark.parametrize(("backend", "outer"), PAIRS)
def test_hvp_along_subnormal_tiny_huge_and_zero_directions(
    backend: str, outer: str | None, tmp_path: Path
) -> None:
    module = least_squares(backend, outer, tmp_path, batch=2)
    for scale in SCALES:
        v = scale * np.array([1.0, -0.5, 0.25])
        hvp = module.hvp(X3, v, A43, B4)
        want = HESSIAN @ v
        assert hvp.dtype == np.float64 and hvp.shape == (3,)
        assert np.all(np.isfinite(hvp)), (scale, hvp)
        np.testing.assert_allclose(hvp, want, rtol=0, atol=tolerance(v), err_msg=str(scale))
        gradient, again = module.gradient_and_hvp(X3, v, A43, B4)
        np.testing.assert_array_equal(again, hvp)
        np.testing.assert_allclose(gradient, A43.T @ (A43 @ X3 - B4), rtol=0, atol=1e-7)
        batch = module.hvp_batch(X3, np.stack([v, -v]), A43, B4)
        np.testing.assert_allclose(batch, np.stack([want, -want]), rtol=0, atol=tolerance(v))
    zero = module.hvp(X3, np.zeros(3), A43, B4)
    assert np.array_equal(zero, np.zeros(3)) and not np.signbit(zero).any()


def test_pushforward_along_subnormal_tiny_huge_and_zero_directions(tmp_path: Path) -> None:
    """First order: the Jacobian of 0.5 |A x - b|^2 is (A x - b)^T A, one row."""
    module = least_squares("finitediff", None, tmp_path)
    jacobian = (A43 @ X3 - B4) @ A43
    for scale in SCALES:
        dx = scale * np.array([1.0, -0.5, 0.25])
        found = module.pushforward(X3, dx, A43, B4)
        assert found.dtype == np.float64 and found.shape == () and np.isfinite(found)
        eps = float(np.finfo(np.float64).eps)
        bound = FINITEDIFF.atol(1, eps, float(np.max(np.abs(dx))) * 10)
        bound += 8 * np.finfo(np.float64).smallest_subnormal
        assert abs(found - jacobian @ dx) <= bound, (scale, found, jacobian @ dx)
    assert module.pushforward(X3, np.zeros(3), A43, B4) == 0.0


MUTATING = """
import numpy as np
from array_api_compat import array_namespace


def doubles_x(x):
    xp = array_namespace(x)
    x *= 2.0
    return xp.sum(x ** 3)


def scales_data(x, A, b):
    A *= 3.0
    r = A @ x - b
    b[...] = 0.0
    return 0.5 * (r @ r)


def pure(x, A, b):
    r = A @ x - b
    return 0.5 * (r @ r)
"""


@pytest.fixture
def mutating(project: Project) -> str:
    name = f"{project.module}_mutating"
    project.write(f"{name}.py", MUTATING)
    return name


def test_a_function_that_writes_into_x_leaves_the_callers_array_alone(
    project: Project, mutating: str, tmp_path: Path
) -> None:
    """sum((2x)^3): gradient 24 x^2, Hessian diag(48 x); the caller's x is unchanged."""
    module = generated(f"{mutating}:doubles_x", (("x", "float64[3]"),), ("all",), "finitediff",
                       None, tmp_path, project.root)  # fmt: skip
    assert "writes into x (seen when diffgen called it), so it is called with copies" in " ".join(
        module.__doc__.split()
    )
    x = X3.copy()
    value, gradient, hessian = module.value_gradient_and_hessian(x)
    np.testing.assert_array_equal(x, X3)
    assert value == pytest.approx(np.sum((2 * X3) ** 3), rel=1e-15)
    np.testing.assert_allclose(gradient, 24 * X3**2, rtol=0, atol=1e-8)
    np.testing.assert_allclose(hessian, np.diag(48 * X3), rtol=0, atol=1e-5)
    np.testing.assert_allclose(module.hvp(x, x, out=np.empty(3)), 48 * X3 * X3, atol=1e-5)
    np.testing.assert_array_equal(x, X3)


def test_a_function_that_writes_into_its_constants_gets_copies(
    project: Project, mutating: str, tmp_path: Path
) -> None:
    """A is tripled and b zeroed inside: the derivatives are those of 0.5 |3 A x - b|^2 with
    the caller's A and b, which stay as they were, call after call."""
    args = (("x", "float64[3]"), ("A", "float64[4,3]"), ("b", "float64[4]"))
    module = generated(f"{mutating}:scales_data", args, ("gradient", "hessian"), "finitediff",
                       None, tmp_path, project.root)  # fmt: skip
    assert "writes into A, b (seen when diffgen called it)" in " ".join(module.__doc__.split())
    A, b = A43.copy(), B4.copy()
    for _ in range(2):
        gradient = module.gradient(X3, A, b)
        hessian = module.hessian(X3, A, b)
        np.testing.assert_array_equal(A, A43)
        np.testing.assert_array_equal(b, B4)
        np.testing.assert_allclose(gradient, 3 * A43.T @ (3 * A43 @ X3 - B4), atol=1e-8)
        np.testing.assert_allclose(hessian, 9 * HESSIAN, atol=1e-5)


def test_a_pure_function_is_called_without_copies(
    project: Project, mutating: str, tmp_path: Path
) -> None:
    """Copies cost up to 15% of a small function's time: only what is written into is copied."""
    args = (("x", "float64[3]"), ("A", "float64[4,3]"), ("b", "float64[4]"))
    target = Target(f"{mutating}:pure", args=args, ops=("gradient",), tests=False)
    (file,) = generate(target, project.root)
    assert "_FUNCTION(x, A, b)" in file.text and ".copy()" not in file.text.split("def _f")[1][:200]
    assert "writes into" not in file.text


@pytest.mark.parametrize("mode", ["graph", "eager"])
def test_torch_refuses_a_function_that_writes_into_x_and_says_what_to_do(
    project: Project, mutating: str, mode: str
) -> None:
    """torch.func cannot differentiate through a write into its input: refused, with a fix."""
    target = Target(f"{mutating}:doubles_x", args=(("x", "float64[3]"),), ops=("gradient",),
                    backend="torch:reverse", options=(TorchOptions(mode=mode),),
                    tests=False)  # fmt: skip
    with pytest.raises(DiffgenError) as refused:
        generate(target, project.root)
    error = refused.value
    assert (
        error.what
        == f"torch cannot differentiate {mutating}:doubles_x, which writes into an argument"
    )
    assert "x *= 2.0" in error.why and "in-place" in error.why
    assert error.fix.startswith("compute a new array instead (`x = x * 2` rather than `x *= 2`)")


def test_jax_and_sympy_modules_leave_the_callers_arrays_alone(
    project: Project, mutating: str, tmp_path: Path
) -> None:
    """jax arrays are immutable (`x *= 2` makes a new one) and sympy modules never call the
    function: both give the derivatives of sum((2x)^3) and leave x as it was."""
    for backend in ("jax:reverse", "sympy"):
        module = generated(f"{mutating}:doubles_x", (("x", "float64[3]"),), ("gradient",),
                           backend, None, tmp_path, project.root)  # fmt: skip
        x = X3.copy()
        gradient = np.asarray(module.gradient(x))
        np.testing.assert_array_equal(x, X3)
        np.testing.assert_allclose(gradient, 24 * X3**2, rtol=1e-14)
