"""The README's "Use diffgen in your own project", run as written in a fresh project."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO

LOSS = '''
"""A user's model: the logistic-regression loss of weights w on a data matrix X, labels y."""
from array_api_compat import array_namespace


def loss(w, X, y):
    xp = array_namespace(w)
    z = X @ w
    return xp.mean(xp.log(1.0 + xp.exp(-z * y))) + 0.01 * xp.sum(w * w)
'''

CONFIG = """
[project]
name = "mymodels"
version = "0.0.1"

[[tool.diffgen.targets]]
function = "mymodels.loss:loss"
args = { w = "float64[5]", X = "float64[30,5]", y = "float64[30]" }
ops = ["gradient", "hvp"]
backend = "finitediff"
"""
PYTEST = """
[tool.pytest.ini_options]
pythonpath = ["."]
"""


def run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env
    return subprocess.run(argv, cwd=cwd, env=environment, capture_output=True, text=True)


def test_build_then_plain_pytest_in_a_user_project(tmp_path: Path) -> None:
    (tmp_path / "mymodels").mkdir()
    (tmp_path / "mymodels/__init__.py").write_text("")
    (tmp_path / "mymodels/loss.py").write_text(textwrap.dedent(LOSS))
    (tmp_path / "pyproject.toml").write_text(CONFIG)
    diffgen = [sys.executable, "-m", "generator"]
    built = run([*diffgen, "build"], tmp_path, PYTHONPATH=str(REPO))
    assert built.returncode == 0, built.stderr
    assert built.stdout.split() == ["wrote", "generated/loss_finitediff.py", "wrote",
                                    "generated/test_loss_finitediff.py"]  # fmt: skip
    checked = run([*diffgen, "check"], tmp_path, PYTHONPATH=str(REPO))
    assert (checked.returncode, checked.stdout) == (0, "1 targets, 2 files up to date\n")
    pytest = [str(Path(sys.executable).parent / "pytest"), "-q", "-p", "no:cacheprovider"]
    # without the pythonpath setting the generated module cannot import mymodels
    without = run(pytest, tmp_path)
    assert without.returncode != 0 and "No module named 'mymodels'" in without.stdout
    (tmp_path / "pyproject.toml").write_text(CONFIG + PYTEST)
    passed = run(pytest, tmp_path)
    assert passed.returncode == 0, passed.stdout[-2000:]
    assert " passed" in passed.stdout and "failed" not in passed.stdout
    # the config change is no input of the target: still current
    assert run([*diffgen, "check"], tmp_path, PYTHONPATH=str(REPO)).returncode == 0
