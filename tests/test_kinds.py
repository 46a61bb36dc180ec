"""Scalar, vector and matrix inputs and outputs, float32 and float64, with constants, written
in plain numpy (not the Array API): finitediff takes them.

Each module is generated and its own generated tests are run; the float32 kinds the scenario
table lacks (a matrix output, a scalar input and output) are compared with derivatives written
out by hand (the float64 kinds are the table's, tests/test_scenarios.py), and a constant of the
wrong shape is refused.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from generator.backends.finitediff import ERROR as FINITEDIFF
from generator.pipeline import generate_and_write
from generator.target import Target
from tests.conftest import Project
from tests.test_generated_module import load

FUNCTIONS = """
import numpy as np

def cube_sum(X):             # matrix -> scalar
    return np.sum(X ** 3)

def square(X):               # matrix -> matrix
    return X * X

def scaled(t, A):            # scalar -> matrix, with a constant matrix
    return t * A + t ** 2

def sine(t):                 # scalar -> scalar
    return np.sin(t)

def rows(X, w, s):           # matrix -> vector, with a vector and a scalar constant
    return s * np.tanh(X @ w)
"""

# (function, specs, expected operators)
CASES = [
    ("cube_sum", {"X": "float64[2,3]"}, "pushforward,pullback,gradient,hvp,hessian"),
    ("square", {"X": "float32[2,2]"}, "pushforward,pullback,jacobian"),
    ("scaled", {"t": "float64[]", "A": "float64[2,3]"},
     "pushforward,pullback,derivative,second_derivative"),
    ("sine", {"t": "float32[]"},
     "pushforward,pullback,derivative,gradient,second_derivative,hvp,hessian"),
    ("rows", {"X": "float64[3,2]", "w": "float64[2]", "s": "float64[]"},
     "pushforward,pullback,jacobian"),
]  # fmt: skip


@pytest.fixture
def modules(project: Project) -> dict[str, ModuleType]:
    project.write(f"{project.module}_kinds.py", FUNCTIONS)
    for function, specs, _ in CASES:
        target = Target(
            function=f"{project.module}_kinds:{function}",
            args=tuple(specs.items()),
            ops=("all",),
            backend="finitediff",
        )
        generate_and_write(target, project.root, force=False)
    sys.modules.pop(f"{project.module}_kinds", None)
    modules = {f: load(project.root / f"generated/{f}_finitediff.py") for f, _, _ in CASES}
    for function, _, ops in CASES:
        assert modules[function].DIFFGEN["operators"] == tuple(ops.split(","))
    return modules


def test_generated_tests_pass(modules: dict[str, ModuleType], project: Project) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "generated",
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_float32_kinds_against_hand_derivatives(modules: dict[str, ModuleType]) -> None:
    eps32 = float(np.finfo(np.float32).eps)
    S = np.array([[0.5, 2.0], [-1.0, 0.25]], dtype=np.float32)
    jacobian = modules["square"].jacobian(S)
    assert jacobian.dtype == np.float32 and jacobian.shape == (4, 4)
    expected = np.diag(2 * S.astype(np.float64).reshape(-1))
    scale = max(1.0, float(np.max(S * S)), float(np.max(np.abs(expected))))
    np.testing.assert_allclose(jacobian, expected, rtol=0, atol=FINITEDIFF.atol(1, eps32, scale))

    t = np.float32(0.5)
    value, derivative, second = modules["sine"].value_derivative_and_second_derivative(t)
    assert type(value) is type(derivative) is type(second) is np.float32
    for got, want, order in ((value, np.sin(0.5), 0), (derivative, np.cos(0.5), 1),
                             (second, -np.sin(0.5), 2)):  # fmt: skip
        assert abs(got - want) < FINITEDIFF.atol(order, eps32, 1.0), (order, got, want)


def test_a_constant_of_the_wrong_shape_is_refused(modules: dict[str, ModuleType]) -> None:
    X, w, s = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]), np.array([1.0, -2.0]), 1.5
    assert modules["rows"].jacobian(X, w, s).shape == (3, 6)
    with pytest.raises(ValueError, match=r"^w: expected float64\[2\], got float64\[3\]"):
        modules["rows"].jacobian(X, np.ones(3), s)


def test_second_parameter_can_be_active(project: Project) -> None:
    target = Target(
        function=f"{project.module}:second_arg_active",
        args=(("c", "float64[]"), ("x", "float64[3]")),
        wrt="x",
        ops=("gradient",),
        backend="finitediff",
    )
    path, _ = generate_and_write(target, project.root, force=False)
    module = load(Path(path))
    x = np.array([0.5, 1.0, 2.0])
    # in the function's own order, second_arg_active(c, x)
    np.testing.assert_allclose(module.gradient(2.0, x), 6.0 * x**2, rtol=1e-9)


@pytest.mark.parametrize("backend", ["finitediff", "sympy"])
def test_hvp_alone(project: Project, backend: str) -> None:
    """A module whose operators never return the value (hvp, gradient_and_hvp) still gets
    tolerances scaled by the value, and its generated tests pass."""
    target = Target(project.ref("rosen"), args=(("x", "float64[5]"),), ops=("hvp",),
                    backend=backend)  # fmt: skip
    generate_and_write(target, project.root, force=False)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "generated"],
        cwd=project.root,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:]
