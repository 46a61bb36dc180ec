"""The command line starts fast: --version, backends and check import no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from generator.backends.registry import ENTRIES, load
from tests.conftest import REPO, Project

Run = Callable[..., tuple[int, str, str]]

HEAVY = ("jax", "torch", "sympy", "scipy", "jinja2", "black")
LOADED = """
import json, sys
{code}
print(json.dumps(sorted({{m.partition(".")[0] for m in sys.modules}} & set({heavy!r}))))
"""


def heavy_after(code: str, cwd: object = REPO) -> list[str]:
    script = LOADED.format(code=code, heavy=HEAVY)
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True,
                         text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    found: list[str] = json.loads(run.stdout.splitlines()[-1])
    return found


def test_importing_the_command_line_imports_no_heavy_library() -> None:
    assert heavy_after("import generator.cli") == []


def test_backends_imports_no_backend_library() -> None:
    code = "from generator.cli import main\nassert main(['backends']) == 0"
    assert heavy_after(code) == []


def test_check_imports_no_heavy_library(diffgen: Run, project: Project) -> None:
    project.write(
        "pyproject.toml",
        f"""
        [[tool.diffgen.targets]]
        function = "{project.ref("rosen")}"
        args = {{ x = "float64[3]" }}
        ops = ["gradient"]
        backend = "finitediff"
        """,
    )
    assert diffgen("build")[0] == 0
    code = "from generator.cli import main\nassert main(['check']) == 0"
    assert heavy_after(code, cwd=project.root) == []


def test_the_static_table_matches_the_backends() -> None:
    for name, entry in ENTRIES.items():
        backend = load(name)
        assert (backend.name, backend.flavour, tuple(backend.operators)) == (
            name,
            entry.flavour,
            entry.operators,
        )


def test_help_lists_every_command() -> None:
    run = subprocess.run([sys.executable, "-m", "generator", "--help"], cwd=REPO,
                         capture_output=True, text=True, env={"PYTHONPATH": str(REPO)})  # fmt: skip
    assert run.returncode == 0
    commands = run.stdout.split("{", 1)[1].split("}", 1)[0]
    assert commands.split(",") == ["generate", "build", "check", "backends", "bench", "tune"]
    for command in ("bench", "tune"):
        assert f"\n    {command} " in run.stdout
