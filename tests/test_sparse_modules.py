"""Sparse numpy modules (--sparse): sympy writes the nonzeros, finitediff colors its
differences; results are csr_arrays of a fixed pattern that match dense modules, and bad input
exits 2 with nothing written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse

from generator.fingerprint import fingerprint
from generator.measure.loader import load
from generator.sparse_options import SparseOptions
from generator.target import Target
from tests.conftest import Project

PROBLEMS = """
from array_api_compat import array_namespace


def rosen(x):
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def brusselator(y, a, b, alpha):
    xp = array_namespace(y)
    u, v = y[0], y[1]
    n = u.shape[0]

    def lap(w):
        up = xp.concat([w[-1:, :], w[:-1, :]], axis=0)
        down = xp.concat([w[1:, :], w[:1, :]], axis=0)
        left = xp.concat([w[:, -1:], w[:, :-1]], axis=1)
        right = xp.concat([w[:, 1:], w[:, :1]], axis=1)
        return (up + down + left + right - 4.0 * w) * float((n - 1) ** 2)

    du = alpha * lap(u) + b + u * u * v - (a + 1.0) * u
    dv = alpha * lap(v) + a * u - u * u * v
    return xp.stack([du, dv])


def rhs(t, y):
    xp = array_namespace(y)
    forward = 0.04 * y[:-1] - 1.0e4 * y[:-1] * y[1:]
    zero = xp.zeros((1,), dtype=y.dtype)
    return xp.concat([zero, forward]) - xp.concat([forward, zero]) - 3.0 * y * y * xp.exp(-t)


def torch_only(x):
    import torch
    return torch.special.erfcx(torch.as_tensor(x)).numpy() * 2.0
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def problems(project: Project) -> Project:
    project.write("problems.py", PROBLEMS)
    sys.modules.pop("problems", None)
    return project


def generate(diffgen: Run, *argv: str) -> str:
    code, out, err = diffgen("generate", *argv)
    assert code == 0, err
    return out


def test_sparse_rosenbrock_hessians_match_the_dense_ones(problems: Project, diffgen: Run) -> None:
    x_spec = ["--arg", "x=float64[60]"]
    for backend, outer in (
        ("sympy", "sympy"),
        ("finitediff", "finitediff"),
        ("sympy", "finitediff"),
    ):
        name = f"{backend}_{outer}"
        out = generate(
            diffgen,
            "problems:rosen",
            *x_spec,
            "--ops",
            "hessian,gradient",
            "--backend",
            backend,
            "--outer",
            outer,
            "--sparse",
            "-o",
            f"s_{name}.py",
        )
        colors = "no products" if outer == "sympy" else "star coloring, 3 HVPs instead of 60"
        assert (
            f"sparse hessian: 60 x 60, 178 nonzeros (4.94% dense), detected from the traced"
            f" expressions; {colors}" in out
        )
        generate(diffgen, "problems:rosen", *x_spec, "--ops", "hessian", "--backend", backend,
                 "--outer", outer, "--no-tests", "-o", f"d_{name}.py")  # fmt: skip
    x = np.random.default_rng(0).uniform(-1.0, 1.0, 60)
    for name, atol in (("sympy_sympy", 1e-11), ("finitediff_finitediff", 1e-2),
                       ("sympy_finitediff", 1e-5)):  # fmt: skip
        sparse, dense = load(problems.root / f"s_{name}.py"), load(problems.root / f"d_{name}.py")
        first, second = sparse.hessian(x), sparse.hessian(x + 1.0)
        assert type(first) is scipy.sparse.csr_array and first.dtype == np.float64
        assert first.shape == (60, 60) and first.nnz == 178
        assert np.shares_memory(first.indices, second.indices)  # the structure is shared
        assert not first.indices.flags.writeable and first.indices.dtype == np.int32
        reference = dense.hessian(x)
        np.testing.assert_allclose(first.toarray(), reference, rtol=0.0, atol=atol)
        np.testing.assert_array_equal(first.toarray(), first.toarray().T)  # exactly symmetric
        rows, cols = sparse.HESSIAN_ROWS, sparse.HESSIAN_COLS
        assert rows.size == 119 and np.all(rows >= cols) and not rows.flags.writeable
        np.testing.assert_allclose(sparse.hessian_values(x), reference[rows, cols], atol=atol)
        np.testing.assert_array_equal(sparse.hessian_values(x), first.toarray()[rows, cols])
        assert sparse.hessian(x + 1.0, out=first) is first
        np.testing.assert_array_equal(first.toarray(), second.toarray())
        value = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
        assert type(sparse.value(x)) is np.float64 and np.isclose(sparse.value(x), value)
        assert sparse.DIFFGEN["sparse"]["hessian"]["nnz"] == 178
        with pytest.raises(ValueError, match=r"^out: expected a writable scipy\.sparse\.csr_array"):
            sparse.hessian(x, out=scipy.sparse.csr_array(np.eye(60)))
    tests = sorted(str(p) for p in problems.root.glob("test_s_*.py"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *tests],
        cwd=problems.root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_brusselator_and_ode_jacobians(problems: Project, diffgen: Run) -> None:
    bru = ["--arg", "y=float64[2,8,8]", "--arg", "a=float64[]", "--arg", "b=float64[]",
           "--arg", "alpha=float64[]", "--ops", "jacobian", "--sparse"]  # fmt: skip
    out = generate(diffgen, "problems:brusselator", *bru, "--backend", "finitediff", "-o", "bf.py")
    result = subprocess.run(  # a matrix past 4,000 entries: its reference is its values
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "test_bf.py"],
        cwd=problems.root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0 and " passed" in result.stdout, result.stdout[-3000:]
    bru.append("--no-tests")
    assert "sparse jacobian: 128 x 128, 768 nonzeros (4.69% dense)" in out
    generate(diffgen, "problems:brusselator", *bru, "--backend", "sympy", "-o", "bs.py")
    fd, exact = load(problems.root / "bf.py"), load(problems.root / "bs.py")
    rng = np.random.default_rng(1)
    y, a, b, alpha = rng.uniform(0.1, 0.9, (2, 8, 8)), np.float64(3.4), np.float64(1.0), 0.002
    colored, symbolic = fd.jacobian(y, a, b, alpha), exact.jacobian(y, a, b, alpha)
    assert fd.DIFFGEN["sparse"]["jacobian"]["colors"] < 16  # vs 128 columns
    np.testing.assert_array_equal(colored.indices, symbolic.indices)
    np.testing.assert_allclose(colored.toarray(), symbolic.toarray(), rtol=0.0, atol=1e-6)
    np.testing.assert_array_equal(
        fd.jacobian_values(y, a, b, alpha), colored.toarray()[fd.JACOBIAN_ROWS, fd.JACOBIAN_COLS]
    )
    ode = ["--arg", "t=float64[]", "--arg", "y=float32[30]", "--wrt", "y", "--ops", "jacobian",
           "--backend", "finitediff", "--sparse", "--no-tests", "-o", "ode.py"]  # fmt: skip
    assert "sparse jacobian: 30 x 30, 88 nonzeros" in generate(diffgen, "problems:rhs", *ode)
    module = load(problems.root / "ode.py")
    yv = rng.uniform(0.1, 0.9, 30).astype(np.float32)
    jac = module.jacobian(np.float64(0.5), yv)
    assert jac.dtype == np.float32 and jac.nnz == 88
    expected = np.diag(-6.0 * yv.astype(np.float64) * np.exp(-0.5))
    band = 0.04 - 1.0e4 * yv[1:].astype(np.float64)
    expected[np.arange(1, 30), np.arange(29)] += band
    expected[np.arange(29), np.arange(29)] -= band
    inner = -1.0e4 * yv[:-1].astype(np.float64)
    expected[np.arange(1, 30), np.arange(1, 30)] += inner
    expected[np.arange(29), np.arange(1, 30)] -= inner
    np.testing.assert_allclose(jac.toarray(), expected, rtol=0.0, atol=2e-1)  # float32 steps


def test_a_users_pattern(problems: Project, diffgen: Run) -> None:
    n = 20
    pentadiagonal = sum(np.eye(n, k=k) for k in range(-2, 3))
    scipy.sparse.save_npz(problems.root / "five.npz", scipy.sparse.csr_array(pentadiagonal))
    args = ["problems:rosen", "--arg", f"x={'float64'}[{n}]", "--ops", "hessian", "--backend",
            "finitediff", "--no-tests"]  # fmt: skip
    out = generate(diffgen, *args, "--sparsity", "five.npz", "-o", "user.py")
    assert "sparse hessian: 20 x 20, 94 nonzeros (23.5% dense), the user's pattern, read from" \
           " five.npz; star coloring, 5 HVPs instead of 20" in out  # fmt: skip
    target = Target(problems.ref("rosen").replace(problems.module, "problems"),
                    options=(SparseOptions(pattern="five.npz"),))  # fmt: skip
    before = fingerprint(target, problems.root)
    scipy.sparse.save_npz(problems.root / "five.npz", scipy.sparse.csr_array(np.eye(n)))
    assert fingerprint(target, problems.root).function != before.function  # the file counts
    scipy.sparse.save_npz(problems.root / "five.npz", scipy.sparse.csr_array(pentadiagonal))
    assert fingerprint(target, problems.root) == before
    module = load(problems.root / "user.py")
    x = np.linspace(-1.0, 1.0, n)
    hessian = module.hessian(x).toarray()
    assert abs(hessian[0, 2]) < 1e-4 and abs(hessian[0, 1] + 400 * x[0]) < 1e-3
    tridiagonal = sum(np.eye(n, k=k) for k in range(-1, 2))
    tridiagonal[5, 6] = tridiagonal[6, 5] = 0.0
    scipy.sparse.save_npz(problems.root / "misses.npz", scipy.sparse.csr_array(tridiagonal))
    before = problems.files()
    code, _, err = diffgen(
        "generate", *args[:-1], "--sparsity", "misses.npz", "-o", "bad.py"
    )  # tests on: their references find the missing entry
    assert code == 2 and "the sparsity pattern of the hessian misses entry (5, 6)" in err
    assert problems.files() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["problems:rosen", "--arg", "x=float64[8]", "--ops", "hessian", "--backend",
          "finitediff", "--sparsity", "wrong.npz"],
         "the pattern in {root}/wrong.npz is 9 x 9, but the Hessian of problems:rosen is 8 x 8"),
        (["problems:torch_only", "--arg", "x=float64[8]", "--ops", "jacobian", "--backend",
          "finitediff", "--sparse"], "no sparsity detector sees through problems:torch_only"),
        (["problems:rosen", "--arg", "x=float64[8]", "--ops", "gradient,hvp", "--backend",
          "sympy", "--sparse"], "--sparse has nothing to do for gradient, hvp"),
        (["problems:rhs", "--arg", "t=float64[]", "--arg", "y=float64[8]", "--wrt", "y",
          "--ops", "jacobian", "--backend", "finitediff", "--sparse", "--sparse-mode",
          "reverse"], "--sparse-mode reverse is not possible with --backend finitediff"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_and_writes_nothing(
    problems: Project, diffgen: Run, argv: list[str], message: str
) -> None:
    scipy.sparse.save_npz(problems.root / "wrong.npz", scipy.sparse.csr_array(np.eye(9)))
    before = problems.files()
    code, out, err = diffgen("generate", *argv)
    assert code == 2 and out == ""
    assert message.format(root=problems.root.resolve()) in err, err
    assert "why: " in err and "fix: " in err
    assert problems.files() == before


def test_a_users_size_gets_exact_references(problems: Project, diffgen: Run) -> None:
    """At n = 1,000 the dense Hessian has 10**6 entries, past the exact references' limit; a
    sparse module's references evaluate only its 2,998 structural nonzeros."""
    generate(diffgen, "problems:rosen", "--arg", "x=float64[1000]", "--ops", "gradient,hessian",
             "--backend", "finitediff", "--sparse", "-o", "big.py")  # fmt: skip
    text = " ".join((problems.root / "test_big.py").read_text().split())
    assert "exact SymPy derivatives evaluated with mpmath at 50 digits" in text
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "test_big.py"],
        cwd=problems.root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0 and "16 passed" in result.stdout, result.stdout[-3000:]
