"""The jax backends: float32 in every mode and pair, compile-once, x64, export, refusals.

Every operator of every jax pair is checked on the scenario table (tests/test_scenarios.py, in
float64 and float32 with a scalar output); here two float32 kinds the table lacks (a matrix
output, a scalar input and output) go through each pair against derivatives written by hand.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from generator.backends.base import AD_ERROR
from generator.backends.jax_options import JaxOptions
from generator.operators import OPERATORS
from generator.pipeline import generate_and_write
from generator.target import Target
from tests.conftest import REPO, Project
from tests.test_generated_module import load

jax = pytest.importorskip("jax")

FUNCTIONS = """
import jax.numpy as jnp
import numpy as np


def square(X):               # matrix -> matrix, float32
    return X * X


def sine(t):                 # scalar -> scalar, float32, jax.numpy directly
    return jnp.sin(t)


def rows(X, w, s):           # matrix -> vector, with a vector and a scalar constant
    return s * jnp.tanh(X @ w)


def untraceable(x):          # numpy on the argument: fine for the probe, not for jax
    return float(np.sum(np.asarray(x) ** 2))
"""

Refs = dict[str, np.ndarray]


def order(quantity: str) -> int:
    """0 for the value, else the operator's order (the error model's index)."""
    return 0 if quantity == "value" else OPERATORS[quantity].order


def square_refs(X: np.ndarray, dX: np.ndarray, dY: np.ndarray) -> Refs:
    J = np.diag(2 * X.reshape(-1))
    return {"value": X * X, "jacobian": J, "pushforward": 2 * X * dX, "pullback": 2 * X * dY}


def sine_refs(t: np.ndarray, dt: np.ndarray, dy: np.ndarray) -> Refs:
    s, c = np.sin(t), np.cos(t)
    return {
        "value": s,
        "derivative": c,
        "gradient": c,
        "second_derivative": -s,
        "hessian": np.array([[-s]]),
        "hvp": -s * dt,
        "pushforward": c * dt,
        "pullback": c * dy,
    }


#: (function, specs, constants, hand derivatives, operators): float32 kinds the scenario table
#: lacks (it has matrix -> matrix, scalar -> scalar and rows(X, w, s)'s kinds in float64).
SCENARIOS: dict[str, tuple[dict[str, str], tuple[object, ...], Callable[..., Refs], str]] = {
    "square": ({"X": "float32[2,2]"}, (), square_refs, "pushforward,pullback,jacobian"),
    "sine": (
        {"t": "float32[]"},
        (),
        sine_refs,
        "pushforward,pullback,derivative,gradient,second_derivative,hvp,hessian",
    ),
}

# (inner --backend, --outer): forward-over-reverse, reverse-over-forward, reverse-over-reverse,
# forward-over-forward; the inner backend is the one of the first-order operators.
PAIRS = [
    ("jax:reverse", "jax:forward"),
    ("jax:forward", "jax:reverse"),
    ("jax:reverse", "jax:reverse"),
    ("jax:forward", "jax:forward"),
]
MATRIX = [
    pytest.param(name, i, id=f"{name}-{PAIRS[i][1]}-over-{PAIRS[i][0]}")
    for name in SCENARIOS
    for i in range(len(PAIRS))
]

#: The error model's bound, AD being exact up to rounding: 64 eps of max(1, |f(x)|, |ref|).
FACTOR = AD_ERROR.factor


def generate(
    project: Project,
    function: str,
    specs: dict[str, str],
    pair: tuple[str, str],
    ops: str = "all",
    export: bool = False,
) -> ModuleType:
    project.write(f"{project.module}_jax.py", FUNCTIONS)
    name = f"{function}_{pair[0][4:]}_{pair[1][4:]}{'_export' if export else ''}"
    target = Target(
        function=f"{project.module}_jax:{function}",
        args=tuple(specs.items()),
        ops=tuple(ops.split(",")),
        backend=pair[0],
        outer=pair[1],
        output=f"generated/{name}.py",
        tests=False,
        options=(JaxOptions(export=export),),
    )
    generate_and_write(target, project.root, force=False)
    return load(project.root / f"generated/{name}.py")


@pytest.mark.parametrize(("name", "pair"), MATRIX)
def test_every_operator_matches_hand_derivatives(project: Project, name: str, pair: int) -> None:
    specs, constants, hand, ops = SCENARIOS[name]
    module = generate(project, name, specs, PAIRS[pair])
    assert module.DIFFGEN["operators"] == tuple(ops.split(","))
    x_spec = next(iter(specs.values()))
    dtype = np.dtype(x_spec.partition("[")[0])
    eps = float(np.finfo(dtype).eps)
    shape = tuple(int(d) for d in x_spec[x_spec.index("[") + 1 : -1].split(",") if d)
    point = np.random.default_rng(3)
    x = point.uniform(0.2, 0.8, shape).astype(dtype)
    dx = point.uniform(-1, 1, shape).astype(dtype)
    y = np.asarray(hand(x.astype(np.float64), dx.astype(np.float64), 1.0, *constants)["value"])
    dy = point.uniform(-1, 1, y.shape).astype(dtype)
    refs = hand(x.astype(np.float64), dx.astype(np.float64), dy.astype(np.float64), *constants)
    tangents = {"dx": (dx,), "dy": (dy,)}
    for fn_name in module.__all__:
        fn = getattr(module, fn_name)
        tangent = "dx" if "pushforward" in fn_name or "hvp" in fn_name else None
        tangent = "dy" if "pullback" in fn_name else tangent
        results = fn(x, *tangents.get(tangent or "", ()), *constants)
        results = results if isinstance(results, tuple) else (results,)
        names = re.findall(
            r"value|pushforward|pullback|second_derivative|derivative|gradient|"
            r"jacobian|hvp|hessian",
            fn_name,
        )
        if fn_name == "value_derivative_and_second_derivative":
            names = ["value", "derivative", "second_derivative"]
        assert len(results) == len(names), fn_name
        for quantity, result in zip(names, results, strict=True):
            expected = np.asarray(refs[quantity])
            assert isinstance(result, jax.Array), (fn_name, type(result))
            assert result.dtype == dtype, (fn_name, quantity, result.dtype)
            assert result.shape == expected.shape, (fn_name, quantity, result.shape)
            scale = max(1.0, float(np.max(np.abs(y))), float(np.max(np.abs(expected))))
            np.testing.assert_allclose(
                np.asarray(result, dtype=np.float64),
                expected,
                rtol=0,
                atol=AD_ERROR.atol(order(quantity), eps, scale),
                err_msg=f"{fn_name}: {quantity}",
            )


def test_generated_tests_of_a_jax_module_pass(project: Project) -> None:
    project.write(f"{project.module}_jax.py", FUNCTIONS)
    target = Target(
        function=f"{project.module}_jax:rows",
        ops=("all",),
        backend="jax:reverse",
        args=(("X", "float64[3,2]"), ("w", "float64[2]"), ("s", "float64[]")),
    )
    generate_and_write(target, project.root, force=False)
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


NO_RETRACE = """
import sys
import jax
import numpy as np
from jax import monitoring

events = []
monitoring.register_event_duration_secs_listener(lambda name, *_, **__: events.append(name))
TRACE = "/jax/core/compile/jaxpr_trace_duration"
COMPILE = "/jax/core/compile/backend_compile_duration"
sys.path.insert(0, ".")
import generated.rosen_jax_reverse as M

assert TRACE not in events and COMPILE not in events, events  # importing compiles nothing
assert not jax.config.jax_enable_x64, "importing the module changed jax's configuration"
x = np.linspace(0.1, 0.9, 10)


def call_all(value):
    for name in M.__all__:
        fn = getattr(M, name)
        args = {"pushforward_batch": (value, np.stack([x] * 4)),
                "pullback_batch": (value, np.full(4, 2.0)),
                "hvp_batch": (value, np.stack([x] * 4)),
                "pushforward": (value, x), "pullback": (value, 2.0), "hvp": (value, value)}
        key = next((k for k in args if k in name), None)
        fn(*args[key]) if key else fn(value)


call_all(x)
assert events.count(COMPILE) == len(M.__all__), events  # each operator once, on its first call
read_only = x.copy(); read_only.flags.writeable = False
strided = np.linspace(0.1, 0.9, 20)[::2]
with jax.enable_x64(True):
    as_jax = jax.numpy.asarray(x)
    committed = jax.device_put(x, jax.devices()[0])
    weak = jax.numpy.broadcast_to(jax.numpy.asarray(0.5), (10,))
    dy_weak = jax.numpy.asarray(0.5)
    assert weak.weak_type and dy_weak.weak_type and committed.committed
wrong_inputs = (np.zeros(11), np.zeros(10, np.float32), jax.numpy.zeros(10, jax.numpy.float32),
                np.zeros((10, 1)))
inputs = [x, read_only, strided, as_jax, committed, weak, list(x)]
events.clear()
for order in (inputs, inputs[::-1]):
    for value in order:
        call_all(value)
        assert np.array_equal(np.asarray(M.gradient(value)), M.gradient(np.array(value)))
    M.pullback(x, dy_weak)
    M.value_and_pullback(as_jax, np.float64(2.0))
for x64 in (True, False, True):
    jax.config.update("jax_enable_x64", x64)
    for value in (x, as_jax):
        assert M.hessian(value).dtype == np.float64
        M.gradient_and_hvp(value, x)
for wrong in wrong_inputs:
    try:
        M.gradient(wrong)
    except ValueError as error:
        assert str(error).startswith("x: expected float64[10], got "), error
    else:
        raise AssertionError("no ValueError")
assert TRACE not in events and COMPILE not in events, sorted(set(events))
print("ok", len(events))
"""


def test_calls_never_trace_or_compile_again() -> None:
    """Importing compiles nothing; each operator compiles once, on its first call; later calls
    with numpy, jax, read-only, strided, committed, weak-typed arrays and lists, in any order
    and x64 mode, trace and compile nothing, and wrong shapes or dtypes are ValueErrors, not
    new compilations."""
    run = subprocess.run(
        [sys.executable, "-c", NO_RETRACE], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok")


X64_OFF = """
import sys
import jax
import numpy as np
from scipy.optimize import rosen_der, rosen_hess
sys.path.insert(0, ".")
import generated.rosen_jax_reverse as M

assert not jax.config.jax_enable_x64
x = np.linspace(-1.2, 1.3, 10)
g, H = M.gradient(x), M.hessian(x)
assert g.dtype == np.float64 and H.dtype == np.float64, (g.dtype, H.dtype)
# float32 would be off by ~1e-7 relative; float64 AD agrees with scipy to rounding
assert np.max(np.abs(np.asarray(g) - rosen_der(x))) < 1e-12 * np.max(np.abs(rosen_der(x)))
assert np.max(np.abs(np.asarray(H) - rosen_hess(x))) < 1e-12 * np.max(np.abs(rosen_hess(x)))
assert not jax.config.jax_enable_x64
print("ok")
"""


def test_float64_results_with_x64_off_without_changing_the_configuration() -> None:
    run = subprocess.run([sys.executable, "-c", X64_OFF], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"
    docstring = " ".join(load(REPO / "generated/rosen_jax_reverse.py").__doc__.split())
    assert "x64" in docstring and "which the module never changes" in docstring


BLOCKED_EXPORT = """
import importlib.util, sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"generator", "examples", "jinja2", "black",
                                      "sympy", "array_api_compat", "jaxtyping"}:
            raise ImportError(f"{name} is blocked: the exported module must not need it")
sys.meta_path.insert(0, Blocker())
spec = importlib.util.spec_from_file_location("mod", "dense_jax_export.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import numpy as np
x, A = np.linspace(0.1, 0.9, 6), np.outer(np.arange(1.0, 7.0), np.ones(6)) / 10
print([module.gradient(x, A).tolist(), module.hessian(x, A).tolist()])
"""


def test_exported_module_imports_neither_the_function_nor_diffgen(tmp_path: Path) -> None:
    shutil.copy(REPO / "generated/dense_jax_export.py", tmp_path)
    run = subprocess.run(
        [sys.executable, "-c", BLOCKED_EXPORT], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    gradient, hessian = (np.array(v) for v in eval(run.stdout))
    x, A = np.linspace(0.1, 0.9, 6), np.outer(np.arange(1.0, 7.0), np.ones(6)) / 10
    t = np.tanh(A @ x)
    np.testing.assert_allclose(gradient, A.T @ (1 - t**2) + x, rtol=0, atol=1e-13)
    expected = A.T @ np.diag(-2 * t * (1 - t**2)) @ A + np.eye(6)
    np.testing.assert_allclose(hessian, expected, rtol=0, atol=1e-13)
    lines = (REPO / "generated/dense_jax_export.py").read_text().splitlines()
    imports = sorted({line.split()[1] for line in lines if line.startswith(("import ", "from "))})
    assert imports == [
        "__future__",
        "base64",
        "collections.abc",
        "jax",
        "numpy",
        "numpy.typing",
        "operator",
        "threading",
        "types",
        "typing",
    ]


def artifacts(path: Path) -> dict[str, bytes]:
    text = path.read_text()
    blobs = re.findall(r"^(_\w+_EXPORTED): Final = \(\n((?:    \"[^\"]*\"\n)+)\)", text, re.M)
    return {name: base64.b64decode("".join(re.findall(r'"([^"]*)"', body))) for name, body in blobs}


def test_artifacts_are_lowered_for_cpu_and_cuda() -> None:
    found = artifacts(REPO / "generated/dense_jax_export.py")
    module = load(REPO / "generated/dense_jax_export.py")
    assert set(found) == {f"_{name.upper()}_EXPORTED" for name in module.__all__}
    for blob in found.values():
        assert jax.export.deserialize(bytearray(blob)).platforms == ("cpu", "cuda")


def test_artifacts_do_not_depend_on_where_the_project_is(tmp_path: Path) -> None:
    texts = []
    for where in ("one", "second/nested"):
        root = tmp_path / where
        shutil.copytree(REPO / "examples", root / "examples")
        target = Target(
            function="examples.dense:dense",
            dims=(("n", 4),),
            ops=("gradient",),
            backend="jax:reverse",
            options=(JaxOptions(export=True),),
            tests=False,
        )
        (path,) = generate_and_write(target, root, force=False)
        texts.append(Path(path).read_text())
        for module in [m for m in sys.modules if m == "examples" or m.startswith("examples.")]:
            del sys.modules[module]
    assert texts[0] == texts[1]
    assert str(tmp_path).encode() not in b"".join(artifacts(Path(path)).values())


def test_exported_module_runs_on_a_gpu_when_there_is_one(tmp_path: Path) -> None:
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if not gpus:
        pytest.skip("no GPU (or no CUDA-enabled jaxlib) on this machine")
    module = load(REPO / "generated/dense_jax_export.py")
    x, A = np.linspace(0.1, 0.9, 6), np.eye(6)
    gradient = module.gradient(jax.device_put(x, gpus[0]), jax.device_put(A, gpus[0]))
    np.testing.assert_allclose(np.asarray(gradient), 1 - np.tanh(x) ** 2 + x, atol=1e-12)


FIRST_CALLS_FROM_THREADS = """
import sys, threading
import numpy as np
from jax import monitoring

events = []
monitoring.register_event_duration_secs_listener(lambda name, *_, **__: events.append(name))
sys.path.insert(0, ".")
import generated.rosen_jax_reverse as M

barrier = threading.Barrier(8)
found = {}


def work(k):
    barrier.wait()
    found[k] = np.asarray(M.hessian(np.linspace(0.1, 0.9, 10)))


threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert len(found) == 8 and all(np.array_equal(found[0], v) for v in found.values())
print(events.count("/jax/core/compile/backend_compile_duration"))
"""


def test_first_calls_from_threads_compile_once() -> None:
    """Eight threads calling an operator for the first time together: it compiles once (the
    lock of its _Executable), and every thread gets the same result."""
    run = subprocess.run(
        [sys.executable, "-c", FIRST_CALLS_FROM_THREADS], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "1"


def test_operators_are_safe_to_call_from_threads() -> None:
    module = load(REPO / "generated/rosen_jax_reverse.py")
    points = [np.linspace(0.1 * k, 0.9, 10) for k in range(1, 9)]
    expected = [np.asarray(module.hessian(p)) for p in points]
    found: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        for _ in range(20):
            found[k] = np.asarray(module.hessian(points[k]))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(points))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k, value in enumerate(expected):
        np.testing.assert_array_equal(found[k], value)


Run = Callable[..., tuple[int, str, str]]


def test_untraceable_function_fails_at_generation(diffgen: Run, project: Project) -> None:
    project.write(f"{project.module}_jax.py", FUNCTIONS)
    before = project.files()
    code, out, err = diffgen(
        "generate",
        f"{project.module}_jax:untraceable",
        "--arg",
        "x=float64[3]",
        "--ops",
        "gradient",
        "--backend",
        "jax:reverse",
    )
    assert code == 2, (out, err)
    assert "jax cannot trace" in err and "TracerArrayConversionError" in err, err
    assert "fix: " in err and "--backend finitediff" in err
    assert project.files() == before


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--backend", "finitediff", "--jax-export"], "--jax-export does not apply"),
        (["--backend", "jax:reverse", "--outer", "torch:forward"], "not a valid second-order pair"),
        (["--backend", "finitediff", "--outer", "jax:forward"], "not a valid second-order pair"),
    ],
)
def test_refused_options(diffgen: Run, project: Project, argv: list[str], needle: str) -> None:
    code, _, err = diffgen(
        "generate", project.ref("rosen"), "--arg", "x=float64[3]", "--ops", "hessian", *argv
    )
    assert code == 2 and needle in err, err
    if "pair" in needle and "jax:reverse" in argv:
        assert "finitediff, jax:forward, jax:reverse" in err  # the valid outers of jax:reverse


def test_backends_command_lists_the_jax_pairs(diffgen: Run) -> None:
    code, out, _ = diffgen("backends")
    assert code == 0
    lines = out.splitlines()
    inners = lines[lines.index(next(line for line in lines if "outer (rows)" in line)) + 1].split()
    rows = {line.split()[0]: line.split()[1:] for line in lines[-len(inners) :]}
    for outer, inner in PAIRS:
        assert rows[outer][inners.index(inner)] == "yes"
