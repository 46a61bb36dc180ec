"""Inputs that used to escape as tracebacks or silent acceptances: each exits 2 with a message."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from generator import cli
from generator.measure.loader import load
from generator.target import Target
from tests.conftest import Project, run_generated_tests
from tests.test_bad_input import assert_refused

Run = Callable[..., tuple[int, str, str]]

EXITING = """
import sys
import numpy as np
from array_api_compat import array_namespace

if {at_import}:
    sys.exit(0)

def f(x):
    sys.exit(3)

def fine(x):
    return np.sum(x ** 2)

def interrupted(x):
    raise KeyboardInterrupt

def with_default(x, c=2.0):
    return np.sum(c * x ** 2)

def log_shifted(x):
    xp = array_namespace(x)
    return xp.sum(xp.log(x - 1.0))

def vector(x):
    return x * 2.0
"""


def user_module(project: Project, name: str = "exiting", at_import: bool = False) -> str:
    project.write(f"{name}.py", EXITING.format(at_import=at_import))
    return name


def test_sys_exit_at_import(diffgen: Run, project: Project) -> None:
    module = user_module(project, "exits_at_import", at_import=True)
    argv = ["generate", f"{module}:fine", "--arg", "x=float64[3]", "--ops", "gradient",
            "--backend", "finitediff"]  # fmt: skip
    assert_refused(diffgen, project, argv, "importing module 'exits_at_import' called sys.exit(0)",
                   'if __name__ == "__main__":')  # fmt: skip


def test_sys_exit_in_the_probe(diffgen: Run, project: Project) -> None:
    module = user_module(project)
    argv = ["generate", f"{module}:f", "--arg", "x=float64[3]", "--ops", "gradient",
            "--backend", "finitediff"]  # fmt: skip
    assert_refused(diffgen, project, argv, "exiting:f called sys.exit(3) at the probe point")


@pytest.mark.e2e  # a build over a config
def test_build_reports_an_exiting_target_and_writes_nothing(diffgen: Run, project: Project) -> None:
    module = user_module(project)
    entry = '[[tool.diffgen.targets]]\nfunction = "{}:{}"\nargs = {{ x = "float64[3]" }}\n'
    project.write("pyproject.toml", entry.format(module, "fine") + entry.format(module, "f"))
    before = project.files()
    code, out, err = diffgen("build")
    assert code == 2 and out == ""
    assert "target 2 (exiting:f): exiting:f called sys.exit(3)" in err
    assert project.files() == before


def test_keyboard_interrupt_still_interrupts(diffgen: Run, project: Project) -> None:
    module = user_module(project)
    with pytest.raises(KeyboardInterrupt):
        diffgen("generate", f"{module}:interrupted", "--arg", "x=float64[3]", "--ops",
                "gradient", "--backend", "finitediff")  # fmt: skip


def test_wrt_a_parameter_left_at_its_default(diffgen: Run, project: Project) -> None:
    module = user_module(project)
    argv = ["generate", f"{module}:with_default", "--arg", "x=float64[3]", "--wrt", "c",
            "--ops", "gradient", "--backend", "finitediff", "--no-tests"]  # fmt: skip
    assert_refused(diffgen, project, argv, "--wrt c names a parameter that has no spec",
                   "pass --arg c=float64[]")  # fmt: skip
    code, _, err = diffgen(*argv, "--arg", "c=float64[]")
    assert code == 0, err
    generated = load(project.root / "generated/with_default_finitediff.py")
    x = np.array([0.5, 1.0, 2.0])
    gradient = generated.gradient(x, np.float64(2.0))  # in f's order; d/dc sum(c x^2) = sum(x^2)
    assert gradient.dtype == np.float64 and gradient.shape == ()
    assert abs(float(gradient) - 5.25) < 1e-7


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--arg", "x=float64[100000000000]", "--ops", "gradient"],
         ["argument 'x' would have 100,000,000,000 entries", "at most 10,000,000 entries"]),
        (["--arg", "x=float64[3]", "--ops", "hvp", "--batch", "99999999999999999999999"],
         ["a batch of tangents would have 299,999,999,999,999,999,999,997 entries"]),
        (["--arg", "x=float64[4000]", "--ops", "all"],
         ["the Hessian would have 16,000,000 entries", "prefer pushforward, pullback or hvp"]),
        (["--arg", "x=float64[4000]", "--ops", "hessian"],
         ["the Hessian would have 16,000,000 entries"]),
    ],
)  # fmt: skip
def test_sizes_are_bounded_before_allocating(
    diffgen: Run, project: Project, extra: list[str], needles: list[str]
) -> None:
    module = user_module(project)
    assert_refused(diffgen, project, ["generate", f"{module}:fine", "--backend", "finitediff",
                                      *extra], *needles)  # fmt: skip


def test_dense_jacobian_size(diffgen: Run, project: Project) -> None:
    module = user_module(project)
    argv = ["generate", f"{module}:vector", "--backend", "finitediff", "--arg", "x=float64[5000]"]
    assert_refused(diffgen, project, [*argv, "--ops", "all"],
                   "the Jacobian would have 25,000,000 entries")  # fmt: skip
    code, _, err = diffgen(*argv, "--ops", "pushforward", "--no-tests")  # no dense result
    assert code == 0, err


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--ops", "all,bogus"], ["--ops combines all with bogus"]),
        (["--ops", ","], ["no operator is given"]),
        (["--ops", "gradient", "--arg", "x=float64[4]"],
         ["--arg x is given twice, as 'float64[3]' and 'float64[4]'"]),
        (["--ops", "gradient", "--dim", "n=0"], ["--dim n=0 is not a size"]),
        (["--ops", "gradient", "-o", "numpy.py"], ["would shadow module 'numpy'"]),
        (["--ops", "gradient", "-o", "generated/math.py"], ["would shadow module 'math'"]),
        (["--ops", "gradient", "-o", "generated/pytest.py"], ["would shadow module 'pytest'"]),
        (["--ops", "gradient", "-o", "generated/exiting.py"], ["would shadow module 'exiting'"]),
        (["--ops", "gradient", "-o", "generated/my.mod.py"], ["does not name a Python module"]),
        (["--ops", "gradient", "--backend", "sympy", "--outer", "finitediff"],
         ["--outer finitediff has nothing to do", "add hvp, hessian or second_derivative"]),
        (["--ops", "gradient", "--domain=2,1"], ["--domain 2.0,1.0 is not an interval"]),
    ],
)  # fmt: skip
def test_bad_command_lines(
    diffgen: Run, project: Project, extra: list[str], needles: list[str]
) -> None:
    module = user_module(project)
    argv = ["generate", f"{module}:fine", "--backend", "finitediff", "--arg", "x=float64[3]"]
    assert_refused(diffgen, project, [*argv, *extra], *needles)


def test_identical_duplicate_arg_is_accepted(diffgen: Run, project: Project) -> None:
    module = user_module(project)
    code, _, err = diffgen("generate", f"{module}:fine", "--backend", "finitediff", "--arg",
                           "x=float64[3]", "--arg", "x=float64[3]", "--ops", "gradient",
                           "--no-tests")  # fmt: skip
    assert code == 0, err


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[tool]\ndiffgen = 3\n", ["[tool.diffgen] in", "is not a table"]),
        ("[tool.diffgen]\ntargets = [1, 2]\n", ["target 1: the target is int 1, not a table"]),
        ('[[tool.diffgen.targets]]\nfunction = "m:f"\ndims = { n = 0 }\n',
         ["dims must map size names to positive whole numbers"]),
        ('[[tool.diffgen.targets]]\nfunction = "m:f"\ndomain = [1, "x"]\n',
         ["domain must be two numbers"]),
        ('[[tool.diffgen.targets]]\nfunction = "m:f"\nops = ["all", "bogus"]\n',
         ["--ops combines all with bogus"]),
    ],
)  # fmt: skip
def test_malformed_config(diffgen: Run, project: Project, text: str, needles: list[str]) -> None:
    project.write("pyproject.toml", text)
    for command in ("build", "check"):
        assert_refused(diffgen, project, [command], *needles)


def test_non_utf8_config(diffgen: Run, project: Project) -> None:
    (project.root / "pyproject.toml").write_bytes(b"[tool.diffgen]\n# caf\xe9\n")
    assert_refused(diffgen, project, ["check"], "pyproject.toml is not UTF-8 text")


@pytest.mark.parametrize(
    ("backend", "outer", "output"),
    [
        ("jax:reverse", "jax:forward", "generated/f_jax_forward_over_jax_reverse.py"),
        ("torch:forward", "torch:reverse", "generated/f_torch_reverse_over_torch_forward.py"),
        ("sympy", "jax:forward", "generated/f_jax_forward_over_sympy.py"),
        ("jax:reverse", "jax:reverse", "generated/f_jax_reverse.py"),
        ("jax:reverse", None, "generated/f_jax_reverse.py"),
    ],
)
def test_default_output_of_a_pair(backend: str, outer: str | None, output: str) -> None:
    assert Target("m:f", backend=backend, outer=outer).default_output() == output


@pytest.mark.e2e  # two jax modules
def test_same_framework_pair_leaves_the_inner_module_alone(diffgen: Run, project: Project) -> None:
    module = user_module(project)
    first = ["generate", f"{module}:fine", "--arg", "x=float64[3]", "--backend", "jax:reverse",
             "--no-tests"]  # fmt: skip
    assert diffgen(*first, "--ops", "gradient")[0] == 0
    inner = (project.root / "generated/fine_jax_reverse.py").read_bytes()
    code, out, err = diffgen(*first, "--ops", "hvp", "--outer", "jax:forward")
    assert code == 0, err
    assert out == "wrote generated/fine_jax_forward_over_jax_reverse.py\n"
    assert (project.root / "generated/fine_jax_reverse.py").read_bytes() == inner


@pytest.mark.e2e  # runs the generated tests
def test_domain_lets_a_function_defined_elsewhere_be_generated(
    diffgen: Run, project: Project
) -> None:
    module = user_module(project)
    argv = ["generate", f"{module}:log_shifted", "--arg", "x=float64[4]", "--ops", "all",
            "--backend", "finitediff"]  # fmt: skip
    assert_refused(diffgen, project, argv, "returned NaN or infinity at the probe point",
                   "uniform in (0.1, 0.9)", "--domain LO,HI")  # fmt: skip
    code, _, err = diffgen(*argv, "--domain", "1.5,2.5")
    assert code == 0, err
    test_file = project.root / "generated/test_log_shifted_finitediff.py"
    points = [float(v) for v in __import__("re").findall(r"\b[12]\.\d{6,}", test_file.read_text())]
    assert points and all(1.5 <= v <= 2.5 for v in points[:12])
    run_generated_tests(project.root)


def test_an_unexpected_exception_is_a_reported_bug(
    diffgen: Run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args: object) -> int:
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(cli, "run_generate", broken)
    module = user_module(project)
    code, out, err = diffgen("generate", f"{module}:fine", "--arg", "x=float64[3]", "--ops",
                             "gradient", "--backend", "finitediff")  # fmt: skip
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == "diffgen: internal error: ZeroDivisionError: division by zero second line"
    assert "this is a bug in diffgen" in lines[1] and "DIFFGEN_TRACEBACK=1" in lines[1]
