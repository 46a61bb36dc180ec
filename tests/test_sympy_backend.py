"""The sympy backend: exact values, standalone modules, and clear refusals."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import rosen_der, rosen_hess, rosen_hess_prod

from generator.pipeline import generate_and_write
from generator.symbolic import derivatives
from generator.target import Target
from tests.conftest import REPO, Project, run_blocked
from tests.test_generated_module import load

Run = Callable[..., tuple[int, str, str]]
ROSEN = load(REPO / "generated/rosen_sympy.py")


@pytest.mark.parametrize("seed", range(5))
def test_rosen_equals_scipy_to_1e_12(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-2.0, 2.0, 10), rng.uniform(-1.0, 1.0, 10)
    for actual, expected in (
        (ROSEN.gradient(x), rosen_der(x)),
        (ROSEN.hessian(x), rosen_hess(x)),
        (ROSEN.hvp(x, v), rosen_hess_prod(x, v)),
        (ROSEN.value_gradient_and_hessian(x)[2], rosen_hess(x)),
    ):
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12 * np.max(np.abs(expected)))


def test_module_imports_numpy_and_math_only() -> None:
    """...and, under a jax or torch outer, that library: never sympy or the user's function."""
    # a jax outer's operators compile on their first call, under a lock (threading, operator)
    outers = {"jax": {"jax", "jax.numpy", "threading", "operator"}, "torch": {"torch"}}
    for path in REPO.glob("generated/*_sympy.py"):
        if path.name.startswith("test_"):
            continue
        lines = path.read_text().splitlines()
        imported = {line.split()[1] for line in lines if line.startswith(("import ", "from "))}
        outer = next((names for name, names in outers.items() if f"_{name}_" in path.name), set())
        assert imported <= {"__future__", "collections.abc", "types", "typing", "math", "numpy",
                            "numpy.typing", *outer}, (path.name, imported)  # fmt: skip


def test_module_runs_without_the_user_function_or_sympy(tmp_path: Path) -> None:
    shutil.copy(REPO / "generated/rosen_sympy.py", tmp_path)
    blocked = {"generator", "sympy", "scipy", "examples", "jinja2"}
    call = "import numpy as np; print(module.gradient(np.full(10, 0.5)).tolist())"
    printed = run_blocked(tmp_path, "rosen_sympy.py", blocked, call)
    np.testing.assert_allclose(eval(printed), rosen_der(np.full(10, 0.5)), rtol=1e-15)


PIECEWISE = """
from array_api_compat import array_namespace

def kinks(x):
    xp = array_namespace(x)
    y = xp.where(x > 0.5, xp.sqrt(x), x ** 2) + xp.maximum(x, 0.3 * x[::-1]) + xp.abs(x - 0.45)
    return xp.sum(y ** 3)

def branchy(x):
    if x[0] > 0:
        return x ** 2
    return x

def spectral(x):
    xp = array_namespace(x)
    return xp.cumulative_sum(x)
"""


def test_where_maximum_sqrt_abs_against_finite_differences(project: Project) -> None:
    project.write("kinky.py", PIECEWISE)
    for backend in ("sympy", "finitediff"):
        target = Target("kinky:kinks", args=(("x", "float64[5]"),), ops=("all",), backend=backend)
        generate_and_write(target, project.root, force=False)
    sys.modules.pop("kinky", None)
    exact = load(project.root / "generated/kinks_sympy.py")
    approximate = load(project.root / "generated/kinks_finitediff.py")
    # x stays away from the kinks at 0.5 (where), 0.45 (abs) and x = 0.3 x[::-1] (maximum)
    x = np.array([0.2, 0.35, 0.6, 0.8, 0.9])
    np.testing.assert_allclose(exact.gradient(x), approximate.gradient(x), rtol=1e-8)
    np.testing.assert_allclose(exact.hessian(x), approximate.hessian(x), rtol=1e-5, atol=1e-6)
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "generated"]
    run = subprocess.run(pytest, cwd=project.root, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]


@pytest.mark.parametrize(
    ("function", "needles"),
    [
        ("branchy", ["cannot", "where", "jax"]),
        ("spectral", ["cumulative_sum", "jax"]),
    ],
)
def test_untraceable_functions_are_refused(
    diffgen: Run, project: Project, function: str, needles: list[str]
) -> None:
    project.write("kinky.py", PIECEWISE)
    before = project.files()
    code, _, err = diffgen("generate", f"kinky:{function}", "--arg", "x=float64[3]", "--ops",
                           "pushforward", "--backend", "sympy")  # fmt: skip
    sys.modules.pop("kinky", None)
    assert code == 2, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert project.files() == before


def test_oversized_expressions_are_refused(
    diffgen: Run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(derivatives, "MAX_NODES", 40)
    derivatives.symbolic_derivatives.cache_clear()
    code, _, err = diffgen("generate", project.ref("rosen"), "--arg", "x=float64[8]", "--ops",
                           "hessian", "--backend", "sympy")  # fmt: skip
    assert code == 2
    assert "the sympy jacobian has" in err and "past the limit of 40" in err
    assert "use the jax or torch backend" in err
