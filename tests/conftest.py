"""Shared fixtures (a throwaway project of user functions) and the tiers: markers on every test."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: The tier of each test file outside the unit tier (the default; generated/'s test files are
#: golden). Every test gets exactly one tier marker, so that the tiers partition the suite.
TIERS = {
    "test_jax_backend.py": "backend",
    "test_jax_numpy_and_transforms.py": "backend",
    "test_torch_backend.py": "backend",
    "test_sympy_backend.py": "backend",
    "test_finitediff_robust.py": "backend",
    "test_build_and_check.py": "e2e",
    "test_bench_and_tune.py": "e2e",
    "test_kinds.py": "e2e",
    "test_pairs.py": "e2e",
    "test_state.py": "e2e",
    "test_user_project.py": "e2e",
    "test_wheel.py": "e2e",
    "test_golden.py": "golden",
    "test_scenarios.py": "scenarios",
    "test_torch_corpus.py": "scenarios",
}
#: The backend families a test file is about, whatever its parameters.
FAMILIES_OF_FILE = {
    "test_jax_backend.py": ("jax",),
    "test_jax_numpy_and_transforms.py": ("jax",),
    "test_torch_backend.py": ("torch",),
    "test_torch_corpus.py": ("torch", "jax"),  # jax computes the references
    "test_sympy_backend.py": ("sympy",),
    "test_symbolic.py": ("sympy",),
    "test_emit.py": ("sympy",),
    "test_finitediff_robust.py": ("finitediff",),
}
FAMILIES = ("finitediff", "sympy", "jax", "torch")
#: Tests left out unless the -m expression names their marker (pytest's own -m would replace
#: the default expression, and `-m unit` would then run them).
OPT_IN = ("slow", "fuzz")


@functools.cache
def module_families(path: Path) -> frozenset[str]:
    """The backend families of a generated module (its DIFFGEN backend and outer)."""
    if not path.is_file():
        return frozenset()
    text = path.read_text()
    found = re.findall(r'^ +"(?:backend|outer)": "([a-z]+)', text, re.M)
    return frozenset(f for f in found if f in FAMILIES)


def families(value: object) -> set[str]:
    """The backend families named in a test's parameter: a backend or pair name, a generated
    module's path, or a tuple holding them."""
    if isinstance(value, str):
        family, _, mode = value.partition(":")
        named = family in FAMILIES and mode in ("", "forward", "reverse")
        return {family} if named else set()
    if isinstance(value, Path):
        return set(module_families(value)) if value.parent == REPO / "generated" else set()
    if isinstance(value, tuple | list):
        return set().union(*map(families, value))
    return set()


def tier_markers(item: pytest.Item) -> tuple[str, ...]:
    """The markers of a test: its tier, then the backend families it exercises."""
    path = Path(item.path)
    if path.parent == REPO / "generated":
        module = path.with_name(path.name.removeprefix("test_"))
        return ("golden", *sorted(module_families(module)))
    found = set(FAMILIES_OF_FILE.get(path.name, ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        found |= families(tuple(callspec.params.values()))
    return (TIERS.get(path.name, "unit"), *sorted(found))


@pytest.hookimpl(tryfirst=True)  # before pytest's -m deselects by the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
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
