"""jax modules as a user calls them: numpy float64 inputs with x64 off, inside the caller's
jax.jit, vmap and grad, wrong shapes and dtypes, and --jax-export artifacts bound to their target.

The functions are a user's: a planar robot arm's end effector (Jacobian for Newton inverse
kinematics, the link lengths a constant) and a logistic-regression loss over a data matrix
(gradient and Hessian-vector product, the data constants).
"""

from __future__ import annotations

import base64
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from generator.backends.jax_options import JaxOptions
from generator.pipeline import generate_and_write
from generator.target import Target
from tests.test_generated_module import load

jax = pytest.importorskip("jax")

FUNCTIONS = """
from array_api_compat import array_namespace


def arm(q, lengths):
    xp = array_namespace(q)
    angles = xp.cumulative_sum(q)
    return xp.stack(
        [xp.sum(lengths * xp.cos(angles)), xp.sum(lengths * xp.sin(angles)), angles[-1]]
    )


def logistic(w, X, y):
    xp = array_namespace(w)
    z = X @ w
    return xp.sum(xp.log(1.0 + xp.exp(-y * z))) / y.shape[0] + 0.5e-2 * (w @ w)


def ridge(w, X, y):
    r = X @ w - y
    return (r @ r) / y.shape[0] + 1e-2 * (w @ w)
"""

N, M = 5, 40
LOSS_ARGS = (("w", f"float64[{N}]"), ("X", f"float64[{M},{N}]"), ("y", f"float64[{M}]"))
LENGTHS = np.array([1.0, 0.8, 0.5])


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A project root with the user's module, importable while this file's tests run."""
    root = tmp_path_factory.mktemp("jaxuser")
    name = f"jaxuser_{uuid.uuid4().hex[:10]}"
    (root / f"{name}.py").write_text(FUNCTIONS)
    sys.path.insert(0, str(root))
    yield root, name
    sys.path.remove(str(root))
    sys.modules.pop(name, None)


def generated(root: Path, target: Target) -> Path:
    (path,) = generate_and_write(target, root, force=False)
    return Path(path)


@pytest.fixture(scope="module")
def arm_module(user: tuple[Path, str]) -> ModuleType:
    root, name = user
    target = Target(f"{name}:arm", args=(("q", "float64[3]"), ("lengths", "float64[3]")),
                    ops=("jacobian",), backend="jax:reverse", tests=False,
                    output="generated/arm_jax.py")  # fmt: skip
    return load(generated(root, target))


@pytest.fixture(scope="module")
def loss_module(user: tuple[Path, str]) -> ModuleType:
    root, name = user
    target = Target(f"{name}:logistic", args=LOSS_ARGS, ops=("gradient", "hvp"),
                    backend="jax:reverse", outer="jax:forward", tests=False,
                    output="generated/logistic_jax.py")  # fmt: skip
    return load(generated(root, target))


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(M, N))
    y = np.where(rng.normal(size=M) > 0, 1.0, -1.0)
    return rng.normal(size=N), rng.normal(size=N), X, y


def arm_jacobian(q: np.ndarray) -> np.ndarray:
    """By hand: d(x, y, angle)/dq_j sums over the links k >= j."""
    angles = np.cumsum(q)
    J = np.zeros((3, 3))
    for j in range(3):
        J[0, j] = -np.sum(LENGTHS[j:] * np.sin(angles[j:]))
        J[1, j] = np.sum(LENGTHS[j:] * np.cos(angles[j:]))
        J[2, j] = 1.0
    return J


def logistic_derivatives(
    w: np.ndarray, v: np.ndarray, X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """By hand: the gradient and H v of the mean logistic loss plus its ridge term."""
    s = 1.0 / (1.0 + np.exp(y * (X @ w)))  # sigmoid(-y z)
    gradient = -(X.T @ (y * s)) / M + 1e-2 * w
    hvp = X.T @ (s * (1 - s) * (X @ v)) / M + 1e-2 * v
    return gradient, hvp


def test_numpy_float64_with_x64_off_is_exact_and_leaves_the_configuration(
    arm_module: ModuleType, loss_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a scipy user does: numpy float64 arrays, jax's default configuration. Results are
    float64 and equal to the x64-on results bit for bit; no argument goes through
    jax.device_put (the ~250 µs per call it cost); the configuration is as it was."""
    w, v, X, y = data()
    q = np.array([0.3, -0.4, 0.9])
    with jax.enable_x64(True):
        expected = [arm_module.jacobian(jax.numpy.asarray(q), jax.numpy.asarray(LENGTHS))]
        expected += loss_module.gradient_and_hvp(*(jax.numpy.asarray(a) for a in (w, v, X, y)))

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("jax.device_put called on the per-call path")

    monkeypatch.setattr(jax, "device_put", refused)
    with jax.enable_x64(False):
        found = [arm_module.jacobian(q, LENGTHS), *loss_module.gradient_and_hvp(w, v, X, y)]
        assert not jax.enable_x64.value and not jax.config.jax_enable_x64
    for value, reference in zip(found, expected, strict=True):
        assert isinstance(value, jax.Array) and value.dtype == np.float64
        np.testing.assert_array_equal(np.asarray(value), np.asarray(reference))
    np.testing.assert_allclose(np.asarray(found[0]), arm_jacobian(q), rtol=0, atol=1e-15)
    gradient, hvp = logistic_derivatives(w, v, X, y)
    np.testing.assert_allclose(np.asarray(found[1]), gradient, rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.asarray(found[2]), hvp, rtol=0, atol=1e-15)


def test_operators_compose_with_the_callers_jit_vmap_and_grad(
    arm_module: ModuleType, loss_module: ModuleType
) -> None:
    """Under jax.jit, jax.vmap and jax.grad the operators give the plain call's values."""
    w, v, X, y = data()
    qs = np.array([[0.3, -0.4, 0.9], [1.1, 0.2, -0.7], [0.0, 0.5, 0.5]])
    with jax.enable_x64(True):
        jacobian = jax.jit(arm_module.jacobian)
        for q in qs:
            np.testing.assert_array_equal(
                np.asarray(jacobian(q, LENGTHS)), np.asarray(arm_module.jacobian(q, LENGTHS))
            )
        batched = np.asarray(jax.vmap(arm_module.jacobian, in_axes=(0, None))(qs, LENGTHS))
        assert batched.shape == (3, 3, 3)
        for q, J in zip(qs, batched, strict=True):
            np.testing.assert_allclose(J, arm_jacobian(q), rtol=0, atol=1e-15)
        # grad through the gradient: the Hessian's column sums, as the module's own hvp gives
        column_sums = jax.grad(lambda z: jax.numpy.sum(loss_module.gradient(z, X, y)))(w)
        ones = np.ones(N)
        np.testing.assert_allclose(
            np.asarray(column_sums), np.asarray(loss_module.hvp(w, ones, X, y)), rtol=0,
            atol=1e-15,
        )  # fmt: skip
        _, hvp = logistic_derivatives(w, v, X, y)
        inside = jax.jit(lambda a, b: loss_module.hvp(a, b, X, y))(w, v)
        np.testing.assert_allclose(np.asarray(inside), hvp, rtol=0, atol=1e-15)
        # a Newton step of inverse kinematics, jitted whole, with the module's Jacobian inside
        goal = np.array([1.2, 1.0, 0.8])
        step = jax.jit(
            lambda q: q - jax.numpy.linalg.solve(
                arm_module.jacobian(q, LENGTHS), arm_position(q) - goal
            )
        )  # fmt: skip
        q = qs[0]
        expected = q - np.linalg.solve(arm_jacobian(q), np.asarray(arm_position(q)) - goal)
        np.testing.assert_allclose(np.asarray(step(q)), expected, rtol=0, atol=1e-14)


def arm_position(q: object) -> jax.Array:
    angles = jax.numpy.cumsum(q)
    return jax.numpy.stack(
        [jax.numpy.sum(LENGTHS * jax.numpy.cos(angles)),
         jax.numpy.sum(LENGTHS * jax.numpy.sin(angles)), angles[-1]]
    )  # fmt: skip


def test_wrong_arguments_under_jit_and_outside(arm_module: ModuleType) -> None:
    """A wrong shape says the shape is fixed at generation; only a wrong dtype suggests
    numpy.asarray; a float32 tracer (x64 off) says how to trace in float64."""
    shape = (
        "q: expected float64[3], got float64[4]. The shape (3,) is fixed when the module is"
        " generated and its operators are compiled for it; regenerate the module with diffgen"
        " for other shapes."
    )
    dtype = (
        "q: expected float64[3], got float32[3]. The operators of this module are compiled for"
        " float64; convert the argument, for example numpy.asarray(q, dtype=numpy.float64), or"
        " regenerate the module with diffgen for another dtype."
    )
    for wrong, message in ((np.zeros(4), shape), (np.zeros(3, np.float32), dtype)):
        with pytest.raises(ValueError) as caught:
            arm_module.jacobian(wrong, LENGTHS)
        assert str(caught.value) == message
    with jax.enable_x64(True):
        with pytest.raises(ValueError) as caught:
            jax.jit(arm_module.jacobian)(np.zeros(4), LENGTHS)
        assert str(caught.value) == shape
        with pytest.raises(ValueError, match=r"^lengths: expected float64\[3\], got float64\[2\]"):
            arm_module.jacobian(jax.numpy.zeros(3), jax.numpy.zeros(2))
    with jax.enable_x64(False), pytest.raises(ValueError) as caught:
        jax.jit(arm_module.jacobian)(jax.numpy.zeros(3), LENGTHS)
    assert str(caught.value).startswith(
        "q: expected float64[3], got float32[3]. The operators of this module are compiled for"
        " float64; inside jax.jit, vmap or grad, trace with float64 arrays (float64 needs jax's"
        ' x64 mode: jax.config.update("jax_enable_x64", True))'
    ), caught.value


@pytest.fixture(scope="module")
def exported(user: tuple[Path, str]) -> dict[str, Path]:
    """Two --jax-export modules whose artifacts have the same specs: a swap would run."""
    root, name = user
    paths = {}
    for function in ("logistic", "ridge"):
        target = Target(f"{name}:{function}", args=LOSS_ARGS, ops=("gradient",),
                        backend="jax:reverse", options=(JaxOptions(export=True),), tests=False,
                        output=f"generated/{function}_export.py")  # fmt: skip
        paths[function] = generated(root, target)
    return paths


def blob(text: str, constant: str) -> str:
    found = re.search(rf"^{constant}: Final = \(\n(?:    \"[^\"]*\"\n)+\)", text, re.M)
    assert found is not None, constant
    return found.group(0)


def test_exported_operators_compose_with_jit_and_say_they_do_not_with_vmap_or_grad(
    exported: dict[str, Path],
) -> None:
    module = load(exported["logistic"])
    w, _, X, y = data()
    gradient, _ = logistic_derivatives(w, w, X, y)
    with jax.enable_x64(True):
        inside = jax.jit(lambda a: module.gradient(a, X, y))(w)
        np.testing.assert_allclose(np.asarray(inside), gradient, rtol=0, atol=1e-15)
        with pytest.raises(NotImplementedError, match="Batching rule for 'call_exported'"):
            jax.vmap(module.gradient, in_axes=(0, None, None))(np.stack([w, w]), X, y)
        with pytest.raises(ValueError, match="No VJP is available"):
            jax.grad(lambda a: jax.numpy.sum(module.gradient(a, X, y)))(w)
    assert "not with jax.vmap or jax.grad" in " ".join(str(module.__doc__).split())


@pytest.mark.parametrize("swap", ["from another module", "within the module"])
def test_a_swapped_artifact_fails_at_import(
    exported: dict[str, Path], tmp_path: Path, swap: str
) -> None:
    text = exported["logistic"].read_text()
    mine = blob(text, "_GRADIENT_EXPORTED")
    if swap == "from another module":
        theirs = blob(exported["ridge"].read_text(), "_GRADIENT_EXPORTED")
    else:
        theirs = blob(text, "_VALUE_AND_GRADIENT_EXPORTED").replace(
            "_VALUE_AND_GRADIENT_EXPORTED", "_GRADIENT_EXPORTED"
        )
    assert theirs != mine
    swapped = tmp_path / "swapped.py"
    swapped.write_text(text.replace(mine, theirs))
    with pytest.raises(RuntimeError) as caught:
        load(swapped)
    message = str(caught.value)
    assert message.startswith(
        "_gradient_kernel: the jax.export artifact embedded in this module is not the one"
        " diffgen exported for it: it computes _"
    ), message
    assert "The module was edited or assembled from other modules; regenerate it" in message
    names = re.findall(r"computes (\w+)\(", message) + re.findall(r"needs (\w+)\(", message)
    assert names[0] != names[1] and names[1].startswith("_gradient_kernel_"), names


def test_artifact_names_carry_the_target_digest(exported: dict[str, Path]) -> None:
    digests = {}
    for function, path in exported.items():
        text = path.read_text()
        (digest,) = re.findall(r'^_TARGET: Final = "([0-9a-f]{16})"$', text, re.M)
        body = blob(text, "_GRADIENT_EXPORTED").split("= (", 1)[1]
        raw = base64.b64decode("".join(re.findall(r'"([^"]*)"', body)))
        assert jax.export.deserialize(bytearray(raw)).fun_name == f"_gradient_kernel_{digest}"
        digests[function] = digest
    assert digests["logistic"] != digests["ridge"]
