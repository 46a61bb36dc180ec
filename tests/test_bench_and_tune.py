"""`diffgen bench` and `diffgen tune` on a small target, with the backends limited for speed."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable

import pytest

from generator import bench as bench_module
from generator.backends.finitediff import FiniteDiff
from generator.backends.sympy_backend import Sympy
from generator.bench import bench, table
from generator.target import Target
from generator.tune import tune
from tests.conftest import Project

PYPROJECT = """\
# The project's own comment, which tune must keep.
[project]
name = "demo"

[tool.diffgen]
# the targets of this project
[[tool.diffgen.targets]]
function = "{module}:rosen"   # the objective
args = {{ x = "float64[3]" }}
ops = ["gradient", "hvp"]
backend = "finitediff"  # to be tuned

[[tool.diffgen.targets]]
function = "{module}:residual"
args = {{ x = "float64[3]" }}
ops = ["jacobian"]
backend = "finitediff"
"""


@pytest.fixture
def two_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    backends = {"finitediff": FiniteDiff(), "sympy": Sympy()}
    pairs = (("finitediff", "finitediff"), ("sympy", "sympy"), ("finitediff", "sympy"))
    monkeypatch.setattr(bench_module, "BACKENDS", backends)
    monkeypatch.setattr(bench_module, "PAIRS", pairs)


def test_bench_measures_every_candidate(project: Project, two_backends: None) -> None:
    target = Target(project.ref("rosen"), args=(("x", "float64[3]"),), ops=("gradient", "hvp"))
    results = bench(target, project.root, repeat=3, with_baselines=False)
    labels = [r.label for r in results]
    assert labels == ["finitediff", "sympy", "finitediff over sympy"]
    for r in results:
        assert set(r.calls_us) == {"gradient", "hvp"}
        assert all(median > 0 and spread >= 0 for median, spread in r.calls_us.values())
        assert r.generation_s is not None and r.import_s is not None
    text = table(results)
    assert "| gradient | sympy |" in text and "| finitediff over sympy |" in text


def test_tune_rewrites_only_the_backend_keys(project: Project, two_backends: None) -> None:
    config = project.write("pyproject.toml", PYPROJECT.format(module=project.module))
    before = config.read_text()
    backend, outer = tune("rosen_finitediff", config, repeat=3)
    assert (backend, outer) == ("sympy", "sympy")  # exact code beats differences by ~50x here
    after = config.read_text()
    changes = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changes == [
        '-backend = "finitediff"  # to be tuned',
        '+backend = "sympy"  # to be tuned',
        '+output = "generated/rosen_finitediff.py"',
        '+outer = "sympy"',
    ], changes


def test_bench_and_tune_commands(
    diffgen: Callable[..., tuple[int, str, str]], project: Project, two_backends: None
) -> None:
    argv = ["bench", project.ref("rosen"), "--arg", "x=float64[3]", "--ops", "gradient"]
    code, out, err = diffgen(*argv, "--json", "--repeat", "3")
    assert code == 0, err
    measured = {row["label"]: row for row in json.loads(out)}
    assert {"finitediff", "sympy", "sympy.lambdify(cse)"} <= set(measured)
    assert measured["sympy.lambdify(cse)"]["baseline"] is True
    assert measured["sympy"]["calls_us"]["gradient"][0] > 0
    project.write("pyproject.toml", PYPROJECT.format(module=project.module))
    code, out, err = diffgen("tune", "residual_finitediff", "--repeat", "3")
    assert code == 0, err
    assert out.startswith("residual_finitediff: backend = ")
    code, _, err = diffgen("tune", "nonexistent")
    assert code == 2 and "no [tool.diffgen] target generates a module named 'nonexistent'" in err
