"""The torch backends: exact values, traced graphs that run anywhere, and clear refusals."""

from __future__ import annotations

import inspect
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from scipy.optimize import rosen_der, rosen_hess, rosen_hess_prod

from generator.backends.base import AD_ERROR
from generator.backends.torch import calls as torch_calls
from generator.backends.torch_options import TorchOptions
from generator.pipeline import generate, generate_and_write
from generator.target import Target
from tests.conftest import REPO, Project, run_blocked, run_generated_tests
from tests.test_generated_module import load

Run = Callable[..., tuple[int, str, str]]
ROSEN = load(REPO / "generated/rosen_torch_reverse.py")
MODULES = sorted(
    path
    for path in REPO.glob("generated/*.py")
    if not path.name.startswith("test_") and '"backend": "torch:' in path.read_text()
)
GRAPHS = [path for path in MODULES if "_user_module" not in path.read_text()]  # not eager

#: torch warns, from its own code, when forward-mode AD is first used (eager modules) and when
#: torch.compile first compiles: both use its deprecated torch.jit.script.
TORCH_WARNS = pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")

#: Scenarios besides examples.torch_functions:kinks (sqrt, abs, where, maximum away from the test
#: points, integer powers, a matrix input, a captured constant): passed constants, float32, a
#: vector output, a scalar input; and a function that branches on its values. Array API.
SCENARIOS = """
from array_api_compat import array_namespace


def vector(x, A, s):
    xp = array_namespace(x, A)
    return s * xp.tanh(A @ x) + xp.where(x > 0.5, x**3, -x) + xp.sqrt(x) * x[0]


def scaled(t, A):
    xp = array_namespace(t, A)
    return xp.sin(t) * A + t**4


def branchy(x):
    xp = array_namespace(x)
    if x[0] > 0.5:
        return xp.sum(x**2)
    return xp.sum(x)
"""

#: (function, specs) of the scenario set.
CASES = [
    ("examples.torch_functions:kinks", (("X", "float64[2,3]"),)),
    ("scenarios:vector", (("x", "float32[3]"), ("A", "float32[3,3]"), ("s", "float32[]"))),
    ("scenarios:scaled", (("t", "float64[]"), ("A", "float64[2,2]"))),
]
PAIRS = [(outer, inner) for outer in ("forward", "reverse") for inner in ("forward", "reverse")]


def specs(module: ModuleType, name: str) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """The shape and dtype of every parameter of one of the module's operators."""
    args = dict(module.DIFFGEN["args"])
    args.update(dx=args[module.DIFFGEN["wrt"]], dy=module.DIFFGEN["output"])
    batch = module.DIFFGEN.get("batch", 0)
    found = {}
    for param in inspect.signature(getattr(module, name)).parameters.values():
        if param.kind is param.KEYWORD_ONLY:  # out=
            continue
        spec = args[{"dxs": "dx", "dys": "dy"}.get(param.name, param.name)]
        dtype, dims = spec.rstrip("]").split("[")
        shape = tuple(int(d) for d in dims.split(",") if d)
        found[param.name] = ((batch, *shape) if param.name in ("dxs", "dys") else shape,
                             getattr(torch, dtype))  # fmt: skip
    return found


@pytest.mark.parametrize("seed", range(5))
def test_rosen_equals_scipy_to_1e_12(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-2.0, 2.0, 10), rng.uniform(-1.0, 1.0, 10)
    for actual, expected in (
        (ROSEN.gradient(x), rosen_der(x)),
        (ROSEN.hessian(x), rosen_hess(x)),
        (ROSEN.hvp(x, v), rosen_hess_prod(x, v)),
        (ROSEN.value_gradient_and_hessian(x)[2], rosen_hess(x)),
        (ROSEN.gradient_and_hvp(x, v)[1], rosen_hess_prod(x, v)),
    ):
        assert isinstance(actual, torch.Tensor) and actual.dtype == torch.float64
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12 * np.max(np.abs(expected)))


def test_graph_modules_import_torch_and_numpy_only() -> None:
    assert len(GRAPHS) >= 4, GRAPHS
    for path in GRAPHS:
        lines = path.read_text().splitlines()
        imported = {line.split()[1] for line in lines if line.startswith(("import ", "from "))}
        assert imported <= {"__future__", "collections.abc", "types", "typing", "numpy",
                            "numpy.typing", "torch"}, (path.name, imported)  # fmt: skip


def test_no_device_literal_survives_into_a_module() -> None:
    for path in MODULES:
        text = path.read_text()
        assert "device(type=" not in text and "'cpu'" not in text and '"cpu"' not in text, path


def test_graph_module_runs_where_the_user_module_cannot_be_imported(tmp_path: Path) -> None:
    shutil.copy(REPO / "generated/rosen_torch_reverse.py", tmp_path)
    blocked = {"generator", "examples", "array_api_compat", "sympy", "scipy", "jinja2"}
    call = (
        "import numpy as np; x = np.full(10, 0.5)\n"
        "print([module.gradient(x).tolist(), module.hvp(x, np.ones(10)).tolist()])"
    )
    gradient, hvp = eval(run_blocked(tmp_path, "rosen_torch_reverse.py", blocked, call))
    x = np.full(10, 0.5)
    np.testing.assert_allclose(gradient, rosen_der(x), rtol=1e-15)
    np.testing.assert_allclose(hvp, rosen_hess_prod(x, np.ones(10)), rtol=1e-14)


def call_everything(module: ModuleType, device: str) -> dict[str, tuple[torch.Tensor, ...]]:
    """Every operator of the module at seeded arguments on the device, results as tuples."""
    generator = torch.Generator().manual_seed(0)
    results = {}
    for name in module.__all__:
        args = [
            (0.1 + 0.8 * torch.rand(shape, generator=generator, dtype=torch.float64))
            .to(dtype)
            .to(device)
            for shape, dtype in specs(module, name).values()
        ]
        out = getattr(module, name)(*args)
        results[name] = out if isinstance(out, tuple) else (out,)
    return results


@TORCH_WARNS
@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_every_operator_runs_on_meta_tensors(path: Path) -> None:
    """Traced on the CPU, each operator runs on other devices: meta stands in for CUDA here."""
    module = load(path)
    on_cpu = call_everything(module, "cpu")
    for name, results in call_everything(module, "meta").items():
        for result, expected in zip(results, on_cpu[name], strict=True):
            assert isinstance(result, torch.Tensor), name
            assert result.device.type == "meta", (name, result.device)
            assert (result.shape, result.dtype) == (expected.shape, expected.dtype), name


@TORCH_WARNS
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_every_operator_runs_on_cuda_with_the_cpu_values(path: Path) -> None:
    module = load(path)
    on_cpu, on_cuda = call_everything(module, "cpu"), call_everything(module, "cuda")
    for name, results in on_cuda.items():
        for result, expected in zip(results, on_cpu[name], strict=True):
            assert result.device.type == "cuda", name
            eps = torch.finfo(result.dtype).eps
            scale = max(1.0, float(expected.abs().max()))
            atol = AD_ERROR.atol(1, eps, scale)
            torch.testing.assert_close(result.cpu(), expected, rtol=0, atol=atol)


def test_arguments_are_converted_shared_and_checked() -> None:
    strided = np.linspace(0.1, 1.9, 20)[::2]  # not contiguous, and read-only below
    x = strided.copy()
    shared = ROSEN._checked(ROSEN._SPEC_x, x)
    assert shared.data_ptr() == x.ctypes.data  # torch.as_tensor: no copy
    expected = ROSEN.gradient(torch.as_tensor(x))
    strided.flags.writeable = False
    for given in (x, strided, torch.as_tensor(np.linspace(0.1, 1.9, 20))[::2]):
        torch.testing.assert_close(ROSEN.gradient(given), expected, rtol=0, atol=0)
    value, dx = ROSEN.value_and_pullback(x, 1.0)  # a Python float for the 0-d dy
    assert isinstance(value, torch.Tensor) and value.shape == () and value.dtype == torch.float64
    torch.testing.assert_close(dx, expected, rtol=0, atol=0)
    for wrong, given in (
        (np.zeros(10, dtype=np.float32), "float32[10]"),
        (np.arange(10), "int64[10]"),
        (torch.zeros(11, dtype=torch.float64), "float64[11]"),
        (torch.zeros((10, 1), dtype=torch.float64), "float64[10,1]"),
    ):
        message = f"x: expected float64[10], got {given}. "
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            ROSEN.gradient(wrong)


def test_forward_over_forward_and_float32_scenarios_match_exact_references(
    project: Project,
) -> None:
    """The scenario functions under the pair the golden record lacks and in float32; their
    generated tests compare every operator with exact SymPy references."""
    project.write("scenarios.py", SCENARIOS)
    for (function, args), backend, ops in zip(
        CASES[:2], ("forward", "reverse"), (("all",), ("jacobian", "pullback")), strict=True
    ):
        target = Target(function, args=args, ops=ops, backend=f"torch:{backend}",
                        outer=f"torch:{backend}")  # fmt: skip
        generate_and_write(target, project.root, force=False)
    sys.modules.pop("scenarios", None)
    run_generated_tests(project.root)
    text = (project.root / "generated/test_kinks_torch_forward.py").read_text()
    assert "exact SymPy derivatives" in " ".join(text.split())


@pytest.mark.slow
@pytest.mark.parametrize(("outer", "inner"), PAIRS)
def test_every_pair_and_mode_on_the_scenario_set(project: Project, outer: str, inner: str) -> None:
    project.write("scenarios.py", SCENARIOS)
    for function, args in CASES:
        for mode in ("graph", "eager"):
            name = function.rpartition(":")[2]
            target = Target(function, args=args, backend=f"torch:{inner}",
                            outer=f"torch:{outer}", options=(TorchOptions(mode=mode),),
                            output=f"generated/{name}_{mode}.py")  # fmt: skip
            generate_and_write(target, project.root, force=False)
    sys.modules.pop("scenarios", None)
    run_generated_tests(project.root)


def test_data_dependent_control_flow_is_refused_then_runs_eagerly(
    diffgen: Run, project: Project
) -> None:
    project.write("scenarios.py", SCENARIOS)
    before = project.files()
    code, _, err = diffgen("generate", "scenarios:branchy", "--arg", "x=float64[3]", "--ops",
                           "gradient", "--backend", "torch:reverse")  # fmt: skip
    assert code == 2, err
    line = SCENARIOS.splitlines().index("    if x[0] > 0.5:") + 1
    for needle in ("data-dependent", f"line {line} (`if x[0] > 0.5:`)", "--torch-mode eager"):
        assert needle in err, (needle, err)
    assert project.files() == before
    code, _, err = diffgen("generate", "scenarios:branchy", "--arg", "x=float64[3]", "--ops",
                           "gradient", "--backend", "torch:reverse", "--torch-mode", "eager",
                           "--no-tests")  # fmt: skip
    assert code == 0, err
    module = load(project.root / "generated/branchy_torch_reverse.py")
    sys.modules.pop("scenarios", None)
    x = np.array([0.7, 0.2, 0.4])
    torch.testing.assert_close(module.gradient(x), torch.as_tensor(2 * x), rtol=0, atol=0)
    torch.testing.assert_close(module.gradient(x[::-1].copy()), torch.ones(3, dtype=torch.float64))


def test_large_captured_tensors_are_refused(diffgen: Run, project: Project) -> None:
    project.write("refused.py", """
        import numpy as np
        from array_api_compat import array_namespace

        BIG = np.linspace(0.0, 1.0, 20_000)

        def big(x):
            xp = array_namespace(x)
            return xp.sum(x * xp.asarray(BIG, dtype=x.dtype)[:3])
        """)  # fmt: skip
    before = project.files()
    code, _, err = diffgen("generate", "refused:big", "--arg", "x=float64[3]", "--ops",
                           "gradient", "--backend", "torch:reverse")  # fmt: skip
    assert code == 2 and "captures a torch.float64 tensor of shape (20000,)" in err, err
    assert "pass the tensor to the function as an argument" in err
    sys.modules.pop("refused", None)
    assert project.files() == before


def test_torch_options_need_a_torch_backend(diffgen: Run, project: Project) -> None:
    code, _, err = diffgen("generate", project.ref("rosen"), "--arg", "x=float64[3]", "--ops",
                           "gradient", "--backend", "sympy", "--torch-compile")  # fmt: skip
    assert code == 2 and "--torch-compile does not apply to --backend sympy" in err
    project.write("pyproject.toml", f"""
        [[tool.diffgen.targets]]
        function = "{project.ref('rosen')}"
        args = {{ x = "float64[3]" }}
        backend = "torch:reverse"
        torch_mode = "lazy"
        """)  # fmt: skip
    code, _, err = diffgen("build")
    assert code == 2 and "--torch-mode 'lazy' is not a torch mode" in err
    assert "torch" not in Target("m:f").canonical()  # other targets keep their fingerprints
    compiled = Target("m:f", backend="torch:reverse", options=(TorchOptions(compile=True),))
    assert '"torch_compile":true' in compiled.canonical()


def test_public_calls_that_differ_fall_back_to_aten(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every printed graph is run at generation time against the traced one: a public call
    that computed something else is caught there and printed as torch.ops.aten instead."""
    monkeypatch.setitem(torch_calls.SPECIAL, "aten.slice.Tensor",
                        lambda raw, args, kwargs, ndim: f"{args[0]}[1:]")  # fmt: skip
    target = Target(project.ref("rosen"), args=(("x", "float64[6]"),), ops=("gradient",),
                    backend="torch:reverse", tests=False)  # fmt: skip
    (file,) = generate(target, project.root)
    assert "torch.ops.aten.slice.Tensor(x, 0, 0, -1)" in file.text
    path = project.write("generated/rosen_torch_reverse.py", file.text)
    x = np.linspace(-1.0, 1.0, 6)
    np.testing.assert_allclose(load(path).gradient(x), rosen_der(x), rtol=1e-14)


@pytest.mark.slow
@TORCH_WARNS
def test_torch_compile_wraps_the_graphs_with_the_same_values(project: Project) -> None:
    target = Target(project.ref("rosen"), args=(("x", "float64[10]"),),
                    ops=("gradient", "hvp"), backend="torch:reverse", outer="torch:forward",
                    options=(TorchOptions(compile=True),), tests=False)  # fmt: skip
    (path,) = generate_and_write(target, project.root, force=False)
    module = load(path)
    assert "torch.compile(_gradient_kernel, fullgraph=True, dynamic=False)" in path.read_text()
    x, v = np.linspace(-1.0, 1.0, 10), np.linspace(1.0, 2.0, 10)
    for actual, expected in ((module.gradient(x), rosen_der(x)),
                             (module.hvp(x, v), rosen_hess_prod(x, v))):  # fmt: skip
        atol = AD_ERROR.atol(1, float(np.finfo(np.float64).eps), float(np.max(np.abs(expected))))
        np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)
