"""Second-order pairs across backends: the inner prepared for the outer, and the outer for it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.optimize import rosen_hess, rosen_hess_prod

from tests.conftest import REPO, Project
from tests.test_generated_module import load

Run = Callable[..., tuple[int, str, str]]
MIXED = load(REPO / "generated/rosen_finitediff_over_sympy.py")
NESTED = load(REPO / "generated/rosen_finitediff.py")


@pytest.mark.parametrize("seed", range(3))
def test_finitediff_over_exact_sympy_inner(seed: int) -> None:
    """Central differences (eps**(1/3)) of an exact gradient err by ~eps**(2/3) of the scale:
    far below finitediff over finitediff (eps**(1/2))."""
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-2.0, 2.0, 10), rng.uniform(-1.0, 1.0, 10)
    hessian, product = rosen_hess(x), rosen_hess_prod(x, v)
    scale = np.max(np.abs(hessian))
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(MIXED.hessian(x), hessian, rtol=0, atol=30 * eps ** (2 / 3) * scale)
    np.testing.assert_allclose(
        MIXED.hvp(x, v), product, rtol=0, atol=1e-10 * np.max(np.abs(product))
    )
    mixed_error = np.max(np.abs(MIXED.hessian(x) - hessian))
    nested_error = np.max(np.abs(NESTED.hessian(x) - hessian))
    assert mixed_error * 30 < nested_error


def test_mixed_module_does_not_import_the_user_function() -> None:
    lines = (REPO / "generated/rosen_finitediff_over_sympy.py").read_text().splitlines()
    imported = {line.split()[1] for line in lines if line.startswith(("import ", "from "))}
    assert not any(name.startswith("examples") for name in imported), imported
    assert MIXED.DIFFGEN["backend"] == "sympy" and MIXED.DIFFGEN["outer"] == "finitediff"


def test_gradient_comes_from_the_inner_exactly() -> None:
    exact = load(REPO / "generated/rosen_sympy.py")
    x = np.linspace(-1.0, 1.5, 10)
    np.testing.assert_array_equal(MIXED.gradient_and_hvp(x, np.ones(10))[0], exact.gradient(x))


def test_refused_pair_lists_the_valid_outers(diffgen: Run, project: Project) -> None:
    code, _, err = diffgen("generate", project.ref("rosen"), "--arg", "x=float64[3]", "--ops",
                           "hvp", "--backend", "finitediff", "--outer", "sympy")  # fmt: skip
    assert code == 2
    assert "--outer sympy over --backend finitediff is not a valid second-order pair" in err
    assert "can be differentiated only by: finitediff" in err


def test_backends_lists_the_pairs(diffgen: Run) -> None:
    code, out, _ = diffgen("backends")
    assert code == 0
    assert "finitediff over sympy" in out and "sympy over sympy" in out


def test_a_pair_across_frameworks_gets_its_own_default_path(diffgen: Run, project: Project) -> None:
    argv = ["generate", project.ref("rosen"), "--arg", "x=float64[3]", "--ops", "hvp", "--no-tests"]
    assert diffgen(*argv, "--backend", "sympy")[0] == 0
    code, out, err = diffgen(*argv, "--backend", "sympy", "--outer", "finitediff")
    assert code == 0, err
    assert out.strip() == "wrote generated/rosen_finitediff_over_sympy.py"
    assert (project.root / "generated/rosen_sympy.py").read_text().count("finitediff") == 0
