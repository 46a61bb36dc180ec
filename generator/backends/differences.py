"""The finitediff backend's expressions: each result of each function as central differences.

An expression is Python over the checked arguments (x, the tangent or batch of tangents, the
constants) and the helpers of templates/finitediff.py.jinja: `_f` (the user's function),
`_columns` (differences along each coordinate), `_along` (along one direction), `_symmetrized`,
and for finitediff over finitediff `_inner_gradient`/`_inner_derivative` (steps eps**(1/4)).
As the outer of a foreign inner they difference its private `_inner_*` functions instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import ArrayPlan, FunctionPlan


@dataclass(frozen=True)
class Conversion:
    """How the numpy code of differences meets a jax or torch module's arrays (format strings
    of one expression): a finitediff outer over a jax or torch inner computes in numpy."""

    to_numpy: str  # a checked argument or an inner result as a numpy array
    from_numpy: str  # a numpy point as what the inner function takes ({x} is the checked x)
    helper: str  # the template's helper for results: "" (numpy), "jax" or "torch"


CONVERSIONS = {
    "numpy": Conversion("{}", "{}", ""),
    "jax": Conversion("np.asarray({})", "_device({})", "jax"),
    "torch": Conversion("{}.detach().cpu().numpy()", "torch.as_tensor({}, device={x}.device)",
                        "torch"),
}  # fmt: skip


@dataclass(frozen=True)
class Site:
    """Where the expressions are evaluated: the active argument, constants, array library."""

    x: str  # the active argument's name
    constants: str  # what follows x in a call: ", A, b"
    conversion: Conversion

    def bound(self, fn: str) -> str:
        """fn as a function of x alone: `lambda _z: fn(_z, A)`, or fn itself."""
        return f"lambda _z: {fn}(_z{self.constants})" if self.constants else fn

    def numpy(self, expression: str) -> str:
        return self.conversion.to_numpy.format(expression)

    def inner(self, quantity: str) -> str:
        """A foreign inner's first derivative as a function of a numpy point, returning numpy."""
        point = self.conversion.from_numpy.format("_z", x=self.x)
        return f"lambda _z: {self.numpy(f'_inner_{quantity}({point}{self.constants})')}"

    def result(self, difference: str, result: ArrayPlan) -> str:
        """A numpy difference as the module's array (only where the module is not numpy's)."""
        helper = self.conversion.helper
        if not helper:
            return difference
        device = f", {self.x}.device" if helper == "torch" else ""
        return f"_from_numpy({difference}, {result.dtype}, {result.shape}{device})"


def nested(name: str, site: Site) -> str:
    """A result of finitediff alone: first order with steps eps**(1/3), second order as the
    difference of the inner difference, both with steps eps**(1/4) (the Hessian as that
    composition's four-point formula, each pair of coordinates once)."""
    x, c = site.x, site.constants
    table = {
        "value": f"_f({x}{c})",
        "pushforward": f"_along({site.bound('_f')}, {x}, dx, _REL_STEP_1)",
        "pullback": f"_columns(lambda _z: np.asarray(np.vdot(dy, _f(_z{c}))), {x}, _REL_STEP_1)",
        "second_derivative": f"_columns({site.bound('_inner_derivative')}, {x}, _REL_STEP_2)",
        "hvp": f"_along({site.bound('_inner_gradient')}, {x}, dx, _REL_STEP_2)",
        "hessian": f"_second_differences({site.bound('_f')}, {x}, _REL_STEP_2)",
    }
    return table.get(name, f"_columns({site.bound('_f')}, {x}, _REL_STEP_1)")


def outer(result: ArrayPlan, site: Site) -> str:
    """A result of finitediff over a foreign inner: its values and first derivatives are the
    inner's own; second ones central differences (steps eps**(1/3)) of its first derivative."""
    name, x = result.name, site.x
    if name in ("value", "gradient", "derivative"):
        return f"_inner_{name}({x}{site.constants})"
    if name == "second_derivative":
        difference = f"_columns({site.inner('derivative')}, {site.numpy(x)}, _OUTER_STEP)"
    elif name == "hvp":
        point, tangent = site.numpy(x), site.numpy("dx")
        difference = f"_along({site.inner('gradient')}, {point}, {tangent}, _OUTER_STEP)"
    else:
        difference = (
            f"_symmetrized(_columns({site.inner('gradient')}, {site.numpy(x)}, _OUTER_STEP))"
        )
    return site.result(difference, result)


def batch(fn: FunctionPlan, result: ArrayPlan, site: Site, foreign: bool, matrix: bool) -> str:
    """`<op>_batch`: one difference per tangent, or the tangents times the whole Jacobian
    (Hessian) where that is cheaper (`matrix`, decided in finitediff.by_matrix)."""
    name = result.name
    rows = site.numpy("dys" if name == "pullback" else "dxs")
    if foreign:
        g, at, step = site.inner("gradient"), site.numpy(site.x), "_OUTER_STEP"
    elif name == "hvp":
        g, at, step = site.bound("_inner_gradient"), site.x, "_REL_STEP_2"
    else:
        g, at, step = site.bound("_f"), site.x, "_REL_STEP_1"
    if matrix and name == "hvp" and not foreign:
        hessian = f"_second_differences({site.bound('_f')}, {at}, {step})"
        difference = f"{rows}.reshape({fn.batch}, -1) @ {hessian}"
    elif matrix:
        whole = f"_columns({g}, {at}, {step})"
        whole = f"_symmetrized({whole})" if name == "hvp" else whole
        transposed = ".T" if name == "pushforward" else ""
        difference = f"{rows}.reshape({fn.batch}, -1) @ {whole}{transposed}"
    else:
        difference = f"np.stack([_along({g}, {at}, _t, {step}) for _t in {rows}])"
    return site.result(difference, result)


def expressions(
    functions: tuple[FunctionPlan, ...], site: Site, foreign: bool, matrix: tuple[str, ...]
) -> tuple[tuple[str, str, str], ...]:
    """(function, result, expression) for every result of these functions."""
    found = []
    for fn in functions:
        for r in fn.results:
            if fn.batch:
                expression = batch(fn, r, site, foreign, fn.name in matrix)
            else:
                expression = outer(r, site) if foreign else nested(r.name, site)
            found.append((fn.name, r.name, expression))
    return tuple(found)
