"""`--torch-mode aoti`: graphs compiled by AOTInductor into a package beside the module.

Each compile takes tens of seconds on a small machine, so one test builds one small target and
checks all it can on it; the refusal without a compiler compiles nothing.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from generator.backends.torch import aoti
from generator.measure.loader import load
from tests.conftest import Project, run_generated_tests

Run = Callable[..., tuple[int, str, str]]

LOSSES = """
from array_api_compat import array_namespace


def logistic(w, A, y):
    '''The mean logistic loss of a linear model over a data matrix, with a ridge term.'''
    xp = array_namespace(w, A, y)
    margins = -y * (A @ w)
    return xp.mean(xp.log(1.0 + xp.exp(margins))) + 0.5 * xp.sum(w * w)
"""

TARGET = """
[[tool.diffgen.targets]]
function = "losses:logistic"
args = { w = "float64[5]", A = "float64[40,5]", y = "float64[40]" }
ops = ["gradient"]
backend = "torch:reverse"
torch_mode = "aoti"
output = "generated/logistic_aoti.py"
"""

MODULE, PACKAGE = "generated/logistic_aoti.py", "generated/logistic_aoti.pt2"


def test_aoti_module_package_check_and_determinism(
    diffgen: Run, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    project.write("losses.py", LOSSES)
    project.write("pyproject.toml", TARGET)
    cache = tmp_path / "inductor"  # the folder's path is written into the libraries
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(cache))
    code, out, err = diffgen("build")
    assert code == 0, err
    assert out.split() == ["wrote", MODULE, "wrote", PACKAGE, "wrote",
                           "generated/test_logistic_aoti.py"]  # fmt: skip
    package = (project.root / PACKAGE).read_bytes()
    run_generated_tests(project.root)

    module = load(project.root / MODULE)
    rng = np.random.default_rng(3)
    w, A, y = rng.normal(size=5), rng.normal(size=(40, 5)), np.sign(rng.normal(size=40))
    sys.modules.pop("losses", None)
    from losses import logistic  # type: ignore[import-not-found]

    wanted = torch.func.grad(logistic)(*map(torch.as_tensor, (w, A, y)))
    found = module.gradient(w, A, y)
    assert type(found) is torch.Tensor and found.dtype == torch.float64 and found.shape == (5,)
    np.testing.assert_allclose(found.numpy(), wanted.numpy(), rtol=1e-12, atol=1e-14)
    out_ = torch.empty(5, dtype=torch.float64)
    assert module.gradient(w, A, y, out=out_) is out_ and torch.equal(out_, found)
    with pytest.raises(ValueError, match=r"^w: expected float64\[5\], got float32\[5\]\. "):
        module.gradient(w.astype(np.float32), A, y)
    assert "compiled ahead of time by AOTInductor" in (module.__doc__ or "")
    assert "torch.set_num_threads(1)" in (module.__doc__ or "")

    assert diffgen("check")[0] == 0
    (project.root / PACKAGE).write_bytes(package + b"\0")
    code, out, _ = diffgen("check")
    assert code == 1
    assert f"{PACKAGE}: stale: not the package logistic_aoti.py was written with" in out
    (project.root / PACKAGE).unlink()
    code, out, _ = diffgen("check")
    assert (code, out.splitlines()[0]) == (
        1,
        f"{PACKAGE}: missing (the module logistic_aoti.py loads it)",
    )
    with pytest.raises(ImportError, match=r"logistic_aoti\.pt2 is missing: this module runs"):
        load(project.root / MODULE)

    # rebuilt from a cold inductor cache (in the same folder), the package is the same
    shutil.rmtree(cache)
    code, out, err = diffgen("build")
    assert code == 0, err
    assert out.splitlines() == [f"unchanged {MODULE}", f"wrote {PACKAGE}",
                                "unchanged generated/test_logistic_aoti.py"]  # fmt: skip
    assert (project.root / PACKAGE).read_bytes() == package
    assert diffgen("check")[0] == 0


def test_aoti_without_a_compiler_is_refused(
    diffgen: Run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aoti, "find_compiler", lambda: None)
    monkeypatch.delenv("CXX", raising=False)
    before = project.files()
    code, out, err = diffgen("generate", project.ref("rosen"), "--arg", "x=float64[4]",
                             "--ops", "gradient", "--backend", "torch:reverse",
                             "--torch-mode", "aoti", "-o", "gen/rosen_aoti.py")  # fmt: skip
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"diffgen: error: --torch-mode aoti cannot compile {project.ref('rosen')}: no C++ compiler",
        "  why: AOTInductor compiles each operator's graph to C++ and calls 'g++' ($CXX, else"
        " g++) to build it, and that is not on the PATH",
        "  fix: install a C++ compiler (apt-get install g++, or set CXX to one), or use"
        " --torch-mode graph (the default), which writes the graphs as Python and needs no"
        " compiler",
    ]
    assert project.files() == before
