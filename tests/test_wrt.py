"""Operators in the function's own argument order: `jacobian(t, y)` for a solver's `f(t, y)`.

Every backend's Robertson Jacobian goes to scipy.integrate.solve_ivp(method="BDF") as `jac=`
without a lambda, and the solve agrees with the one on scipy's own finite differences; the
tangents follow the active argument; `--wrt-first` keeps the old order; the generated tests of
first- and second-order modules whose active argument is not the first parameter pass.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from generator.errors import DiffgenError
from generator.measure.loader import load
from generator.pipeline import generate_and_write
from generator.target import Target
from tests.conftest import Project, run_generated_tests

ODE = """
from array_api_compat import array_namespace


def robertson(t, y):
    xp = array_namespace(t, y)
    k1, k2, k3 = 0.04, 3.0e7, 1.0e4
    y1, y2, y3 = y[0], y[1], y[2]
    return xp.stack([-k1 * y1 + k3 * y2 * y3, k1 * y1 - k3 * y2 * y3 - k2 * y2**2, k2 * y2**2])


def weighted(c, x, s):
    xp = array_namespace(c, x, s)
    return s * xp.sum(c * x**3) + xp.sum(xp.sin(x) * x)
"""

BACKENDS = ("finitediff", "sympy", "jax:forward", "jax:reverse", "torch:forward", "torch:reverse")


def robertson_jacobian(y: np.ndarray) -> np.ndarray:
    k1, k2, k3 = 0.04, 3.0e7, 1.0e4
    return np.array(
        [
            [-k1, k3 * y[2], k3 * y[1]],
            [k1, -k3 * y[2] - 2 * k2 * y[1], -k3 * y[1]],
            [0.0, 2 * k2 * y[1], 0.0],
        ]
    )


def generated(project: Project, function: str, name: str, **fields: object) -> ModuleType:
    """Generate (with tests) and import one module of a function of ODE."""
    source = f"odes_{project.module}"  # a module name of this test's own
    project.write(f"{source}.py", ODE)
    target = Target(f"{source}:{function}", output=f"generated/{name}.py", **fields)  # type: ignore[arg-type]
    path, _ = generate_and_write(target, project.root, force=False)
    return load(Path(path))


def parameters(function: Callable[..., object]) -> list[str]:
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind is not p.KEYWORD_ONLY
    ]


def test_robertson_jacobian_drops_into_solve_ivp(project: Project) -> None:
    specs = (("t", "float64[]"), ("y", "float64[3]"))
    modules = {}
    for backend in BACKENDS:
        modules[backend] = generated(project, "robertson", f"rob_{backend.replace(':', '_')}",
                                     args=specs, wrt="y", ops=("all",), backend=backend,
                                     batch=2)  # fmt: skip
    run_generated_tests(project.root)  # values, batches, out=, the relations: in (t, y) order

    robertson = importlib.import_module(f"odes_{project.module}").robertson

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        return np.asarray(robertson(np.asarray(t), y))

    y0 = np.array([1.0, 0.0, 0.0])
    options = {"method": "BDF", "rtol": 1e-8, "atol": 1e-10}
    reference = solve_ivp(rhs, (0.0, 1e5), y0, **options)  # scipy's finite differences
    assert reference.status == 0
    for backend, module in modules.items():
        assert parameters(module.jacobian) == ["t", "y"], backend
        assert parameters(module.pushforward) == ["t", "y", "dx"], backend
        assert parameters(module.pullback_batch) == ["t", "y", "dys"], backend
        point = np.array([0.8, 3e-5, 0.2])
        atol = 1e-3 if backend == "finitediff" else 1e-6  # of entries up to 1.8e3
        np.testing.assert_allclose(
            np.asarray(module.jacobian(0.0, point)), robertson_jacobian(point), rtol=0, atol=atol
        )
        solved = solve_ivp(rhs, (0.0, 1e5), y0, jac=module.jacobian, **options)
        assert solved.status == 0 and solved.njev > 0, backend
        np.testing.assert_allclose(solved.y[:, -1], reference.y[:, -1], rtol=1e-6, atol=1e-10)


def test_wrt_first_keeps_the_old_order(project: Project) -> None:
    specs = (("t", "float64[]"), ("y", "float64[3]"))
    old = generated(project, "robertson", "old", args=specs, wrt="y", ops=("jacobian", "pullback"),
                    backend="sympy", wrt_first=True, batch=2)  # fmt: skip
    assert parameters(old.jacobian) == ["y", "t"]
    assert parameters(old.pullback) == ["y", "dy", "t"]
    assert parameters(old.pullback_batch) == ["y", "dys", "t"]
    assert old.DIFFGEN["wrt_first"] is True
    assert "Arguments: y first, then its tangent, then the constants (--wrt-first)." in (
        old.__doc__ or ""
    )
    point = np.array([0.8, 3e-5, 0.2])
    np.testing.assert_allclose(old.jacobian(point, 0.0), robertson_jacobian(point), rtol=1e-14)
    new = generated(project, "robertson", "new", args=specs, wrt="y", ops=("jacobian",),
                    backend="sympy")  # fmt: skip
    assert "wrt_first" not in new.DIFFGEN
    assert "Arguments in the function's order (t, y), each tangent right after y." in (
        new.__doc__ or ""
    )
    np.testing.assert_array_equal(new.jacobian(0.0, point), old.jacobian(point, 0.0))
    with pytest.raises(ValueError, match=r"^t: expected float64\[\], got float64\[3\]"):
        new.jacobian(point, 0.0)  # the old order is refused by the specs, not silently swapped
    run_generated_tests(project.root)


@pytest.mark.parametrize(
    "outer, inner",
    [("sympy", "sympy"), ("finitediff", "sympy"), ("jax:forward", "jax:reverse"),
     ("torch:forward", "torch:reverse"), ("finitediff", "finitediff")],
)  # fmt: skip
def test_second_order_with_the_active_argument_in_the_middle(
    project: Project, outer: str, inner: str
) -> None:
    specs = (("c", "float64[4]"), ("x", "float64[4]"), ("s", "float64[]"))
    module = generated(project, "weighted", "weighted", args=specs, wrt="x", ops=("all",),
                       backend=inner, outer=outer, batch=3)  # fmt: skip
    assert parameters(module.hvp) == ["c", "x", "dx", "s"]
    assert parameters(module.hvp_batch) == ["c", "x", "dxs", "s"]
    assert parameters(module.value_gradient_and_hessian) == ["c", "x", "s"]
    c, x, s = np.array([0.5, -1.0, 2.0, 1.5]), np.array([0.3, -0.5, 0.8, 1.1]), 1.5
    hessian = np.diag(6 * s * c * x + 2 * np.cos(x) - x * np.sin(x))
    got = np.asarray(module.hessian(c, x, s))
    np.testing.assert_allclose(got, hessian, rtol=0, atol=1e-5 if "finitediff" in outer else 1e-12)
    run_generated_tests(project.root)


def test_a_non_boolean_wrt_first_is_refused() -> None:
    with pytest.raises(DiffgenError) as raised:
        Target("m:f", wrt_first="yes")  # type: ignore[arg-type]
    assert raised.value.what == "wrt_first 'yes' is not true or false"


def test_several_active_arguments_are_refused_with_the_way_round(
    diffgen: Callable[..., tuple[int, str, str]], project: Project
) -> None:
    """`--wrt w,b` (and `wrt = ["w", "b"]`) exit 2 with what, why and what to do; nothing is
    written."""
    project.write("logistic.py", LOSS)
    before = project.files()
    code, out, err = diffgen("generate", "logistic:loss", "--arg", "w=float64[20]", "--arg",
                             "b=float64[]", "--arg", "X=float64[200,20]", "--arg",
                             "y=float64[200]", "--wrt", "w,b", "--ops", "gradient",
                             "--backend", "jax:reverse")  # fmt: skip
    assert (code, out) == (2, "")
    assert "--wrt w,b names 2 active arguments" in err
    assert "not implemented yet" in err and "differentiate one of them (--wrt w)" in err
    assert project.files() == before
    entry = (
        '[[tool.diffgen.targets]]\nfunction = "logistic:loss"\nwrt = ["w", "b"]\n'
        'args = { w = "float64[20]", b = "float64[]", X = "float64[200,20]", y = "float64[200]" }\n'
    )
    project.write("pyproject.toml", entry)
    code, out, err = diffgen("build")
    assert (code, out) == (2, "")
    assert "--wrt w,b names 2 active arguments" in err
    assert not (project.root / "generated").exists()


LOSS = """
from array_api_compat import array_namespace


def loss(w, b, X, y):
    xp = array_namespace(w, b, X, y)
    return xp.mean(xp.log(1.0 + xp.exp(-y * (X @ w + b))))
"""


def test_bench_calls_modules_and_baselines_each_in_its_order(project: Project) -> None:
    """`diffgen bench` calls a module in the function's order and the hand-written baselines
    (jax.grad, torch.func, which take x first) with the function's arguments in place."""
    from generator.inspect_target import inspect_target
    from generator.measure.baselines import active_first, arguments
    from generator.measure.bench import in_signature_order

    project.write(f"odes_{project.module}.py", ODE)
    target = Target(f"odes_{project.module}:robertson", args=(("t", "float64[]"),
                    ("y", "float64[3]")), wrt="y", ops=("pushforward",))  # fmt: skip
    inspected = inspect_target(target, project.root)
    y, dx, t = arguments(inspected, "pushforward")
    assert [np.shape(a) for a in (y, dx, t)] == [(3,), (3,), ()]
    ordered = in_signature_order(inspected, "pushforward")
    for got, want in zip(ordered, (t, y, dx), strict=True):  # the same seeded draws
        np.testing.assert_array_equal(got, want)
        assert np.shape(got) == np.shape(want)
    moved = active_first(inspected)
    np.testing.assert_array_equal(moved(y, t), inspected.function(t, y))
