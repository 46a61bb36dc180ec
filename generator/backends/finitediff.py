"""The `finitediff` backend: central differences in numpy, step sizes fixed at generation time.

Steps are relative to |x| (h_i = c * max(1, |x_i|)) with c chosen from the dtype's unit roundoff
eps so that truncation and rounding error balance:

- first order, c1 = eps**(1/3): the central difference errs by h^2 |f'''| / 6 (truncation) plus
  about eps |f| / h (rounding), smallest near h ~ eps**(1/3), where the error is ~ eps**(2/3)
  (Nocedal & Wright, Numerical Optimization, 2nd ed., 2006, section 8.1, eq. 8.9 and after).
- second order, finitediff over finitediff, c2 = eps**(1/4): the outer central difference of the
  inner one, both with step h, is the classic second difference with step 2h, whose error is
  h^2 |f''''| plus eps |f| / h^2, smallest near h ~ eps**(1/4), where it is ~ eps**(1/2)
  (Press et al., Numerical Recipes, 3rd ed., 2007, section 5.7). This is the inner operator
  prepared for its outer one: used alone, the inner gradient would take c1.

Each step is made exactly representable by dividing by (x + h) - (x - h) rather than 2h
(Numerical Recipes, section 5.7). Along a direction v the step is c * max(1, max|x|) / max|v|.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..spec import EPS, Dtype
from .base import BackendPlan, ErrorModel

if TYPE_CHECKING:
    from ..inspect_target import Inspected
    from ..plan import FunctionPlan


#: Central differences err by about eps**p relative to the function's scale: p = 2/3 for first
#: derivatives (h = eps**(1/3)), p = 1/2 for nested second ones (h = eps**(1/4)); the value only
#: by rounding, p = 1. The error terms are h^2 |f^(3)| / 6 + eps |f| / h and their second-order
#: analogues, so the bound scales with the size of f and of its derivatives; the factor 30 covers
#: the unknown ratio of higher derivatives to those (measured on the examples: up to 5 eps**p).
ERROR = ErrorModel(
    factor=30.0,
    exponents=(1.0, 2.0 / 3.0, 0.5),
    why="p = 1 for values, 2/3 for first and 1/2 for second derivatives: the error orders of"
    " central differences with steps eps**(1/3) and eps**(1/4)",
    variants_exact=True,
)


def relative_steps(eps: float) -> tuple[float, float]:
    """The relative steps (first order, nested second order) for a unit roundoff eps."""
    return eps ** (1.0 / 3.0), eps ** (1.0 / 4.0)


def working_dtype(inspected: Inspected) -> Dtype:
    """The dtype whose roundoff limits the differences: the coarser of x's and f(x)'s."""
    return max((inspected.active.spec, inspected.output), key=lambda spec: spec.eps).dtype


class FiniteDiff:
    """Central differences in numpy; imports numpy and the user's function only."""

    name = "finitediff"
    summary = "central differences in numpy, relative steps fixed per dtype"
    flavour = "numpy"
    operators: tuple[str, ...] = (
        "pushforward", "pullback", "derivative", "gradient", "jacobian",
        "second_derivative", "hvp", "hessian",
    )  # fmt: skip

    def plan(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], outer: str
    ) -> BackendPlan:
        dtype = working_dtype(inspected)
        step_1, step_2 = relative_steps(EPS[dtype])
        names = {f.operator for f in functions}
        helpers: tuple[str, ...] = ("columns",)
        if names & {"pushforward", "hvp"}:
            helpers += ("along",)
        if names & {"hvp", "hessian"}:
            helpers += ("inner_gradient",)
        if "hessian" in names:
            helpers += ("symmetrized",)
        if "second_derivative" in names:
            helpers += ("inner_derivative",)
        return BackendPlan(
            template="finitediff.py.jinja",
            stdlib=(("collections.abc", "Callable"), ("typing", "Any")),
            imports=(f"import {inspected.module} as _user_module",),
            helpers=helpers,
            constants=(
                ("_REL_STEP_1", repr(step_1), f"eps**(1/3) for {dtype}: first-order steps"),
                (
                    "_REL_STEP_2",
                    repr(step_2),
                    f"eps**(1/4) for {dtype}: nested (second-order) steps",
                ),
            ),
            error=ERROR,
            description=(
                "Central differences with steps relative to |x|: "
                f"h = {step_1:.6g} * max(1, |x_i|) for first derivatives and "
                f"h = {step_2:.6g} * max(1, |x_i|) for each level of second derivatives "
                "(finitediff over finitediff)."
            ),
        )
