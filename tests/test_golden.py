"""The golden record: generated/ is exactly what diffgen writes today, whatever the hash seed."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.config import read_config
from tests.conftest import REPO

TARGETS = read_config(REPO / "pyproject.toml")
UPDATE = "run `.venv/bin/diffgen build` at the repository root, then review `git diff generated/`"

#: Two hash seeds: the record is built once under each, in parallel, once per test run.
SEEDS = ("0", "4242")

BUILD = """
import json, pathlib
from generator.config import read_config
from generator.pipeline import generate
root = pathlib.Path.cwd()
print(json.dumps([{str(f.path.relative_to(root)): f.text for f in generate(t, root)}
                  for t in read_config(root / "pyproject.toml")]))
"""

Build = list[dict[str, str]]  # per target, in [tool.diffgen] order: {relative path: text}


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run that every xdist worker sees (the base temp without xdist)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    base = tmp_path_factory.getbasetemp()
    folder = base.parent / f"golden-{run}" if run else base / "golden"
    folder.mkdir(exist_ok=True)
    return folder


def build_all() -> dict[str, Build]:
    """Generate every [tool.diffgen] target in memory under each hash seed, in parallel."""
    argv = [sys.executable, "-c", BUILD]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    runs = {
        seed: subprocess.Popen(argv, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed}, **pipes)
        for seed in SEEDS
    }
    builds = {}
    for seed, run in runs.items():
        out, err = run.communicate()
        assert run.returncode == 0, f"building under PYTHONHASHSEED={seed} failed:\n{err[-3000:]}"
        builds[seed] = json.loads(out)
    return builds


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Build]]:
    """The record as diffgen writes it today under each seed: built by the first worker that
    asks (the others wait on the lock), then read from the shared folder."""
    folder = shared_folder(tmp_path_factory)
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = folder / "builds.json"
        if not saved.exists():
            saved.write_text(json.dumps(build_all()))
        fcntl.flock(lock, fcntl.LOCK_UN)
    yield json.loads(saved.read_text())


@pytest.mark.parametrize("index", range(len(TARGETS)), ids=[t.function for t in TARGETS])
def test_generated_files_match_the_golden_record(builds: dict[str, Build], index: int) -> None:
    for relative, text in builds[SEEDS[0]][index].items():
        path = REPO / relative
        assert path.exists(), f"{relative} is missing from the golden record; {UPDATE}"
        assert path.read_text() == text, f"{relative} differs from the generator's; {UPDATE}"


def test_output_is_identical_under_different_hash_seeds(builds: dict[str, Build]) -> None:
    first, second = (builds[seed] for seed in SEEDS)
    assert len(first) == len(second) == len(TARGETS)
    for files, other in zip(first, second, strict=True):
        assert files == other, f"{', '.join(files)}: the output depends on the hash seed"
