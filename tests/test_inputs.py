"""Every input error of a numpy or torch module is a ValueError that names the argument and
says what to do: wrong shapes (regenerate), wrong dtypes (convert), masked arrays, ragged lists,
None, complex, bool and strings, for the active argument and the constants alike."""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from generator.pipeline import generate
from generator.target import Target

SOURCE = "def scaled(x, A, s):\n    return s * (A @ x)\n"

X, A, S = np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3), 2.0
SHAPE = "The shape of each argument is fixed when diffgen generates the module; pass"
MASK = "got a masked array. The operators would ignore its mask;"


@contextmanager
def scaled_module(backend: str, root: Path) -> Iterator[types.ModuleType]:
    """`scaled` generated for one backend (jacobian only), imported from its text."""
    import sys

    name = f"inputs_{backend.replace(':', '_')}"
    (root / f"{name}.py").write_text(SOURCE)
    sys.path.insert(0, str(root))
    target = Target(f"{name}:scaled", args=(("x", "float64[3]"), ("A", "float64[2,3]"),
                    ("s", "float64[]")), ops=("jacobian",), backend=backend, tests=False,
                    output="generated/scaled.py")  # fmt: skip
    try:
        (file,) = generate(target, root)
        generated = types.ModuleType("scaled")
        exec(compile(file.text, str(root / "generated/scaled.py"), "exec"), generated.__dict__)
        yield generated
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(name, None)


@pytest.fixture(scope="module", params=["finitediff", "torch:reverse"])
def module(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[types.ModuleType]:
    """`scaled` generated for a numpy and a torch module (jacobian only)."""
    with scaled_module(request.param, tmp_path_factory.mktemp("inputs")) as generated:
        yield generated


@pytest.fixture(scope="module")
def jax_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.ModuleType]:
    """`scaled` generated for a jax module (jacobian only)."""
    with scaled_module("jax:reverse", tmp_path_factory.mktemp("inputs")) as generated:
        yield generated


def call(module: types.ModuleType, **wrong: Any) -> str:
    arguments = {"x": X, "A": A, "s": S, **wrong}
    with pytest.raises(ValueError) as raised:
        module.jacobian(arguments["x"], arguments["A"], arguments["s"])
    return str(raised.value)


def converting(module: types.ModuleType, name: str) -> str:
    """How a module says to convert an argument of the right shape to float64."""
    if "torch" in module.__dict__:
        return (
            f"{name}.to(torch.float64) for a tensor or torch.as_tensor({name}, dtype=torch.float64)"
        )
    return f"numpy.asarray({name}, dtype=numpy.float64)"


def test_a_shape_mismatch_says_to_regenerate_not_to_convert(module: types.ModuleType) -> None:
    message = call(module, x=np.zeros(4))
    assert message == (
        f"x: expected float64[3], got float64[4]. {SHAPE} x of shape (3,), or regenerate the"
        " module with diffgen for float64[4]."
    )
    assert "asarray" not in message and ".to(" not in message
    message = call(module, A=torch.zeros((3, 3), dtype=torch.float64))
    assert message.startswith(f"A: expected float64[2,3], got float64[3,3]. {SHAPE} A of shape")


@pytest.mark.parametrize(
    ("wrong", "given", "regenerate"),
    [
        ({"x": X.astype(np.float32)}, "x: expected float64[3], got float32[3]", True),
        ({"x": [1, 2, 3]}, "x: expected float64[3], got int64[3]", False),
        ({"A": A.astype(int)}, "A: expected float64[2,3], got int64[2,3]", False),
        ({"s": True}, "s: expected float64[], got bool[]", False),
        ({"s": np.float32(2.0)}, "s: expected float64[], got float32[]", True),
        ({"x": torch.ones(3)}, "x: expected float64[3], got float32[3]", True),
    ],
)
def test_a_dtype_mismatch_says_to_convert(
    module: types.ModuleType, wrong: dict[str, Any], given: str, regenerate: bool
) -> None:
    name = next(iter(wrong))
    expected = (
        f"{given}. The module is specialized to float64; convert the argument, for example"
        f" {converting(module, name)}"
    )
    other = given.rpartition("got ")[2]
    expected += f", or regenerate the module with diffgen for {other}." if regenerate else "."
    assert call(module, **wrong) == expected


@pytest.mark.parametrize("name", ["x", "A", "s"])
def test_masked_arrays_are_refused_naming_the_argument(module: types.ModuleType, name: str) -> None:
    assert_refuses_masked(module, name)


@pytest.mark.parametrize("name", ["x", "A", "s"])
def test_jax_modules_refuse_masked_arrays_too(jax_module: types.ModuleType, name: str) -> None:
    assert_refuses_masked(jax_module, name)


def assert_refuses_masked(module: types.ModuleType, name: str) -> None:
    value = {"x": X, "A": A, "s": np.asarray(S)}[name]
    masked = np.ma.masked_array(value, mask=np.zeros(value.shape, dtype=bool))
    message = call(module, **{name: masked})
    assert message.startswith(f"{name}: expected ") and MASK in message
    assert f"pass {name}.filled(...)" in message and f"numpy.ma.getdata({name})" in message


@pytest.mark.parametrize(
    ("wrong", "start"),
    [
        ({"s": None}, "s: expected float64[], got NoneType. The operators take real"),
        ({"s": 1j}, "s: expected float64[], got complex128[]. The operators take real float64"),
        ({"x": X + 0j}, "x: expected float64[3], got complex128[3]. The operators take real"),
        ({"x": "abc"}, "x: expected float64[3], got str. The operators take real"),
        ({"x": [[1.0], [1.0, 2.0]]}, "x: expected float64[3], got a list that numpy cannot read"),
        ({"A": [[1.0, 2.0], [3.0]]}, "A: expected float64[2,3], got a list that numpy cannot"),
    ],
)
def test_other_inputs_name_the_argument(
    module: types.ModuleType, wrong: dict[str, Any], start: str
) -> None:
    assert call(module, **wrong).startswith(start)


def test_right_inputs_in_every_form_are_accepted(module: types.ModuleType) -> None:
    expected = S * A
    for x, a, s in (
        (X, A, S),
        (list(X), A.tolist(), 2),
        (X, A, np.float64(2.0)),
        (torch.as_tensor(X), torch.as_tensor(A), torch.tensor(2.0, dtype=torch.float64)),
    ):
        result = module.jacobian(x, a, s)
        result = result.detach().numpy() if isinstance(result, torch.Tensor) else result
        np.testing.assert_allclose(result, expected, rtol=1e-7)


def test_a_tensor_that_requires_grad(module: types.ModuleType) -> None:
    """A torch module takes it; a numpy module cannot read it, and says which argument."""
    tensor = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64, requires_grad=True)
    if "torch" in module.__dict__:
        result = module.jacobian(tensor, A, S)
        np.testing.assert_allclose(result.detach().numpy(), S * A, rtol=1e-7)
    else:
        message = call(module, x=tensor)
        assert message.startswith("x: expected float64[3], got a Tensor that numpy cannot read")
        assert "detach()" in message
