"""The golden record: generated/ is exactly what diffgen writes today, whatever the hash seed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from generator.config import read_config
from generator.pipeline import generate
from tests.conftest import REPO

TARGETS = read_config(REPO / "pyproject.toml")
UPDATE = "run `.venv/bin/diffgen build` at the repository root, then review `git diff generated/`"


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.function)
def test_generated_files_match_the_golden_record(target: object) -> None:
    for file in generate(target, REPO):  # type: ignore[arg-type]
        relative = file.path.relative_to(REPO)
        assert file.path.exists(), f"{relative} is missing from the golden record; {UPDATE}"
        assert (
            file.path.read_text() == file.text
        ), f"{relative} differs from the generator's; {UPDATE}"


DIGESTS = """
import hashlib, json, pathlib
from generator.config import read_config
from generator.pipeline import generate
root = pathlib.Path.cwd()
print(json.dumps({str(f.path.relative_to(root)): hashlib.sha256(f.text.encode()).hexdigest()
                  for t in read_config(root / "pyproject.toml") for f in generate(t, root)}))
"""


def test_output_is_identical_under_different_hash_seeds() -> None:
    digests = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", DIGESTS], cwd=REPO, env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
        digests.append(json.loads(run.stdout))
    assert digests[0] == digests[1]
    on_disk = {name: hashlib.sha256((REPO / name).read_bytes()).hexdigest() for name in digests[0]}
    assert digests[0] == on_disk, UPDATE
