"""`diffgen bench` and `diffgen tune` on a small target, with the backends limited for speed."""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.backends.finitediff import FiniteDiff
from generator.backends.jax.backend import JaxBackend
from generator.backends.sympy_backend import Sympy
from generator.measure import bench as bench_module
from generator.measure import tune as tune_module
from generator.measure.bench import Candidate, Measured, bench, table
from generator.measure.tune import Tuned, tune, winner
from generator.target import Target
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


def test_tune_rewrites_only_the_backend_keys(
    project: Project, two_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every candidate is really generated, imported and timed; only the medians are replaced by
    # fixed ones (sympy's exact code 10x faster than differences, as measured on a quiet machine),
    # so that the choice does not depend on this machine's load.
    fixed = {"finitediff": 10.0, "sympy": 1.0, "finitediff over sympy": 5.0}

    def measured(*args: object, **kwargs: object) -> list[Measured]:
        results = bench(*args, **kwargs)  # type: ignore[arg-type]
        assert {r.label for r in results} == set(fixed)
        assert all(r.error is None and r.calls_us for r in results)
        return [
            dataclasses.replace(r, calls_us={op: (fixed[r.label], 0.0) for op in r.calls_us})
            for r in results
        ]

    monkeypatch.setattr(tune_module, "bench", measured)
    config = project.write("pyproject.toml", PYPROJECT.format(module=project.module))
    before = config.read_text()
    tuned = tune("rosen_finitediff", config, repeat=3)
    assert (tuned.backend, tuned.outer) == ("sympy", "sympy")
    assert str(tuned) == f"rosen_finitediff: finitediff -> sympy, written to {config}"
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
    assert out.startswith("residual_finitediff: "), out
    assert out.rstrip().endswith("written to pyproject.toml"), out
    code, _, err = diffgen("tune", "nonexistent")
    assert code == 2 and "no [tool.diffgen] target generates a module named 'nonexistent'" in err


@pytest.fixture
def jax_and_finitediff(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jax")
    backends = {"finitediff": FiniteDiff(), "jax:reverse": JaxBackend("reverse")}
    pairs = (("finitediff", "finitediff"), ("jax:reverse", "jax:reverse"))
    monkeypatch.setattr(bench_module, "BACKENDS", backends)
    monkeypatch.setattr(bench_module, "PAIRS", pairs)


def test_bench_times_jax_with_numpy_and_x64_off_beside_jax_arrays(
    project: Project, jax_and_finitediff: None
) -> None:
    """Without baselines (as tune runs it) jax candidates get float64 arguments in both rows,
    and the process's x64 mode is as it was afterwards."""
    import jax

    target = Target(project.ref("rosen"), args=(("x", "float64[3]"),), ops=("gradient",))
    for with_baselines in (False, True):
        results = bench(target, project.root, repeat=2, with_baselines=with_baselines)
        rows = {(r.label, r.inputs): r for r in results}
        assert {("jax:reverse", "numpy, x64 off"), ("jax:reverse", "jax.Array, x64 on"),
                ("finitediff", "numpy, x64 off")} <= set(rows), set(rows)  # fmt: skip
        assert all(r.error is None and r.calls_us["gradient"][0] > 0 for r in results)
        assert rows["jax:reverse", "numpy, x64 off"].generation_s is not None
        assert rows["jax:reverse", "jax.Array, x64 on"].generation_s is None  # once a module
        if with_baselines:
            assert rows["jax.jit", "jax.Array, x64 on"].baseline
        assert not jax.config.jax_enable_x64
    text = table(results)
    assert "| gradient | jax:reverse | numpy, x64 off |" in text
    assert "| gradient | jax:reverse | jax.Array, x64 on |" in text
    assert text.count("| jax:reverse |") == 3  # two timing rows, one setup row


PYPROJECT_JAX = """\
[[tool.diffgen.targets]]
function = "{module}:rosen"
args = {{ x = "float64[3]" }}
ops = ["gradient"]
backend = "{backend}"
"""


@pytest.mark.parametrize("backend", ["jax:reverse", "finitediff"])
def test_tune_keeps_the_array_type_unless_asked(
    project: Project, jax_and_finitediff: None, backend: str
) -> None:
    """A jax target is tuned among jax candidates, a numpy one among numpy ones: no crash, and
    the operators' return type is what it was."""
    config = project.write("pyproject.toml", PYPROJECT_JAX.format(module=project.module,
                                                                   backend=backend))  # fmt: skip
    name = f"rosen_{backend.replace(':', '_')}"
    tuned = tune(name, config, repeat=2)
    assert tuned.backend == backend and tuned.outer is None
    assert str(tuned) == f"{name}: {backend} is the fastest, kept; written to {config}"
    assert f'backend = "{backend}"' in config.read_text()


def test_tune_states_a_change_of_array_type(
    project: Project, jax_and_finitediff: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --any-flavour, a change of backend that changes what the operators return says so
    (the timings are fixed here, so that the change happens)."""
    import generator.measure.tune as tune_module

    def measured(target: Target, root: object, **_: object) -> list[Measured]:
        times = {"finitediff": 30.0, "jax:reverse": 10.0}
        return [
            Measured(label, False, 0.1, 0.1, 0.1, {"gradient": (t, 1.0)})
            for label, t in times.items()
        ] + [
            Measured(
                "jax:reverse", False, calls_us={"gradient": (1.0, 0.1)}, inputs="jax.Array, x64 on"
            )
        ]

    monkeypatch.setattr(tune_module, "bench", measured)
    text = PYPROJECT_JAX.format(module=project.module, backend="finitediff")
    config = project.write("pyproject.toml", text)
    tuned = tune("rosen_finitediff", config, repeat=2, any_flavour=True)
    assert str(tuned) == (
        f"rosen_finitediff: finitediff -> jax:reverse, written to {config}; its operators now"
        " return jax.Array and take no out= (before: numpy arrays (numpy scalars for 0-d"
        " results) and take out=)"
    )
    assert 'backend = "jax:reverse"' in config.read_text()


def test_tune_compares_the_numpy_rows() -> None:
    rows = [
        Measured("a", False, calls_us={"gradient": (5.0, 0.0)}),
        Measured("b", False, calls_us={"gradient": (6.0, 0.0)}),
        Measured("b", False, calls_us={"gradient": (1.0, 0.0)}, inputs="jax.Array, x64 on"),
        Measured("c", True, calls_us={"gradient": (0.5, 0.0)}),
    ]
    assert winner(rows) == "a"
    assert Tuned("m", Path("p.toml"), Candidate("a"), Candidate("a")).backend == "a"
