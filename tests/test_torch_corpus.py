"""User-like functions through every torch mode pair, against jax's derivatives of the same code.

The corpus (tests/scenarios/corpus.py) covers what torch's transforms compose with in-place
aten operations (1-D and 2-D matmul, matrix-vector and outer products, `@` with a constant,
xp.linalg, reshape/transpose, xp.where, indexing with a step, cumulative sums, assignment by
index). Each scalar function's gradient, hessian and hvp are generated with all four pairs of
torch:forward and torch:reverse (one pair per function in the default run, the others under
`-m slow`: 52 modules take minutes), each vector function's jacobian with both modes, and every
value is compared with jax (x64), an independent framework, on the same Array API code.

Known failures, refused at generation time: torch 2.13's forward-mode rules of linalg.det and
linalg.solve are not differentiable again, so `linear_algebra` under an inner torch:forward
would be silently wrong; diffgen checks every pair against reverse over reverse and refuses it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from generator.backends.base import AD_ERROR
from generator.backends.torch import graph as torch_graph
from generator.backends.torch_options import TorchOptions
from generator.errors import DiffgenError
from generator.measure.loader import load
from generator.pipeline import generate
from generator.target import Target
from tests.conftest import REPO
from tests.scenarios import corpus

RNG = np.random.default_rng(3)
A3 = np.array([[3.0, 0.5, -0.2], [0.1, 2.5, 0.3], [-0.4, 0.2, 4.0]])
A43 = RNG.uniform(-1, 1, (4, 3))

#: function -> (shape of x, (name, value) of each constant)
SCALAR: dict[str, tuple[tuple[int, ...], tuple[tuple[str, np.ndarray], ...]]] = {
    "dot_self": ((3,), ()),
    "quadratic_form": ((3,), (("A", A3),)),
    "lagrangian": ((3,), (("lam", np.array([0.7, -1.3])),)),
    "least_squares": ((3,), (("A", A43), ("b", RNG.uniform(-1, 1, 4)))),
    "logistic": ((3,), (("A", A43),)),
    "outer_product": ((3,), ()),
    "gram": ((2, 3), ()),
    "captured_matmul": ((3,), ()),
    "linear_algebra": ((3,), (("A", A3),)),
    "reshaped": ((6,), ()),
    "branches": ((4,), ()),
    "strided": ((6,), ()),
    "cumulative": ((4,), ()),
}
VECTOR: dict[str, tuple[tuple[int, ...], tuple[tuple[str, np.ndarray], ...]]] = {
    "vector_matrix": ((4,), (("A", A43),)),
    "scaled_matvec": ((3,), (("A", A43),)),
    "rhs": ((4,), (("k", np.array([1.0, 2.0, 0.5])),)),
    "assigned": ((4,), ()),
}
MODES = ("forward", "reverse")
#: (function, inner) that torch cannot differentiate twice correctly: refused, see the docstring.
REFUSED = {("linear_algebra", "forward")}


def spec(a: np.ndarray) -> str:
    return f"float64[{','.join(map(str, a.shape))}]"


def module(name: str, x: np.ndarray, constants: Any, ops: Any, inner: str, outer: str | None,
           folder: Path) -> Any:  # fmt: skip
    args = (("x", spec(x)), *((n, spec(c)) for n, c in constants))
    backend, second = f"torch:{inner}", outer and f"torch:{outer}"
    target = Target(f"tests.scenarios.corpus:{name}", args=args, ops=ops, backend=backend,
                    outer=second, tests=False)  # fmt: skip
    (file,) = generate(target, REPO)
    path = folder / f"{name}_{inner}_{outer}.py"
    path.write_text(file.text)
    return load(path)


def reference(name: str, x: np.ndarray, constants: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """jax's Jacobian (y.size, x.size) and, for a scalar function, Hessian of the same code."""
    function = getattr(corpus, f"{name}_reference", getattr(corpus, name))
    with jax.enable_x64(True):
        c = [jnp.asarray(v) for _, v in constants]

        def flat(z: Any) -> Any:
            return function(jnp.reshape(z, x.shape), *c)

        z = jnp.asarray(x.reshape(-1))
        jacobian = np.asarray(jax.jacobian(lambda z: jnp.reshape(flat(z), (-1,)))(z))
        scalar = np.shape(function(jnp.asarray(x), *c)) == ()
        hessian = np.asarray(jax.hessian(flat)(z)) if scalar else None
    return jacobian, hessian


def close(got: Any, want: np.ndarray, what: str) -> None:
    got = np.asarray(got)
    assert got.dtype == np.float64 and got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(1.0, float(np.max(np.abs(want))))
    atol = AD_ERROR.atol(1, float(np.finfo(np.float64).eps), scale)  # 64 eps: only rounding
    np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=what)


def point(shape: tuple[int, ...]) -> np.ndarray:
    return np.linspace(0.2, 0.85, int(np.prod(shape))).reshape(shape)


PAIRS = list(itertools.product(MODES, MODES))  # (inner, outer)


def rotated(index: int, name: str, inner: str, outer: str) -> Any:
    """The default run takes every pair of `x @ x` (the Lagrangian and `x @ A @ x` are in the
    scenario suite) and one pair per other function, in turn (linear_algebra under an inner
    forward, to see it refused); the rest of the cross product is marked slow."""
    default = name == "dot_self" or PAIRS[(index + 1) % len(PAIRS)] == (inner, outer)
    return pytest.param(name, inner, outer, id=f"{name}-{outer}-over-{inner}",
                        marks=() if default else pytest.mark.slow)  # fmt: skip


SCALAR_CASES = [
    rotated(index, name, inner, outer)
    for index, name in enumerate(SCALAR)
    for inner, outer in PAIRS
]


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.parametrize(("name", "inner", "outer"), SCALAR_CASES)
def test_scalar_function_second_order(name: str, inner: str, outer: str, tmp_path: Path) -> None:
    shape, constants = SCALAR[name]
    x = point(shape)
    values = [c for _, c in constants]
    ops = ("gradient", "hessian", "hvp")
    if (name, inner) in REFUSED:
        with pytest.raises(DiffgenError) as refused:
            module(name, x, constants, ops, inner, outer, tmp_path)
        assert str(refused.value).startswith(
            f"torch:{outer} over torch:{inner} computes a wrong hessian of"
            f" tests.scenarios.corpus:{name}"
        )
        assert "use --backend torch:reverse" in refused.value.fix
        return
    m = module(name, x, constants, ops, inner, outer, tmp_path)
    jacobian, hessian = reference(name, x, constants)
    assert hessian is not None
    v = np.linspace(-1.0, 1.0, x.size).reshape(shape)
    close(m.gradient(x, *values), jacobian[0].reshape(shape), "gradient")
    close(m.hessian(x, *values), hessian, "hessian")
    close(m.hvp(x, v, *values), (hessian @ v.reshape(-1)).reshape(shape), "hvp")
    _, _, H = m.value_gradient_and_hessian(x, *values)
    close(H, hessian, "value_gradient_and_hessian")


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.parametrize(("name", "mode"), list(itertools.product(VECTOR, MODES)))
def test_vector_function_jacobian(name: str, mode: str, tmp_path: Path) -> None:
    shape, constants = VECTOR[name]
    x = point(shape)
    values = [c for _, c in constants]
    m = module(name, x, constants, ("jacobian", "pullback"), mode, None, tmp_path)
    jacobian, _ = reference(name, x, constants)
    close(m.jacobian(x, *values), jacobian, "jacobian")
    dy = np.linspace(-1.0, 1.0, jacobian.shape[0])
    close(m.pullback(x, dy, *values), (dy @ jacobian).reshape(shape), "pullback")


def test_in_place_operations_left_by_functionalization_are_functionalized() -> None:
    """jacfwd of a 1-D matmul: torch.func.functionalize leaves matmul's `squeeze_` in the
    graph; the traced graph has no in-place operation and the kernel's values."""
    x = torch.linspace(0.2, 0.8, 3, dtype=torch.float64)

    def kernel(x: torch.Tensor) -> torch.Tensor:
        return torch.func.jacfwd(torch.func.grad(lambda z: z @ z))(x)

    graph = torch_graph.trace(kernel, [x])
    assert torch_graph.mutating(graph.graph) == []
    assert torch.equal(graph(x), 2 * torch.eye(3, dtype=torch.float64))


def test_refunctionalized_replaces_in_place_operations_with_the_same_values() -> None:
    """A graph recorded with in-place operations (a view's squeeze_, a data add_, a copy_ into
    a slice) becomes functional with the same values, bit for bit."""

    def mutates(x: torch.Tensor) -> torch.Tensor:
        y = (x.unsqueeze(0) * 2.0).squeeze_(0)
        y.add_(1.0)
        z = torch.zeros(4, dtype=x.dtype)
        z[1:].copy_(y.sin())
        return z.t_()

    x = torch.linspace(0.2, 0.8, 3, dtype=torch.float64)
    recorded = make_fx(mutates)(x)
    assert set(torch_graph.mutating(recorded.graph)) >= {"aten.add_.Tensor", "aten.copy_.default"}
    functional = torch_graph.refunctionalized(recorded, [x])
    assert torch_graph.mutating(functional.graph) == []
    assert torch.equal(functional(x), mutates(x))


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
def test_the_docstring_states_the_thread_dependence_and_the_module_leaves_it_alone(
    tmp_path: Path,
) -> None:
    before = torch.get_num_threads()
    m = module("dot_self", point((3,)), (), ("hessian",), "reverse", "forward", tmp_path)
    close(m.hessian(point((3,))), 2 * np.eye(3), "hessian")
    assert torch.get_num_threads() == before
    text = " ".join(m.__doc__.split())
    assert "Speed depends on torch's intra-op thread count (torch.get_num_threads()" in text
    assert "This module never changes the setting: call torch.set_num_threads(1)" in text
    assert "set_num_threads(" not in Path(m.__file__).read_text().split('"""', 2)[2]


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
def test_eager_mode_refuses_the_same_wrong_second_derivatives(tmp_path: Path) -> None:
    """--torch-mode eager runs the same compositions at run time: checked the same way."""
    shape, constants = SCALAR["linear_algebra"]
    args = (("x", spec(point(shape))), *((n, spec(c)) for n, c in constants))
    target = Target("tests.scenarios.corpus:linear_algebra", args=args, ops=("hvp",),
                    backend="torch:forward", outer="torch:forward",
                    options=(TorchOptions(mode="eager"),), tests=False)  # fmt: skip
    with pytest.raises(DiffgenError) as refused:
        generate(target, REPO)
    assert refused.value.what == (
        "torch:forward over torch:forward computes a wrong hvp of"
        " tests.scenarios.corpus:linear_algebra"
    )
    assert "differs from torch's reverse over reverse by" in refused.value.why
