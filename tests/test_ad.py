"""The AD algebra is one: jax and torch compose every operator alike and compute the same values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from generator.backends.ad import HELPERS, SPELLINGS, ADPlan, rendered_kernels
from generator.backends.torch_options import TorchOptions
from generator.compose import build_plan
from generator.inspect_target import inspect_target
from generator.model import Inspected
from generator.target import Target
from generator.templating import environment
from tests.conftest import Project

#: A user's function: the logistic loss of weights w over a data matrix X and labels y.
LOSS = """
from array_api_compat import array_namespace


def loss(w, X, y):
    xp = array_namespace(w)
    z = X @ w
    return xp.mean(xp.log(1.0 + xp.exp(-y * z))) + 0.01 * xp.sum(w * w)
"""

ARGS = (("w", "float64[5]"), ("X", "float64[40,5]"), ("y", "float64[40]"))


def plan_of(project: Project, backend: str, outer: str, **options: Any) -> tuple[Inspected, ADPlan]:
    target = Target("logistic:loss", args=ARGS, ops=("all",), backend=backend, outer=outer,
                    batch=3, **options)  # fmt: skip
    inspected = inspect_target(target, project.root)
    plan = build_plan(inspected, "logistic_module", "0" * 32).backend_plan
    assert isinstance(plan, ADPlan)
    return inspected, plan


def tangents(function: str, rng: np.random.Generator) -> list[np.ndarray[Any, Any]]:
    """The tangent argument of an operator function, if it takes one (f(w) is 0-d)."""
    shapes = {"pushforward": (5,), "hvp": (5,), "pullback": (), "gradient_and_hvp": (5,)}
    batch = function.endswith("_batch")
    name = function.removesuffix("_batch").removeprefix("value_and_")
    if name not in shapes:
        return []
    return [rng.normal(size=((3,) if batch else ()) + shapes[name])]


def test_every_helper_has_its_one_macro() -> None:
    module = environment().get_template("ad.py.jinja").module
    for name in HELPERS:
        for spelling in SPELLINGS.values():
            text = str(getattr(module, name)(spelling))
            assert text.startswith(f"def _{name}(fn: _Fn, x: {spelling.array}")
            other = "torch" if spelling.framework == "jax" else "jax"
            assert f"{other}." not in text


@pytest.mark.parametrize(("inner", "outer"), [("reverse", "forward"), ("forward", "reverse")])
def test_jax_and_torch_compose_alike_and_agree(project: Project, inner: str, outer: str) -> None:
    """The same steps, helpers and inner functions in both spellings; each kernel, run eagerly
    in both frameworks at one point, gives the same results to rounding."""
    import torch

    project.write("logistic.py", LOSS)
    jax_inspected, jax_plan = plan_of(project, f"jax:{inner}", f"jax:{outer}")
    torch_inspected, torch_plan = plan_of(
        project, f"torch:{inner}", f"torch:{outer}", options=(TorchOptions(mode="eager"),)
    )
    respelled = [
        tuple((lhs, rhs.replace("jax.vmap", "torch.func.vmap").replace("in_axes", "in_dims"))
              for lhs, rhs in k.steps)
        for k in jax_plan.kernels
    ]  # fmt: skip
    assert respelled == [k.steps for k in torch_plan.kernels]
    assert jax_plan.helpers == torch_plan.helpers
    assert [i.call for i in jax_plan.inner] == [i.call for i in torch_plan.inner]
    # pushforward, pullback, gradient, hvp and hessian of a 0-d loss, their value variants and
    # three batches
    assert len(jax_plan.kernels) == 13

    jax_kernels = rendered_kernels("jax_kernels.py.jinja", jax_plan, jax_inspected,
                                   {"PLATFORMS": (), "TARGET": ""})  # fmt: skip
    torch_kernels = rendered_kernels("torch_kernels.py.jinja", torch_plan, torch_inspected, {})
    rng = np.random.default_rng(7)
    point = {"w": rng.normal(size=5), "X": rng.normal(size=(40, 5)), "y": rng.normal(size=40)}
    import jax

    with jax.enable_x64(True):
        for jk, tk in zip(jax_plan.kernels, torch_plan.kernels, strict=True):
            args = [point["w"], *tangents(jk.function, rng), point["X"], point["y"]]
            found = jax_kernels[jk.name](*args)
            expected = torch_kernels[tk.name](*[torch.as_tensor(a) for a in args])
            found = found if isinstance(found, tuple) else (found,)
            expected = expected if isinstance(expected, tuple) else (expected,)
            assert len(found) == len(expected) == len(jk.results)
            for a, b in zip(found, expected, strict=True):
                assert np.asarray(a).dtype == np.float64 and tuple(a.shape) == tuple(b.shape)
                np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-12, atol=1e-14)
