"""The hand-written baselines `diffgen bench` measures generated modules against.

What a user would otherwise write: `jax.jit` of jax's own transforms, `torch.func` called eagerly,
and `sympy.lambdify(..., cse=True)` of the exact derivatives. Each is called with the arguments
of the generated operator, in its own array type: (x, tangent if any, *constants).
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import sympy

from ..errors import DiffgenError
from ..model import Inspected, draw
from ..operators import OPERATORS, TANGENTS, tangent_spec
from ..symbolic.derivatives import symbolic_derivatives

Calls = dict[str, Callable[..., Any]]
BENCH_SEED = 20_261_127


def arguments(inspected: Inspected, op: str) -> list[np.ndarray]:
    """Seeded arguments of one operator: x, its tangent, then the constants."""
    rng = np.random.default_rng(BENCH_SEED)
    values = {arg.name: draw(arg.spec, rng) for arg in inspected.args}
    x, y = inspected.active.spec, inspected.output
    tangents = {kind: [draw(tangent_spec(kind, x, y), rng)] for kind in TANGENTS}
    return [
        values[inspected.active.name],
        *tangents.get(str(OPERATORS[op].tangent), []),
        *(values[c.name] for c in inspected.constants),
    ]


#: How the tables name each kind of arguments: numpy in jax's default configuration (x64 off),
#: jax arrays with x64 on (float64 throughout), torch tensors.
INPUTS = {
    "numpy": "numpy, x64 off",
    "jax": "jax.Array, x64 on",
    "torch": "torch.Tensor",
}


def convert(inputs: str, array: np.ndarray) -> Any:
    """An argument as `inputs` (a key of INPUTS): float64 stays float64 whatever jax's mode."""
    if inputs == "jax":
        import jax

        with jax.enable_x64(True):  # thread-local: the array keeps its dtype after
            return jax.numpy.asarray(array)
    if inputs == "torch":
        import torch

        return torch.as_tensor(array)
    return array


@contextmanager
def jax_x64(on: bool) -> Iterator[None]:
    """jax's x64 mode set for the whole process during one phase of a measurement (as a user's
    configuration is: a thread-local scope would cost each timed call ~1 µs), then restored; a
    no-op when jax is not installed."""
    if importlib.util.find_spec("jax") is None:
        yield
        return
    import jax

    update: Callable[[str, object], None] = jax.config.update
    before = bool(jax.enable_x64.value)
    update("jax_enable_x64", on)
    try:
        yield
    finally:
        update("jax_enable_x64", before)


def blocking(call: Callable[..., Any]) -> Callable[..., Any]:
    """jax computes asynchronously: wait for the result, so that the timing is the work's."""
    return lambda *args: call(*args).block_until_ready()


def jax_calls(f: Callable[..., Any], ops: Sequence[str]) -> Calls:
    import jax

    def scalar(z: Any, c: tuple[Any, ...]) -> Any:
        return f(z, *c)

    ones = jax.numpy.ones_like

    table: Calls = {
        "gradient": lambda x, *c: jax.grad(scalar)(x, c),
        "hessian": lambda x, *c: jax.hessian(scalar)(x, c),
        "hvp": lambda x, v, *c: jax.jvp(lambda z: jax.grad(scalar)(z, c), (x,), (v,))[1],
        "jacobian": lambda x, *c: jax.jacrev(scalar)(x, c),
        "pushforward": lambda x, v, *c: jax.jvp(lambda z: scalar(z, c), (x,), (v,))[1],
        "pullback": lambda x, w, *c: jax.vjp(lambda z: scalar(z, c), x)[1](w)[0],
        "derivative": lambda x, *c: jax.jvp(lambda z: scalar(z, c), (x,), (ones(x),))[1],
    }  # fmt: skip
    return {op: blocking(jax.jit(table[op])) for op in ops if op in table}


def torch_calls(f: Callable[..., Any], ops: Sequence[str]) -> Calls:
    from torch import func

    table: Calls = {
        "gradient": lambda x, *c: func.grad(f)(x, *c),
        "hessian": lambda x, *c: func.hessian(f)(x, *c),
        "hvp": lambda x, v, *c: func.jvp(lambda z: func.grad(f)(z, *c), (x,), (v,))[1],
        "jacobian": lambda x, *c: func.jacrev(f)(x, *c),
        "pushforward": lambda x, v, *c: func.jvp(lambda z: f(z, *c), (x,), (v,))[1],
        "pullback": lambda x, w, *c: func.vjp(lambda z: f(z, *c), x)[1](w)[0],
    }
    return {op: table[op] for op in ops if op in table}


def lambdify_calls(inspected: Inspected, ops: Sequence[str]) -> Calls:
    traced, d = symbolic_derivatives(inspected)
    dx = [sympy.Symbol(f"dx_{k}", real=True) for k in range(inspected.active.spec.size)]
    dy = [sympy.Symbol(f"dy_{k}", real=True) for k in range(inspected.output.size)]
    active = [a.active for a in inspected.args].index(True)
    x = list(traced.inputs[active].reshape(-1))
    constants = [
        list(traced.inputs[i].reshape(-1)) for i, a in enumerate(inspected.args) if not a.active
    ]
    symbols = {"dx": dx, "dy": dy}  # the tangents of operators.TANGENTS
    calls: Calls = {}
    for op in ops:
        kind = OPERATORS[op].tangent
        tangent = [symbols[kind]] if kind else []
        function = sympy.lambdify([x, *tangent, *constants], list(d.dense(op, dx, dy)), cse=True)
        # lambdify unpacks each argument as a flat sequence: 1-D arrays go as they are, as a
        # user would pass them; others are flattened, as a user would have to
        shapes = [inspected.active.spec.shape]
        shapes += (
            [tangent_spec(kind, inspected.active.spec, inspected.output).shape] if kind else []
        )
        shapes += [a.spec.shape for a in inspected.args if not a.active]
        if all(len(shape) == 1 for shape in shapes):
            calls[op] = function
        else:
            calls[op] = lambda *args, fn=function: fn(*(np.ravel(a) for a in args))
    return calls


def active_first(inspected: Inspected) -> Callable[..., Any]:
    """The user's function with the active argument first, as the baselines call it: `f(x,
    *constants)` (the function itself where x is its first parameter)."""
    function = inspected.function
    position = [a.active for a in inspected.args].index(True)
    if position == 0:
        return function

    def moved(x: Any, *constants: Any) -> Any:
        return function(*constants[:position], x, *constants[position:])

    return moved


def baselines(inspected: Inspected, ops: Sequence[str]) -> dict[str, tuple[str, Calls]]:
    """Every baseline that can take this function: label -> (array flavour, op -> call)."""
    f = active_first(inspected)
    found: dict[str, tuple[str, Calls]] = {}
    if importlib.util.find_spec("jax") is not None:
        calls = usable(jax_calls(f, ops), inspected, "jax")
        if calls:
            found["jax.jit"] = ("jax", calls)
    if importlib.util.find_spec("torch") is not None:
        calls = usable(torch_calls(f, ops), inspected, "torch")
        if calls:
            found["torch.func (eager)"] = ("torch", calls)
    with contextlib.suppress(DiffgenError):  # unless the function does not trace symbolically
        found["sympy.lambdify(cse)"] = ("numpy", lambdify_calls(inspected, ops))
    return found


def usable(calls: Calls, inspected: Inspected, flavour: str) -> Calls:
    """The calls that run on this function (it may be written for another framework)."""
    working = {}
    for op, call in calls.items():
        try:
            call(*(convert(flavour, a) for a in arguments(inspected, op)))
        except Exception:
            continue
        working[op] = call
    return working
