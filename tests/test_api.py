"""The public Python API: generate, build and check as functions, the CLI's behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import generator as diffgen
from generator.measure.loader import load
from tests.conftest import Project


def test_the_api_names_are_exported() -> None:
    assert sorted(diffgen.__all__) == sorted(
        ["Built", "DiffgenError", "Problem", "Spec", "Target", "__version__", "build", "check",
         "generate", "parse_spec", "target"]
    )  # fmt: skip
    assert diffgen.parse_spec("float64[3,4]") == diffgen.Spec("float64", (3, 4))


def test_generate_writes_a_module_whose_jacobian_is_right(project: Project) -> None:
    """A user's call: a mapping of specs, operators as one string, the root a path."""
    paths = diffgen.generate(project.ref("scaled"), args={"x": "float64[3]", "A": "float64[2,3]",
                             "s": "float64[]"}, ops="jacobian", backend="finitediff",
                             root=project.root, output="out/scaled_fd.py", tests=False)  # fmt: skip
    assert paths == (project.root / "out" / "scaled_fd.py",)
    module = load(paths[0])
    x, a, s = np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3), np.array(2.0)
    jacobian = module.jacobian(x, a, s)
    assert jacobian.shape == (2, 3) and jacobian.dtype == np.float64
    np.testing.assert_allclose(jacobian, 2.0 * a, rtol=1e-9)


def test_generate_without_write_writes_nothing(project: Project) -> None:
    before = project.files()
    paths = diffgen.generate(diffgen.Target(project.ref("rosen"), args=(("x", "float64[4]"),),
                             ops=("gradient",)), root=project.root, write=False)  # fmt: skip
    assert [p.name for p in paths] == ["rosen_finitediff.py", "test_rosen_finitediff.py"]
    assert project.files() == before


def test_bad_input_raises_diffgen_error_and_writes_nothing(project: Project) -> None:
    before = project.files()
    with pytest.raises(diffgen.DiffgenError, match="unknown backend 'jax:sideways'"):
        diffgen.generate(project.ref("rosen"), args={"x": "float64[4]"}, backend="jax:sideways",
                         root=project.root)  # fmt: skip
    with pytest.raises(TypeError, match="either a Target or a function reference"):
        diffgen.generate(diffgen.Target(project.ref("rosen")), backend="sympy")
    assert project.files() == before


def test_build_then_check(project: Project) -> None:
    config = project.write(
        "pyproject.toml",
        f"""
        [[tool.diffgen.targets]]
        function = "{project.ref("residual")}"
        args = {{ x = "float64[3]" }}
        ops = ["jacobian"]
        """,
    )
    assert [p.reason for p in diffgen.check(config)] == ["missing", "missing"]
    built = diffgen.build(config)
    assert [(b.path.name, b.wrote) for b in built] == [
        ("residual_finitediff.py", True), ("test_residual_finitediff.py", True)
    ]  # fmt: skip
    assert diffgen.check(config) == ()
    assert [b.wrote for b in diffgen.build(config)] == [False, False]
