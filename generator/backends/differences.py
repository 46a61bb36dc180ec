"""The finitediff backend's expressions: each result of each function as central differences.

An expression is Python over the checked arguments (x, the tangent or batch of tangents, the
constants) and the helpers of templates/finitediff.py.jinja: `_f` (the user's function),
`_columns` (differences along each coordinate), `_along` (along one direction), `_symmetrized`,
and for finitediff over finitediff `_inner_gradient`/`_inner_derivative` (steps eps**(1/4)).
As the outer of a foreign inner they difference its private `_inner_*` functions instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..operators import BATCHED, INNER_QUANTITIES, OPERATORS, QUANTITIES, Rules, batch_of

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


def _bound_f(site: Site) -> str:
    return site.bound("_f")


#: Each result of finitediff alone: first order with steps eps**(1/3), second order as the
#: difference of the inner difference, both with steps eps**(1/4) (the Hessian as that
#: composition's four-point formula, each pair of coordinates once).
NESTED: Rules[Callable[[Site], str]] = Rules("finitediff", QUANTITIES, {
    "value": lambda s: f"_f({s.x}{s.constants})",
    "pushforward": lambda s: f"_along({_bound_f(s)}, {s.x}, dx, _REL_STEP_1)",
    "pullback": lambda s:
        f"_columns(lambda _z: np.asarray(np.vdot(dy, _f(_z{s.constants}))), {s.x}, _REL_STEP_1)",
    "derivative": lambda s: f"_columns({_bound_f(s)}, {s.x}, _REL_STEP_1)",
    "gradient": lambda s: f"_columns({_bound_f(s)}, {s.x}, _REL_STEP_1)",
    "jacobian": lambda s: f"_columns({_bound_f(s)}, {s.x}, _REL_STEP_1)",
    "second_derivative": lambda s:
        f"_columns({s.bound('_inner_derivative')}, {s.x}, _REL_STEP_2)",
    "hvp": lambda s: f"_along({s.bound('_inner_gradient')}, {s.x}, dx, _REL_STEP_2)",
    "hessian": lambda s: f"_second_differences({_bound_f(s)}, {s.x}, _REL_STEP_2)",
})  # fmt: skip


def _from_inner(name: str) -> Callable[[Site], str]:
    return lambda s: f"_inner_{name}({s.x}{s.constants})"


#: Each result of finitediff over a foreign inner, before its conversion to the module's arrays:
#: values and first derivatives are the inner's own; second ones central differences (steps
#: eps**(1/3)) of its first derivative, the Hessian symmetrized.
OUTER: Rules[Callable[[Site], str]] = Rules(
    "finitediff over a foreign inner",
    dict.fromkeys(q for op in OPERATORS.values() if op.order == 2 for q in op.variant_results),
    {
        **{q: _from_inner(q) for q in INNER_QUANTITIES},
        "second_derivative": lambda s:
            f"_columns({s.inner('derivative')}, {s.numpy(s.x)}, _OUTER_STEP)",
        "hvp": lambda s:
            f"_along({s.inner('gradient')}, {s.numpy(s.x)}, {s.numpy('dx')}, _OUTER_STEP)",
        "hessian": lambda s:
            f"_symmetrized(_columns({s.inner('gradient')}, {s.numpy(s.x)}, _OUTER_STEP))",
    },
)  # fmt: skip


def outer(result: ArrayPlan, site: Site) -> str:
    """A result of finitediff over a foreign inner, as the module's array."""
    expression = OUTER[result.name](site)
    return expression if result.name in INNER_QUANTITIES else site.result(expression, result)


@dataclass(frozen=True)
class Batch:
    """What a batched operator's expression is made of: the tangents as rows, and the function
    g whose derivative is contracted with them (f, or the inner gradient), where and how."""

    tangents: str  # the batch of tangents as a numpy array: "dxs"
    size: int  # how many
    g: str
    at: str
    step: str
    site: Site
    nested: bool  # finitediff over finitediff: the nested Hessian is at hand

    @property
    def rows(self) -> str:
        """The tangents as the rows of a matrix."""
        return f"{self.tangents}.reshape({self.size}, -1)"

    @property
    def jacobian(self) -> str:
        """The whole Jacobian of g, one difference per coordinate."""
        return f"_columns({self.g}, {self.at}, {self.step})"

    @property
    def along(self) -> str:
        """One difference per row."""
        return f"np.stack([_along({self.g}, {self.at}, _t, {self.step}) for _t in {self.tangents}])"


#: Each batched operator's expression, by rows (one directional difference each) or, where
#: `matrix` (finitediff.by_matrix), as the rows times the whole Jacobian (Hessian).
BATCH: Rules[Callable[[Batch, bool], str]] = Rules("finitediff batches", BATCHED, {
    "pushforward": lambda b, matrix: f"{b.rows} @ {b.jacobian}.T" if matrix else b.along,
    "pullback": lambda b, matrix: f"{b.rows} @ {b.jacobian}",  # always by matrix
})  # fmt: skip


@BATCH.register("hvp")
def _hvp_batch(b: Batch, matrix: bool) -> str:
    """By rows, or the rows times the Hessian: nested second differences of f (finitediff
    alone), or the symmetrized Jacobian of the foreign inner's gradient."""
    if not matrix:
        return b.along
    if b.nested:
        return f"{b.rows} @ _second_differences({b.site.bound('_f')}, {b.at}, {b.step})"
    return f"{b.rows} @ _symmetrized({b.jacobian})"


def batch(fn: FunctionPlan, result: ArrayPlan, site: Site, foreign: bool, matrix: bool) -> str:
    """`<op>_batch`: one difference per tangent, or the tangents times the whole Jacobian
    (Hessian) where that is cheaper (`matrix`, decided in finitediff.by_matrix)."""
    op = OPERATORS[fn.operator]
    tangents = site.numpy(batch_of(str(op.tangent)))
    if foreign:
        g, at, step = site.inner(str(op.inner)), site.numpy(site.x), "_OUTER_STEP"
    elif op.inner:
        g, at, step = site.bound(f"_inner_{op.inner}"), site.x, "_REL_STEP_2"
    else:
        g, at, step = site.bound("_f"), site.x, "_REL_STEP_1"
    parts = Batch(tangents, fn.batch, g, at, step, site, not foreign)
    return site.result(BATCH[op.name](parts, matrix), result)


def colored(result: ArrayPlan, site: Site, foreign: bool) -> str:
    """The values of a sparse matrix (--sparse): one central difference per color of its
    coloring, along the color's seed, then one gather (generator/sparse/plan.py). A Jacobian
    takes 2 calls of f a color (Curtis, Powell and Reid) instead of 2 a column; a Hessian the
    differences of the inner gradient along each seed: finitediff's nested one (eps**(1/4)
    steps), or a foreign inner's exact one (eps**(1/3))."""
    assert result.sparse is not None
    prefix = result.sparse.prefix
    if result.sparse.quantity == "jacobian":
        g, at, step = site.bound("_f"), site.x, "_REL_STEP_1"
    elif foreign:
        g, at, step = site.inner("gradient"), site.numpy(site.x), "_OUTER_STEP"
    else:
        g, at, step = site.bound("_inner_gradient"), site.x, "_REL_STEP_2"
    return f"_colored({g}, {at}, _{prefix}_SEEDS, {step})[_{prefix}_GATHER]"


def expressions(
    functions: tuple[FunctionPlan, ...], site: Site, foreign: bool, matrix: tuple[str, ...]
) -> tuple[tuple[str, str, str], ...]:
    """(function, result, expression) for every result of these functions."""
    found = []
    for fn in functions:
        for r in fn.results:
            if r.sparse is not None:
                expression = colored(r, site, foreign)
            elif fn.batch:
                expression = batch(fn, r, site, foreign, fn.name in matrix)
            else:
                expression = outer(r, site) if foreign else NESTED[r.name](site)
            found.append((fn.name, r.name, expression))
    return tuple(found)
