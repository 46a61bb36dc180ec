"""Shared fixtures (a throwaway project of user functions) and the tiers: markers on every test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tiers import OPT_IN, REPO, Pruner, tier_markers


@pytest.hookimpl(tryfirst=True)  # before pytest's -m deselects by the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tier and backend families; leave out slow and fuzz tests unless
    the -m expression names them."""
    expression = config.getoption("markexpr") or ""
    opted_in = [m for m in OPT_IN if re.search(rf"\b{m}\b", expression)]
    kept, left = [], []
    for item in items:
        for name in tier_markers(item):
            item.add_marker(name)
        skipped = any(item.get_closest_marker(m) for m in OPT_IN if m not in opted_in)
        (left if skipped else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_configure(config: pytest.Config) -> None:
    """Skip collecting (importing) the test files that -m cannot select, generated/'s too (a
    plugin object's hooks see every path, a conftest's only those below it): -m unit imports
    neither jax's generated modules nor the scenario table."""
    expression = config.getoption("markexpr") or ""
    if expression:
        config.pluginmanager.register(Pruner(expression), "diffgen-tier-pruner")


USER_FUNCTIONS = """
import numpy as np
from array_api_compat import array_namespace


def rosen(x):
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def residual(x):
    return x * x - 2.0 * x[::-1]


def scaled(x, A, s):
    return s * (A @ x)


def second_arg_active(c, x):
    return c * (x ** 3).sum()


def raises(x):
    raise RuntimeError("boom")


def nan(x):
    return np.log(-x).sum()


def integer(x):
    return np.zeros((), dtype=np.int64)
"""


class Project:
    """A temporary project root holding one module of user functions."""

    def __init__(self, root: Path, module: str) -> None:
        self.root = root
        self.module = module

    def ref(self, function: str) -> str:
        return f"{self.module}:{function}"

    def files(self) -> dict[str, bytes]:
        """Every file under the root with its content, to prove that nothing was written."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    module = f"userfns_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(USER_FUNCTIONS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield Project(tmp_path, module)
    sys.modules.pop(module, None)


@pytest.fixture
def diffgen(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the command line in-process: (exit code, stdout, stderr)."""
    from generator.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


BLOCKER = """
import importlib.util, sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ImportError(name + " is blocked: the generated module must not need it")
sys.meta_path.insert(0, Blocker())
spec = importlib.util.spec_from_file_location("mod", {module!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
{call}
"""


def run_blocked(directory: Path, module: str, blocked: set[str], call: str) -> str:
    """Import `module` in a fresh interpreter where `blocked` packages cannot be imported, run
    `call` (which may use `module` and prints its result) and return what it printed."""
    import subprocess

    script = BLOCKER.format(blocked=sorted(blocked), module=module, call=call)
    run = subprocess.run([sys.executable, "-c", script], cwd=directory, capture_output=True,
                         text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout


def run_generated_tests(root: Path) -> None:
    """Run the generated tests under root, with the repository importable (for examples)."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([*argv, "generated"], cwd=root, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
