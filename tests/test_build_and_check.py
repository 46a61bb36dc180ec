"""`diffgen build` and `diffgen check` over [tool.diffgen]: stale and hand-edited files."""

from __future__ import annotations

from collections.abc import Callable

from generator import write
from tests.conftest import Project

Run = Callable[..., tuple[int, str, str]]


def setup(project: Project) -> None:
    project.write(
        "pyproject.toml",
        f"""
        [[tool.diffgen.targets]]
        function = "{project.ref("rosen")}"
        args = {{ x = "float64[4]" }}
        ops = ["gradient", "hessian"]
        backend = "finitediff"
        output = "gen/rosen_fd.py"
        """,
    )


def test_build_then_check_is_clean(diffgen: Run, project: Project) -> None:
    setup(project)
    code, out, err = diffgen("build")
    assert code == 0, err
    assert out.split() == ["wrote", "gen/rosen_fd.py", "wrote", "gen/test_rosen_fd.py"]
    assert diffgen("check")[0] == 0
    mode = (project.root / "gen/rosen_fd.py").stat().st_mode & 0o777
    assert mode == 0o666 & ~write.umask(), oct(mode)  # not mkstemp's private 0o600
    assert not list((project.root / "gen").glob(".*.tmp")), "no temporary file is left behind"


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


def test_check_names_files_made_stale_by_a_source_change(diffgen: Run, project: Project) -> None:
    setup(project)
    diffgen("build")
    source = project.root / f"{project.module}.py"
    source.write_text(source.read_text() + "\n# a change\n")
    code, out, _ = diffgen("check")
    assert code == 1
    assert "gen/rosen_fd.py: stale" in out and "gen/test_rosen_fd.py: stale" in out
    assert diffgen("build")[0] == 0
    assert diffgen("check")[0] == 0


def test_check_names_a_missing_file(diffgen: Run, project: Project) -> None:
    setup(project)
    diffgen("build")
    (project.root / "gen/test_rosen_fd.py").unlink()
    code, out, _ = diffgen("check")
    assert code == 1 and "gen/test_rosen_fd.py: missing" in out


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
