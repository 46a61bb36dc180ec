"""`diffgen build` and `diffgen check` over [tool.diffgen]: stale, edited, all-or-nothing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from generator import fingerprint, write
from generator.templating import templates_dir
from tests.conftest import Project

Run = Callable[..., tuple[int, str, str]]

ROSEN = """
[[tool.diffgen.targets]]
function = "{ref}"
args = {{ x = "float64[4]" }}
ops = ["gradient", "hessian"]
backend = "finitediff"
output = "gen/rosen_fd.py"
"""
RESIDUAL = """
[[tool.diffgen.targets]]
function = "{ref}"
args = {{ x = "float64[3]" }}
ops = ["jacobian"]
backend = "finitediff"
output = "gen/residual_fd.py"
"""


def setup(project: Project, *extra: str) -> None:
    text = ROSEN.format(ref=project.ref("rosen")) + "".join(extra)
    project.write("pyproject.toml", text)


def test_build_then_check_is_clean(diffgen: Run, project: Project) -> None:
    setup(project)
    code, out, err = diffgen("build")
    assert code == 0, err
    assert out.split() == ["wrote", "gen/rosen_fd.py", "wrote", "gen/test_rosen_fd.py"]
    assert diffgen("check")[:2] == (0, "1 targets, 2 files up to date\n")
    mode = (project.root / "gen/rosen_fd.py").stat().st_mode & 0o777
    assert mode == 0o666 & ~write.umask(), oct(mode)  # not mkstemp's private 0o600
    assert not list((project.root / "gen").glob(".*.tmp")), "no temporary file is left behind"


def test_build_regenerates_only_stale_targets(diffgen: Run, project: Project) -> None:
    setup(project, RESIDUAL.format(ref=project.ref("residual")))
    assert diffgen("build")[0] == 0
    before = project.files()
    code, out, _ = diffgen("build")
    assert code == 0
    assert out.splitlines() == ["unchanged gen/rosen_fd.py", "unchanged gen/test_rosen_fd.py",
                                "unchanged gen/residual_fd.py",
                                "unchanged gen/test_residual_fd.py"]  # fmt: skip
    assert project.files() == before
    # --all regenerates every target; byte-identical files are reported unchanged, not written
    code, out, _ = diffgen("build", "--all")
    assert code == 0 and out.count("unchanged") == 4 and project.files() == before
    # a change to residual's body makes only residual's pair stale
    source = project.root / f"{project.module}.py"
    source.write_text(source.read_text().replace("x * x - 2.0", "x * x - 3.0"))
    code, out, _ = diffgen("build")
    assert out.split("\n")[:4] == [
        "unchanged gen/rosen_fd.py",
        "unchanged gen/test_rosen_fd.py",
        "wrote gen/residual_fd.py",
        "wrote gen/test_residual_fd.py",
    ]


def test_check_names_a_hand_edited_file(diffgen: Run, project: Project) -> None:
    setup(project)
    diffgen("build")
    module = project.root / "gen/rosen_fd.py"
    module.write_text(module.read_text().replace("Return the gradient", "Return my gradient"))
    code, out, _ = diffgen("check")
    assert code == 1
    assert "gen/rosen_fd.py: edited by hand" in out
    assert "test_rosen_fd.py" not in out
    code, _, err = diffgen("build")  # refused: the edit would be lost
    assert code == 2 and "edited by hand" in err
    assert "my gradient" in module.read_text()
    assert diffgen("build", "--force")[0] == 0
    assert diffgen("check")[0] == 0


def test_check_says_the_function_changed(diffgen: Run, project: Project) -> None:
    setup(project)
    diffgen("build")
    source = project.root / f"{project.module}.py"
    source.write_text(source.read_text().replace("100.0 *", "10.0 *"))
    code, out, _ = diffgen("check")
    assert code == 1
    reason = "stale: the function's source changed"
    assert out.splitlines()[:2] == [f"gen/rosen_fd.py: {reason}", f"gen/test_rosen_fd.py: {reason}"]
    assert diffgen("build")[0] == 0
    assert diffgen("check")[0] == 0


def test_a_sibling_function_or_a_comment_does_not_make_it_stale(
    diffgen: Run, project: Project
) -> None:
    setup(project)
    diffgen("build")
    source = project.root / f"{project.module}.py"
    text = source.read_text().replace("return x * x - 2.0", "# a note\n    return x * x - 5.0")
    text = text.replace("    xp = array_namespace(x)", "    xp = array_namespace(x)  # why")
    source.write_text(text + "\n\ndef another(x):\n    return x\n")
    assert diffgen("check")[:2] == (0, "1 targets, 2 files up to date\n")


def test_a_helper_the_function_uses_counts(diffgen: Run, project: Project) -> None:
    project.write(
        "helpers_mod.py",
        """
        import numpy as np
        SCALE = 2.0
        def helper(x):
            return SCALE * x
        def f(x):
            return np.sum(helper(x) ** 2)
        def unrelated(x):
            return x
        """,
    )
    project.write("pyproject.toml", ROSEN.format(ref="helpers_mod:f"))
    assert diffgen("build")[0] == 0
    source = project.root / "helpers_mod.py"
    source.write_text(source.read_text().replace("return x\n", "return 2 * x\n"))
    assert diffgen("check")[0] == 0  # unrelated changed
    source.write_text(source.read_text().replace("SCALE = 2.0", "SCALE = 3.0"))
    code, out, _ = diffgen("check")  # a constant the helper uses changed
    assert code == 1 and "stale: the function's source changed" in out


def test_check_says_the_target_changed(diffgen: Run, project: Project) -> None:
    setup(project)
    diffgen("build")
    config = project.root / "pyproject.toml"
    config.write_text(config.read_text().replace('"hessian"', '"hvp"'))
    code, out, _ = diffgen("check")
    assert code == 1 and "gen/rosen_fd.py: stale: the target changed" in out


def test_check_says_the_generator_changed(
    diffgen: Run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project)
    diffgen("build")
    monkeypatch.setattr(fingerprint, "generator_digest", lambda: "0" * 16)
    code, out, _ = diffgen("check")
    assert code == 1
    assert "gen/rosen_fd.py: stale: diffgen (its version, generator or templates) changed" in out


def test_check_sees_a_template_edit(diffgen: Run, project: Project, tmp_path: Path) -> None:
    """A comment added to one template (one the target's backend never renders) makes every
    generated file stale: the generator digest covers every template."""
    setup(project)
    diffgen("build")
    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    edited = copy / "jax.py.jinja"
    edited.write_text(edited.read_text() + "{# a comment #}\n")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fingerprint, "templates_dir", lambda: copy)
            fingerprint.generator_digest.cache_clear()
            code, out, _ = diffgen("check")
    finally:
        fingerprint.generator_digest.cache_clear()
    assert code == 1
    assert "gen/rosen_fd.py: stale: diffgen (its version, generator or templates) changed" in out
    assert diffgen("check")[0] == 0  # the templates as they are: current again


def test_an_old_stamp_is_stale_not_edited(diffgen: Run, project: Project) -> None:
    setup(project)
    diffgen("build")
    module = project.root / "gen/rosen_fd.py"
    header, _, body = module.read_text().split("\n", 2)
    old = f"# diffgen-fingerprint: inputs={'a' * 32} content={write.digest(body)}"
    module.write_text(f"{header}\n{old}\n{body}")
    code, out, _ = diffgen("check")
    assert code == 1 and "gen/rosen_fd.py: stale: written by an older diffgen" in out
    assert diffgen("build")[0] == 0  # not refused as a hand edit
    assert diffgen("check")[0] == 0


def test_check_names_a_missing_file(diffgen: Run, project: Project) -> None:
    setup(project)
    diffgen("build")
    (project.root / "gen/test_rosen_fd.py").unlink()
    code, out, _ = diffgen("check")
    assert code == 1 and "gen/test_rosen_fd.py: missing" in out


def test_check_runs_no_user_code(diffgen: Run, project: Project) -> None:
    """A package whose __init__ raises and leaves a marker: check never imports it."""
    project.write(
        "pkg_noisy/__init__.py",
        """
        import pathlib
        pathlib.Path(__file__).with_name("imported.marker").write_text("ran")
        raise RuntimeError("importing pkg_noisy ran user code")
        """,
    )
    project.write("pkg_noisy/mod.py", "def f(x):\n    return (x ** 2).sum()\n")
    project.write("pyproject.toml", ROSEN.format(ref="pkg_noisy.mod:f"))
    code, out, err = diffgen("check")
    assert code == 1 and "gen/rosen_fd.py: missing" in out, err
    assert not (project.root / "pkg_noisy/imported.marker").exists()


def test_build_is_all_or_nothing(diffgen: Run, project: Project) -> None:
    """A good target then two failing ones: nothing is written, every failure is named."""
    failing = RESIDUAL.format(ref=project.ref("raises")).replace("residual_fd", "raises_fd")
    nan = RESIDUAL.format(ref=project.ref("nan")).replace("residual_fd", "nan_fd")
    setup(project, failing, nan)
    before = project.files()
    code, out, err = diffgen("build")
    assert code == 2 and out == ""
    assert err.startswith("diffgen: error: 2 of 3 targets failed:")
    assert f"target 2 ({project.ref('raises')}): {project.ref('raises')} raised RuntimeError" in err
    assert f"target 3 ({project.ref('nan')}): {project.ref('nan')} returned NaN" in err
    assert "no file of any target was written" in err
    assert project.files() == before


def test_an_injected_write_failure_replaces_nothing(
    diffgen: Run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk full while renaming the second file: the first is put back, pairs stay in step."""
    setup(project)
    diffgen("build")
    source = project.root / f"{project.module}.py"
    source.write_text(source.read_text().replace("100.0 *", "10.0 *"))
    before = project.files()
    real = os.replace
    calls = []

    def full(src: str | Path, dst: str | Path) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    code, out, err = diffgen("build")
    assert code == 2 and out == ""
    assert "cannot write" in err and "test_rosen_fd.py" in err and "No space left" in err
    assert project.files() == before, "the module and its test file are the old pair"
    assert not list((project.root / "gen").glob(".*.tmp"))


def test_leftover_temporary_files_are_removed(diffgen: Run, project: Project) -> None:
    setup(project)
    leftover = project.write("gen/.rosen_fd.py.abc123.tmp", "half a module")
    assert diffgen("build")[0] == 0
    assert not leftover.exists()


def test_two_targets_with_one_output_are_refused(diffgen: Run, project: Project) -> None:
    clash = RESIDUAL.format(ref=project.ref("residual")).replace("residual_fd", "test_rosen_fd")
    setup(project, clash)
    for command in ("build", "check"):
        code, out, err = diffgen(command)
        assert code == 2, (command, out)
        assert "targets 1 and 2 both write gen/test_rosen_fd.py" in err
    assert not (project.root / "gen").exists()


def test_non_utf8_generated_file(diffgen: Run, project: Project) -> None:
    setup(project)
    diffgen("build")
    module = project.root / "gen/rosen_fd.py"
    module.write_bytes(module.read_bytes() + b"\xff\xfe broken\n")
    code, out, _ = diffgen("check")
    assert code == 1 and "gen/rosen_fd.py: edited by hand" in out
    assert diffgen("build")[0] == 2
    assert diffgen("build", "--force")[0] == 0
    assert diffgen("check")[0] == 0


def test_output_that_is_a_folder(diffgen: Run, project: Project) -> None:
    setup(project)
    (project.root / "gen/rosen_fd.py").mkdir(parents=True)
    code, _, err = diffgen("build")
    assert code == 2 and "gen/rosen_fd.py is a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(diffgen: Run, project: Project) -> None:
    setup(project)
    (project.root / "gen").mkdir()
    (project.root / "gen").chmod(0o555)
    try:
        code, _, err = diffgen("build")
    finally:
        (project.root / "gen").chmod(0o755)
    assert code == 2 and "cannot write" in err and "Permission denied" in err


def test_write_oserror_is_an_error_not_a_traceback(
    diffgen: Run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only or full disk while creating the temporary file (mkstemp fails)."""
    setup(project)

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(write.tempfile, "mkstemp", refuse)
    code, out, err = diffgen("build")
    assert code == 2 and out == ""
    assert err.startswith("diffgen: error: cannot write") and "Permission denied" in err
    assert not (project.root / "gen/rosen_fd.py").exists()


def test_generate_with_annotations_and_dims(diffgen: Run, project: Project) -> None:
    project.write(
        "annotated.py",
        """
        import numpy as np
        from jaxtyping import Float32, Float64

        def f(x: Float32[np.ndarray, "n 2"], w: Float64[np.ndarray, "2"]):
            return (x @ w.astype(np.float32)).sum()
        """,
    )
    code, _, err = diffgen("generate", "annotated:f", "--dim", "n=3", "--ops", "gradient",
                           "--backend", "finitediff", "--no-tests")  # fmt: skip
    assert code == 0, err
    text = (project.root / "generated/f_finitediff.py").read_text()
    assert '"args": (("x", "float32[3,2]"), ("w", "float64[2]"))' in text
    assert not (project.root / "generated/test_f_finitediff.py").exists()
    code, _, err = diffgen(
        "generate", "annotated:f", "--ops", "gradient", "--backend", "finitediff"
    )
    assert code == 2 and "pass --dim n=SIZE" in err
