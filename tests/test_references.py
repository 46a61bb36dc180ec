"""Bounded references and the sympy backend's limits, on functions that look like a user's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from generator.expected import Point, calls_per_point, references
from generator.inspect_target import inspect_target
from generator.pipeline import generate_and_write
from generator.symbolic import derivatives
from generator.target import Target
from tests.conftest import REPO, Project, run_generated_tests
from tests.test_generated_module import load

Run = Callable[..., tuple[int, str, str]]

USER = """
from array_api_compat import array_namespace


def loss(w, X, y):
    xp = array_namespace(w, X, y)
    z = X @ w
    return xp.mean(xp.log(1.0 + xp.exp(-y * z)))


def rounding(x):
    xp = array_namespace(x)
    return xp.sum(xp.floor(3.0 * x) * x + xp.ceil(x) + xp.floor_divide(x, 0.3) + (x % 0.25) * x)


def ranged(x):
    xp = array_namespace(x)
    if float(xp.max(x)) > 1.0:
        raise ValueError("x must lie in [0, 1]")
    return xp.sum(x ** 3)


def rhs(y):
    xp = array_namespace(y)
    left = xp.concat([y[-1:], y[:-1]])
    right = xp.concat([y[1:], y[:1]])
    return xp.sin(left) * y - y ** 3 / 3.0 + xp.exp(-right) + xp.sum(y) / 50.0


def blowup(x):
    xp = array_namespace(x)
    return xp.sum(xp.exp(x) + xp.cosh(x) + xp.sinh(x))


def dense(x, A):
    return A @ x
"""

LOGISTIC = ("--arg", "w=float64[20]", "--arg", "X=float64[200,20]", "--arg", "y=float64[200]")


@pytest.fixture
def user(project: Project) -> Project:
    project.write("userloss.py", USER)
    yield project
    sys.modules.pop("userloss", None)
    derivatives.symbolic_derivatives.cache_clear()


def logistic_derivatives(
    w: np.ndarray, X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The gradient and Hessian of mean(log(1 + exp(-y X w))), in closed form."""
    margin = y * (X @ w)
    s = 1.0 / (1.0 + np.exp(margin))  # sigma(-margin)
    gradient = X.T @ (-y * s) / len(y)
    hessian = (X.T * (y**2 * s * (1.0 - s))) @ X / len(y)
    return gradient, hessian


def test_logistic_loss_references_fall_back_to_scipy_early_and_agree(user: Project) -> None:
    target = Target("userloss:loss", args=(("w", "float64[20]"), ("X", "float64[200,20]"),
                    ("y", "float64[200]")), ops=("all",), backend="finitediff")  # fmt: skip
    inspected = inspect_target(target, user.root)
    rng = np.random.default_rng(1)
    w, X, y = rng.uniform(-1, 1, 20), rng.uniform(-1, 1, (200, 20)), rng.choice([-1.0, 1.0], 200)
    dx = rng.uniform(-1, 1, 20)
    point = Point({"w": w, "X": X, "y": y}, dx, np.ones(()), rows=((2 * dx, np.ones(())),))
    found = references(inspected, ("value", "gradient", "hessian", "hvp"), [point], ("hvp",))
    assert "estimated work, 5,440,400 units, is past its budget" in found.why
    calls = int(found.method.split(" calls")[0].split()[-1].replace(",", ""))
    # once for the point and its batch row, not per row; within the bound of a point
    assert 20 * 20 * 100 < calls <= calls_per_point(20, 1, 2, False) == 1 + 17 * 20 + 169 * 400
    gradient, hessian = logistic_derivatives(w, X, y)
    values = found.values[0]
    np.testing.assert_allclose(values["gradient"][0], gradient, rtol=0, atol=1e-11)
    np.testing.assert_allclose(values["hessian"][0].reshape(20, 20), hessian, rtol=0, atol=1e-9)
    np.testing.assert_allclose(values["hvp"][0], hessian @ dx, rtol=0, atol=1e-8)
    np.testing.assert_allclose(values["hvp_batch"][0], hessian @ (2 * dx), rtol=0, atol=2e-8)
    assert np.all(values["hessian"][1] > 0) and np.all(values["hessian"][1] < 1e-9)


def test_logistic_loss_with_tests_generates_with_jax(diffgen: Run, user: Project) -> None:
    """The logistic loss took > 43 min with its tests (exact references over 4,000 symbolic data
    entries); now the estimate sends it to scipy (about 20 s here: a measurement for the README,
    not an assert)."""
    code, _, err = diffgen("generate", "userloss:loss", *LOGISTIC, "--ops", "all",
                           "--backend", "jax:reverse", "--outer", "jax:forward")  # fmt: skip
    assert code == 0, err
    tests = user.root / "generated/test_loss_jax_forward_over_jax_reverse.py"
    text = " ".join(tests.read_text().split())
    assert "by scipy.differentiate" in text and "calls of the function" in text
    assert "That route was taken because the exact route's estimated work" in text
    run_generated_tests(user.root)


def test_sympy_refuses_the_logistic_loss_before_differentiating(
    diffgen: Run, user: Project
) -> None:
    before = user.files()
    code, _, err = diffgen("generate", "userloss:loss", *LOGISTIC, "--ops", "hessian",
                           "--backend", "sympy")  # fmt: skip
    assert code == 2
    assert "would take about 5,440,400 units of work" in err
    assert "past the limit of 500,000" in err
    assert "--backend jax:reverse, or torch:reverse" in err
    assert user.files() == before


def test_sympy_refuses_a_dense_200_by_200_matrix_product(diffgen: Run, user: Project) -> None:
    args = ("--arg", "x=float64[200]", "--arg", "A=float64[200,200]")
    code, _, err = diffgen("generate", "userloss:dense", *args, "--ops", "jacobian",
                           "--backend", "sympy")  # fmt: skip
    assert code == 2
    assert "would take about 920,000 units of work" in err and "jax" in err


def test_work_estimate_is_linear_for_local_terms_and_quadratic_for_dense_ones() -> None:
    import sympy

    x = sympy.symbols("x_:6", real=True)
    local = [sympy.Add(*((x[i + 1] - x[i] ** 2) ** 2 for i in range(5)))]
    dense = [
        sympy.log(1 + sympy.exp(sympy.Add(*(c * s for c, s in zip(range(2, 8), x, strict=True)))))
    ]
    assert derivatives.estimate_work(local, x, 1) < derivatives.estimate_work(dense, x, 1)
    assert (
        derivatives.estimate_work(dense, x, 2)
        == 6 * (derivatives.estimate_work(dense, x, 1) - 20 * 6) + 20 * 6
    )


def test_floor_ceil_floor_divide_and_mod_differentiate_to_zero_between_jumps(
    user: Project,
) -> None:
    for backend in ("sympy", "finitediff", "jax:reverse"):
        target = Target("userloss:rounding", args=(("x", "float64[3]"),),
                        ops=("gradient", "hessian"), backend=backend)  # fmt: skip
        generate_and_write(target, user.root, force=False)
    module = load(user.root / "generated/rounding_sympy.py")
    x = np.array([0.2, 0.55, 0.9])
    expected = np.floor(3 * x) + x + x % 0.25  # d/dx of floor(3x) x + (x mod 0.25) x
    np.testing.assert_allclose(module.gradient(x), expected, rtol=1e-15)
    np.testing.assert_allclose(module.hessian(x), np.diag([2.0, 2.0, 2.0]), rtol=0, atol=0)
    text = (user.root / "generated/test_rounding_jax_reverse.py").read_text()
    assert "exact SymPy derivatives" in " ".join(text.split())
    run_generated_tests(user.root)


def test_an_exception_while_references_are_computed_is_exit_2(diffgen: Run, user: Project) -> None:
    before = user.files()
    code, _, err = diffgen("generate", "userloss:ranged", "--arg", "x=float64[3]", "--ops",
                           "gradient", "--backend", "finitediff")  # fmt: skip
    assert code == 2
    assert err.startswith(
        "diffgen: error: userloss:ranged raised ValueError: x must lie in [0, 1] while diffgen"
        " computed the references of its tests, near test point 1 (x = ["
    ), err
    assert "Traceback" not in err and "--no-tests" in err
    assert user.files() == before


def test_a_50_state_jacobian_test_file_is_compact(user: Project) -> None:
    target = Target("userloss:rhs", args=(("y", "float64[50]"),), ops=("jacobian",),
                    backend="finitediff")  # fmt: skip
    generate_and_write(target, user.root, force=False)
    text = (user.root / "generated/test_rhs_finitediff.py").read_text()
    assert len(text) < 60_000, len(text)
    assert "# fmt: off" in text and "a test file keeps to 4,000" in text
    assert max(len(line) for line in text.splitlines()[2:]) <= 100  # after the stamp
    run_generated_tests(user.root)


def test_sympy_modules_overflow_to_inf_as_numpy_does(user: Project) -> None:
    target = Target("userloss:blowup", args=(("x", "float64[2]"),), ops=("gradient",),
                    backend="sympy", tests=False)  # fmt: skip
    generate_and_write(target, user.root, force=False)
    module = load(user.root / "generated/blowup_sympy.py")
    x = np.array([800.0, -800.0])
    with np.errstate(over="ignore", invalid="ignore"):
        expected = np.exp(x) + np.sinh(x) + np.cosh(x)
    assert module.value_and_gradient(np.array([800.0, 1.0]))[0] == np.inf
    np.testing.assert_array_equal(module.gradient(x), expected)  # [inf, nan]: inf - inf
    small = np.array([0.5, -1.5])
    np.testing.assert_allclose(module.gradient(small), np.exp(small) + np.sinh(small)
                               + np.cosh(small), rtol=1e-15)  # fmt: skip


def test_emit_imports_torch_only_for_the_torch_dialect() -> None:
    script = (
        "import sys, sympy; from generator.symbolic import printer as emit; x = sympy.Symbol('x');"
        " r = emit.Result('value', (), 'np.float64', True, entries=(sympy.exp(x),));"
        " emit.emit([r]); assert 'torch' not in sys.modules, 'math';"
        " emit.emit([emit.Result('value', (1,), 'torch.float64', False, entries=(x,))], 'torch',"
        " 'x'); assert 'torch' in sys.modules"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_control_flow_advice_names_what_takes_it(diffgen: Run, user: Project) -> None:
    code, _, err = diffgen("generate", "userloss:ranged", "--arg", "x=float64[3]", "--ops",
                           "gradient", "--backend", "sympy")  # fmt: skip
    assert code == 2
    assert "--torch-mode eager" in err and "--backend finitediff" in err
    assert "jax, like sympy, traces with abstract values and refuses the same `if`" in err


def test_unsupported_names_point_to_the_readme() -> None:
    from generator.symbolic.namespace import NAMESPACE

    with pytest.raises(AttributeError) as info:
        NAMESPACE.fft  # noqa: B018
    assert "DESIGN.md" not in str(info.value)
    assert 'README\'s section "sympy"' in str(info.value)
    assert Path(REPO / "README.md").read_text().count("### sympy") == 1
