"""The built wheel ships the templates: install it into a fresh venv and generate from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import REPO


def run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_wheel_installs_and_generates(tmp_path: Path) -> None:
    # build from a copy, so that no build artefact lands in the checkout
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "*cache*"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", tmp_path / "dist", ".", cwd=source)  # fmt: skip
    wheel = next((tmp_path / "dist").glob("diffgen-*.whl"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin/python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
               cwd=tmp_path).strip()  # fmt: skip
    run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel,
        cwd=tmp_path)  # fmt: skip
    # the dependencies come from this environment's site-packages, after the wheel's own
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    project = tmp_path / "project"
    shutil.copytree(REPO / "examples", project / "examples")
    show = "import generator.templating as t; print(t.templates_dir())"
    where = run(python, "-c", show, cwd=project)
    assert where.strip() == str(Path(site, "generator", "templates"))
    out = run(python, "-m", "generator", "generate", "examples.rosen:rosen", "--arg",
              "x=float64[10]", "--ops", "all", "--backend", "finitediff", cwd=project)  # fmt: skip
    assert "wrote generated/rosen_finitediff.py" in out
    generated = (project / "generated/rosen_finitediff.py").read_text()
    assert generated == (REPO / "generated/rosen_finitediff.py").read_text()
    run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "generated", cwd=project)
