"""Property tests over scenario x backend (pair) x operator, against hand-written derivatives.

Every compatible combination is generated, imported and checked: values, types, dtypes and
shapes of every operator and value variant, `out=` and the batched operators. The full cross
product (20 scenarios, one of them in float32, two with the active argument after a
constant, x 19 candidates: 380 modules) runs in the default suite, about 3.5 minutes on 2 cores.

Skips, all of them: second-order operators need a second-order pair, so first-order-only
candidates (none today) would skip them; candidates whose backend is not installed are not
listed (the registry lists what is importable here).
"""

from __future__ import annotations

import inspect
import itertools
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generator.backends.base import AD_ERROR
from generator.backends.finitediff import ERROR as FINITEDIFF
from generator.backends.finitediff import outer_error
from generator.backends.registry import BACKENDS, PAIRS
from generator.measure.loader import load
from generator.operators import OPERATORS, QUANTITIES
from generator.pipeline import generate
from generator.target import Target
from tests.conftest import REPO
from tests.scenarios.table import SCENARIOS, Scenario

#: (backend, outer): every backend alone (first and, within its framework, second order) and
#: every pair across backends.
CANDIDATES = [(inner, outer) for outer, inner in PAIRS]


def tolerance(backend: str, outer: str, order: int, dtype: str) -> float:
    """Relative to the scale: factor * eps**p of the error model of what computes this order,
    central differences' (backends/finitediff.py) or, for every value too, that of the exact
    methods (AD and symbolic: only rounding); eps of the scenario's dtype."""
    model = AD_ERROR
    if order == 2 and outer == "finitediff":
        model = FINITEDIFF if backend == "finitediff" else outer_error(backend)
    elif order >= 1 and backend == "finitediff":
        model = FINITEDIFF
    return model.atol(order, float(np.finfo(dtype).eps), 1.0)


def expected(s: Scenario, quantity: str, dx: np.ndarray, dy: np.ndarray, y: np.ndarray) -> Any:
    """The hand-written reference, in float64 at the point as the module gets it."""
    x = s.point.astype(np.float64)
    dx, dy = dx.astype(np.float64), dy.astype(np.float64)
    jac = s.jacobian(x)
    like = {"x": np.shape(x), "y": np.shape(y)}
    n = int(np.size(x))

    def hessian() -> Any:
        return s.second(x).reshape(n, n)  # type: ignore[misc]

    table = {
        "value": lambda: y,
        "pushforward": lambda: (jac @ dx.reshape(-1)).reshape(like["y"]),
        "pullback": lambda: (dy.reshape(-1) @ jac).reshape(like["x"]),
        "derivative": lambda: jac[:, 0].reshape(like["y"]),
        "gradient": lambda: jac[0].reshape(like["x"]),
        "jacobian": lambda: jac,
        "second_derivative": lambda: s.second(x).reshape(like["y"]),  # type: ignore[misc]
        "hvp": lambda: (hessian() @ dx.reshape(-1)).reshape(like["x"]),
        "hessian": hessian,
    }
    return table[quantity]()


def check(s: Scenario, backend: str, outer: str) -> int:
    """Generate the scenario with one candidate and check every operator; return the count."""
    ops = ("all",)
    target = Target(f"tests.scenarios.functions:{s.function or s.name}", args=s.args, ops=ops,
                    wrt="x", backend=backend, outer=outer, tests=False, batch=BATCH)  # fmt: skip
    (file,) = generate(target, REPO)
    with tempfile.TemporaryDirectory(prefix="diffgen-scenario-") as folder:
        path = Path(folder) / f"{s.name}_{backend.replace(':', '_')}_{outer.replace(':', '_')}.py"
        path.write_text(file.text)
        module = load(path)
    flavour = BACKENDS[backend].flavour
    function = getattr(sys.modules["tests.scenarios.functions"], s.function or s.name)
    y = np.asarray(function(*s.call(s.point)), dtype=np.float64)
    rng = np.random.default_rng(0)
    dx = rng.uniform(-1, 1, np.shape(s.x)).astype(s.dtype)
    dy = rng.uniform(-1, 1, y.shape).astype(s.dtype)
    checked = 0
    for name in module.__all__:
        if name.endswith("_batch"):
            checked += check_batch(s, module, name.removesuffix("_batch"), y, (backend, outer))
            continue
        op = (
            name
            if name in OPERATORS
            else next(o for o in OPERATORS if OPERATORS[o].variant == name)
        )
        quantities = (op,) if name == op else OPERATORS[op].variant_results
        tangent = {"dx": [dx], "dy": [dy]}.get(str(OPERATORS[op].tangent), [])
        args = s.call(s.point, *tangent)
        results = getattr(module, name)(*args)
        results = results if isinstance(results, tuple) else (results,)
        checked += written_into_out(getattr(module, name), args, quantities, results)
        for quantity, result in zip(quantities, results, strict=True):
            want = np.asarray(expected(s, quantity, dx, dy, y), dtype=np.float64)
            order = QUANTITIES[quantity].order
            assert isinstance(result, array_type(flavour, want.shape, s.dtype)), (
                name, quantity, type(result),
            )  # fmt: skip
            agrees(
                result, want, s, y, tolerance(backend, outer, order, s.dtype), f"{name}: {quantity}"
            )
            assert QUANTITIES[quantity].like in ("x", "y", "jacobian", "hessian")
            checked += 1
    return checked


def array_type(flavour: str, shape: tuple[int, ...], dtype: str) -> type:
    """The type of a module's results: its array library's array (a numpy module's 0-d results
    are numpy scalars of the dtype)."""
    if flavour == "jax":
        import jax

        return jax.Array
    if flavour == "torch":
        import torch

        return torch.Tensor
    return np.dtype(dtype).type if shape == () else np.ndarray


#: Every scenario's module also has the batched operators, for this many tangents.
BATCH = 3


def check_batch(s: Scenario, module: Any, op: str, y: np.ndarray, pair: tuple[str, str]) -> int:
    """`<op>_batch` against the hand-written derivative at each of BATCH tangents."""
    rng = np.random.default_rng(1)
    shape = np.shape(s.x) if OPERATORS[op].tangent == "dx" else y.shape
    tangents = rng.uniform(-1, 1, (BATCH, *shape)).astype(s.dtype)
    result = getattr(module, f"{op}_batch")(*s.call(s.point, tangents))
    want = np.stack([np.asarray(expected(s, op, t, t, y), dtype=np.float64) for t in tangents])
    agrees(result, want, s, y, tolerance(*pair, OPERATORS[op].order, s.dtype), f"{op}_batch")
    return 1


def agrees(
    result: Any, want: np.ndarray, s: Scenario, y: np.ndarray, rel: float, what: str
) -> None:
    """A result has the scenario's dtype, the reference's shape, and its values to `rel` of the
    scale max(1, |f(x)|, |reference|)."""
    got = np.asarray(result.cpu() if hasattr(result, "cpu") else result)
    assert got.dtype == s.dtype and got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(1.0, float(np.max(np.abs(y))), float(np.max(np.abs(want), initial=0)))
    np.testing.assert_allclose(got, want, rtol=0, atol=rel * scale, err_msg=what)


def written_into_out(
    function: Any, args: tuple[Any, ...], quantities: tuple[str, ...], fresh: tuple[Any, ...]
) -> int:
    """Call again with an `out=` array for every result that takes one (`out`, or
    `out_<quantity>` on value variants): the operator must return that very array, holding the
    same numbers. Returns how many outs were checked."""
    parameters = inspect.signature(function).parameters.values()
    outs = {p.name: 0 if p.name == "out" else quantities.index(p.name.removeprefix("out_"))
            for p in parameters if p.kind is p.KEYWORD_ONLY}  # fmt: skip
    empty = {
        o: fresh[i].new_empty(fresh[i].shape) if hasattr(fresh[i], "new_empty")
        else np.empty_like(fresh[i])
        for o, i in outs.items()
    }  # fmt: skip
    written = function(*args, **empty)
    written = written if isinstance(written, tuple) else (written,)
    for o, i in outs.items():
        assert written[i] is empty[o], o
        np.testing.assert_array_equal(np.asarray(empty[o]), np.asarray(fresh[i]))
    return len(outs)


ALL = list(itertools.product(SCENARIOS, CANDIDATES))


def ident(case: tuple[Scenario, tuple[str, str]]) -> str:
    s, (backend, outer) = case
    return f"{s.name}-{outer}-over-{backend}"


@pytest.mark.parametrize("case", ALL, ids=ident)
def test_scenario(case: tuple[Scenario, tuple[str, str]]) -> None:
    s, (backend, outer) = case
    assert check(s, backend, outer) > 0
