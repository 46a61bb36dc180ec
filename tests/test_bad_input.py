"""Each bad input exits 2 with one clear message (what, why, fix) and writes nothing."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

from generator.backends import base
from tests.conftest import REPO, Project

Run = Callable[..., tuple[int, str, str]]


def assert_refused(run: Run, project: Project, argv: list[str], *needles: str) -> str:
    before = project.files()
    code, out, err = run(*argv)
    assert code == 2, (code, out, err)
    assert out == ""
    assert err.startswith("diffgen: error: ")
    assert "\n  why: " in err and "\n  fix: " in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert project.files() == before, "a refused command must write nothing"
    return err


def gen(project: Project, function: str, *extra: str) -> list[str]:
    return ["generate", project.ref(function), "--backend", "finitediff", *extra]


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["generate", "no_such_module:f", "--ops", "all", "--backend", "finitediff"],
         ["cannot import module 'no_such_module'"]),
        (["generate", "not a reference", "--ops", "all", "--backend", "finitediff"],
         ["is not a function reference"]),
    ],
)  # fmt: skip
def test_unknown_module(
    diffgen: Run, project: Project, argv: list[str], needles: list[str]
) -> None:
    assert_refused(diffgen, project, argv, *needles)


def test_unknown_function(diffgen: Run, project: Project) -> None:
    argv = gen(project, "nope", "--arg", "x=float64[3]", "--ops", "all")
    assert_refused(diffgen, project, argv, "has no function 'nope'")


def test_spec_for_missing_parameter(diffgen: Run, project: Project) -> None:
    argv = gen(project, "rosen", "--arg", "x=float64[3]", "--arg", "y=float64[2]", "--ops", "all")
    assert_refused(diffgen, project, argv, "'y'", "positional parameters are x")


def test_missing_spec_without_annotation(diffgen: Run, project: Project) -> None:
    argv = gen(project, "scaled", "--arg", "x=float64[3]", "--arg", "s=float64[]", "--ops", "all")
    assert_refused(diffgen, project, argv, "no spec for parameter 'A'", "--arg A=")


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("float64[3,", "is not of the form"),
        ("int8[2]", "dtype 'int8'"),
        ("float64[-1]", "'-1'"),
        ("float64[0]", "'0'"),
        ("float64", "is not of the form"),
    ],
)
def test_unparsable_spec(diffgen: Run, project: Project, spec: str, needle: str) -> None:
    argv = gen(project, "rosen", "--arg", f"x={spec}", "--ops", "all")
    assert_refused(diffgen, project, argv, "the spec of 'x' does not parse", needle)


@pytest.mark.parametrize(
    ("function", "spec", "op", "needle"),
    [
        ("residual", "float64[3]", "gradient", "gradient needs f(x) to be a 0-d scalar"),
        ("rosen", "float64[3]", "derivative", "derivative needs x to be a 0-d scalar"),
        ("rosen", "float64[3]", "jacobian", "jacobian needs x to be an array and f(x) to be"),
        ("rosen", "float64[3]", "laplacian", "unknown operator 'laplacian'"),
    ],
)
def test_operator_that_does_not_fit(
    diffgen: Run, project: Project, function: str, spec: str, op: str, needle: str
) -> None:
    argv = gen(project, function, "--arg", f"x={spec}", "--ops", op)
    assert_refused(diffgen, project, argv, needle)


def test_unknown_backend(diffgen: Run, project: Project) -> None:
    argv = ["generate", project.ref("rosen"), "--arg", "x=float64[3]", "--ops", "all"]
    assert_refused(diffgen, project, [*argv, "--backend", "autograd"], "unknown backend 'autograd'",
                   "finitediff")  # fmt: skip


def test_invalid_pair(diffgen: Run, project: Project) -> None:
    argv = gen(project, "rosen", "--arg", "x=float64[3]", "--ops", "hvp", "--outer", "nonsense")
    assert_refused(diffgen, project, argv, "not a valid second-order pair", "finitediff")


@pytest.mark.parametrize(
    ("function", "needle"),
    [
        ("raises", "raised RuntimeError at the probe point"),
        ("nan", "returned NaN or infinity at the probe point"),
        ("integer", "returned dtype int64"),
    ],
)
def test_function_fails_at_probe(
    diffgen: Run, project: Project, function: str, needle: str
) -> None:
    argv = gen(project, function, "--arg", "x=float64[3]", "--ops", "all")
    assert_refused(diffgen, project, argv, needle)


def test_existing_file_not_diffgens(diffgen: Run, project: Project) -> None:
    project.write("generated/rosen_finitediff.py", "# my own code\n")
    argv = gen(project, "rosen", "--arg", "x=float64[3]", "--ops", "gradient")
    assert_refused(diffgen, project, argv, "was not written by diffgen", "--force")
    code, _, err = diffgen(*argv, "--force")
    assert code == 0, err
    assert (project.root / "generated/rosen_finitediff.py").read_text().startswith("# Generated")


def test_output_that_is_not_a_module_name(diffgen: Run, project: Project) -> None:
    argv = gen(project, "rosen", "--arg", "x=float64[3]", "--ops", "all", "-o", "out/my-mod.py")
    assert_refused(diffgen, project, argv, "does not name a Python module")


def config(project: Project, **entries: str) -> None:
    lines = "\n".join(f"{key} = {value}" for key, value in entries.items())
    project.write("pyproject.toml", f"[[tool.diffgen.targets]]\n{lines}\n")


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ('"../escaped.py"', "leaves the project root"),
        ('"/tmp/elsewhere/escaped.py"', "leaves the project root"),
        ('"generated/1st.py"', "does not name a Python module"),
        ('"generated/class.py"', "does not name a Python module"),
    ],
)
def test_config_output_outside_root_or_not_identifier(
    diffgen: Run, project: Project, output: str, needle: str
) -> None:
    ref = project.ref("rosen")
    config(project, function=f'"{ref}"', args='{ x = "float64[3]" }', output=output)
    assert_refused(diffgen, project, ["build"], needle)


def test_config_with_bad_identifier_in_function(diffgen: Run, project: Project) -> None:
    config(project, function='"my-module:rosen"', args='{ x = "float64[3]" }')
    assert_refused(diffgen, project, ["build"], "is not a function reference")


def test_config_with_unknown_key(diffgen: Run, project: Project) -> None:
    config(project, function=f'"{project.ref("rosen")}"', colour='"blue"')
    assert_refused(diffgen, project, ["build"], "unknown keys colour")


def test_usage_error_exits_2(diffgen: Run, project: Project) -> None:
    with pytest.raises(SystemExit) as exit_info:
        diffgen("generate", project.ref("rosen"))  # --ops and --backend missing
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (
            ["--ops", "gradient", "--batch", "4"],
            ["--batch 4 needs an operator that takes a tangent"],
        ),
        (["--ops", "hvp", "--batch", "-2"], ["--batch -2 is not a batch size"]),
    ],
)
def test_bad_batch(diffgen: Run, project: Project, extra: list[str], needles: list[str]) -> None:
    assert_refused(
        diffgen, project, gen(project, "rosen", "--arg", "x=float64[3]", *extra), *needles
    )


@pytest.mark.parametrize(
    ("extra", "library"),
    [(["--backend", "jax:reverse"], "jax"), (["--backend", "sympy", "--outer", "torch:forward"],
                                             "torch")],
)  # fmt: skip
def test_missing_library(
    diffgen: Run, project: Project, monkeypatch: pytest.MonkeyPatch, extra: list[str], library: str
) -> None:
    """A backend (inner or outer) whose library is not installed: say which, and how to get it."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == library else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    argv = ["generate", project.ref("rosen"), "--arg", "x=float64[3]", "--ops", "hvp", *extra]
    # run from a clone (as here): install the extra into the clone, pinned
    assert_refused(diffgen, project, argv, f"needs {library}, which is not installed",
                   f"install it: pip install -c constraints.txt -e '.[{library}]' in your"
                   f" diffgen clone {REPO}")  # fmt: skip
    # run from an installed wheel: install the extra from the package index
    monkeypatch.setattr(base, "source_checkout", lambda: None)
    assert_refused(diffgen, project, argv, f"install it: pip install 'diffgen[{library}]' (")
