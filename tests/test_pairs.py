"""Second-order pairs across backends: the inner prepared for the outer, and the outer for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import rosen_hess, rosen_hess_prod

from generator.backends.finitediff import outer_error
from generator.pipeline import generate
from generator.target import Target
from tests.conftest import REPO, Project, run_generated_tests
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
    atol = outer_error("sympy").atol(2, float(np.finfo(np.float64).eps), float(scale))
    np.testing.assert_allclose(MIXED.hessian(x), hessian, rtol=0, atol=atol)
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
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[-6:]}
    inners = out.splitlines()[-7].split()
    assert inners == ["finitediff", "sympy", "jax:forward", "jax:reverse", "torch:forward",
                      "torch:reverse"]  # fmt: skip
    assert rows["finitediff"] == ["yes"] * 6  # central differences of any inner derivative
    assert rows["sympy"] == ["-", "yes", "-", "-", "-", "-"]
    assert rows["torch:forward"] == ["-", "yes", "-", "-", "yes", "yes"]
    assert rows["jax:reverse"] == ["-", "yes", "yes", "yes", "-", "-"]


def test_a_pair_across_frameworks_gets_its_own_default_path(diffgen: Run, project: Project) -> None:
    argv = ["generate", project.ref("rosen"), "--arg", "x=float64[3]", "--ops", "hvp", "--no-tests"]
    assert diffgen(*argv, "--backend", "sympy")[0] == 0
    code, out, err = diffgen(*argv, "--backend", "sympy", "--outer", "finitediff")
    assert code == 0, err
    assert out.strip() == "wrote generated/rosen_finitediff_over_sympy.py"
    assert (project.root / "generated/rosen_sympy.py").read_text().count("finitediff") == 0


#: The seed cases of the pairs issue: (module, what it pairs, tolerance relative to the scale).
SEEDS = [
    ("rosen_torch_forward_over_sympy", ("sympy", "torch:forward"), 1e-10),
    ("rosen_jax_forward_over_sympy", ("sympy", "jax:forward"), 1e-10),
    ("rosen_torch_reverse", ("torch:reverse", "torch:forward"), 1e-10),
    ("rosen_finitediff_over_jax_reverse", ("jax:reverse", "finitediff"), 1e-6),
]


@pytest.mark.parametrize(("name", "pair", "tolerance"), SEEDS, ids=[s[0] for s in SEEDS])
def test_seed_pairs_equal_scipy(name: str, pair: tuple[str, str], tolerance: float) -> None:
    """hvp (and hessian) of the Rosenbrock function by each seed pair = scipy's, to 1e-10 of the
    scale for exact pairs and 1e-6 for a finite-difference outer."""
    module = load(REPO / f"generated/{name}.py")
    assert (module.DIFFGEN["backend"], module.DIFFGEN["outer"]) == pair
    rng = np.random.default_rng(7)
    for _ in range(5):
        x, v = rng.uniform(-2.0, 2.0, 10), rng.uniform(-1.0, 1.0, 10)
        product = rosen_hess_prod(x, v)
        got = np.asarray(module.hvp(x, v))
        assert got.dtype == np.float64 and got.shape == (10,)
        np.testing.assert_allclose(got, product, rtol=0, atol=tolerance * np.max(np.abs(product)))
        hessian = np.asarray(module.hessian(x))
        np.testing.assert_allclose(
            hessian, rosen_hess(x), rtol=0, atol=tolerance * np.max(np.abs(rosen_hess(x)))
        )


def test_sympy_under_torch_is_numpy_in_and_out_and_traced() -> None:
    """The module takes the inner's array library (numpy): torch works inside the second-order
    operators only, and in graph mode the sympy inner is traced into the graphs, not called."""
    module = load(REPO / "generated/rosen_torch_forward_over_sympy.py")
    x = np.linspace(-1.0, 1.5, 10)
    assert type(module.hvp(x, np.ones(10))) is np.ndarray
    assert type(module.value_gradient_and_hessian(x)[0]) is np.float64
    text = (REPO / "generated/rosen_torch_forward_over_sympy.py").read_text()
    assert "def _inner_gradient" not in text and "import examples" not in text
    exact = load(REPO / "generated/rosen_sympy.py")
    np.testing.assert_array_equal(module.gradient(x), exact.gradient(x))


def test_sympy_under_jax_calls_the_printed_inner() -> None:
    text = (REPO / "generated/rosen_jax_forward_over_sympy.py").read_text()
    assert "def _inner_gradient(x: jax.Array | npt.NDArray[np.float64]) -> jax.Array:" in text
    assert "jax.numpy.stack" in text and "import examples" not in text


def test_finitediff_over_jax_keeps_jax_arrays_and_float64() -> None:
    """A finitediff outer computes in numpy over the compiled jax inner, and returns jax arrays
    of the spec's dtype even with jax's x64 mode off (the caller's setting)."""
    import jax

    module = load(REPO / "generated/rosen_finitediff_over_jax_reverse.py")
    x, v = np.linspace(-1.0, 1.5, 10), np.ones(10)
    with jax.enable_x64(False):
        gradient, product = module.gradient_and_hvp(x, v)
    for result in (gradient, product):
        assert isinstance(result, jax.Array) and result.dtype == np.float64
    np.testing.assert_allclose(np.asarray(product), rosen_hess_prod(x, v), rtol=1e-7)


def test_jax_export_is_refused_over_a_sympy_inner(diffgen: Run, project: Project) -> None:
    before = project.files()
    argv = ["--arg", "x=float64[3]", "--ops", "hvp", "--backend", "sympy", "--outer", "jax:forward"]
    code, _, err = diffgen("generate", project.ref("rosen"), *argv, "--jax-export")
    assert code == 2
    assert "--jax-export does not apply to --backend sympy" in err
    assert project.files() == before


@pytest.mark.parametrize(
    ("inner", "outer"),
    [("sympy", "torch:forward"), ("sympy", "jax:reverse"), ("jax:forward", "finitediff"),
     ("torch:reverse", "finitediff")],
)  # fmt: skip
def test_pairs_across_frameworks_in_float32(inner: str, outer: str, tmp_path: Path) -> None:
    """A float32 scalar function (curve) with a float32 constant through each kind of pair
    across frameworks: the module's own tests (values, dtypes, shapes, out=, batches) pass."""
    target = Target("examples.curve:curve", args=(("t", "float32[]"), ("radius", "float32[]")),
                    backend=inner, outer=outer, batch=2)  # fmt: skip
    (tmp_path / "generated").mkdir()
    for file in generate(target, REPO):
        (tmp_path / "generated" / file.path.name).write_text(file.text)
    run_generated_tests(tmp_path)
