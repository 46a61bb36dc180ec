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

import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import BackendPlan, ErrorModel
from ..operators import BATCHED, OPERATORS, TANGENT_PARAMETERS, Rules
from ..spec import EPS, Dtype
from .differences import CONVERSIONS, Site, expressions

if TYPE_CHECKING:
    from ..model import FunctionPlan, Inspected


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


def outer_error(inner: str) -> ErrorModel:
    """The error model of finitediff over an exact inner: first order is the inner's, second
    order central differences (steps eps**(1/3)) of its exact first derivative, p = 2/3."""
    return ErrorModel(
        factor=ERROR.factor,
        exponents=(1.0, 1.0, 2.0 / 3.0),
        why=f"p = 2/3, central differences (steps eps**(1/3)) of the exact {inner} inner",
        variants_exact=False,
    )


def relative_steps(eps: float) -> tuple[float, float]:
    """The relative steps (first order, nested second order) for a unit roundoff eps."""
    return eps ** (1.0 / 3.0), eps ** (1.0 / 4.0)


#: Whether a batch of B tangents is cheaper through the whole Jacobian (Hessian) than row by row,
#: for x of size n, counting calls of f (of the inner gradient, over a foreign inner); `nested`:
#: finitediff over finitediff.
#:
#: A pullback costs what the Jacobian costs (two calls per coordinate of x), so a batch of them
#: is always one Jacobian times the batch. A pushforward costs two calls per row against the
#: Jacobian's 2n: the matrix wins once the batch is as large as x; the same for an hvp over a
#: foreign inner (two inner gradients per row against 2n). An hvp of finitediff over
#: finitediff costs two inner gradients of 2n calls each, 4n per row, against the Hessian's
#: 2n^2 + 1: the matrix wins from half the size of x.
MATRIX_CHEAPER: Rules[Callable[[int, int, bool], bool]] = Rules("finitediff batches", BATCHED, {
    "pushforward": lambda batch, n, nested: batch >= n,
    "pullback": lambda batch, n, nested: True,
    "hvp": lambda batch, n, nested: 2 * batch >= n if nested else batch >= n,
})  # fmt: skip


def by_matrix(
    functions: tuple[FunctionPlan, ...], inspected: Inspected, nested: bool
) -> tuple[str, ...]:
    """The batched functions cheaper through the whole Jacobian (Hessian) (MATRIX_CHEAPER)."""
    n = inspected.active.spec.size
    return tuple(
        f.name for f in functions if f.batch and MATRIX_CHEAPER[f.operator](f.batch, n, nested)
    )


#: The helpers of templates/finitediff.py.jinja, in its order of definition, and the name each
#: defines: a plan takes those its expressions call.
HELPERS = {
    "f": "_f",
    "columns": "_columns",
    "along": "_along",
    "colored": "_colored",
    "seeds": "_seeds",
    "inner_gradient": "_inner_gradient",
    "hessian": "_second_differences",
    "inner_derivative": "_inner_derivative",
    "symmetrized": "_symmetrized",
}


def called(expressions: Iterable[tuple[str, str, str]], helpers: Iterable[str]) -> list[str]:
    """Those of these helpers that the expressions call, in the template's order."""
    text = "\n".join(e for _, _, e in expressions)
    return [h for h in HELPERS if h in helpers and re.search(rf"\b{HELPERS[h]}\b", text)]


def sparse_parts(
    functions: tuple[FunctionPlan, ...], helpers: list[str], dtype: str
) -> tuple[list[str], tuple[tuple[str, str, str], ...]]:
    """The helpers and seed constants of the sparse matrices these functions return: one 0/1
    direction like x per color, in x's dtype, built at import from the module's colors."""
    matrices = {r.sparse.prefix: r.sparse for f in functions for r in f.results if r.sparse}
    if not matrices:
        return helpers, ()
    wanted = {*helpers, "along", "colored", "seeds"}
    constants = tuple(
        (f"_{p}_SEEDS", f"_seeds(_{p}_COLORS, {dtype})",
         f"One direction per color ({m.cost_text}): the columns of that color")
        for p, m in matrices.items()
    )  # fmt: skip
    return [h for h in HELPERS if h in wanted], constants


def site(functions: tuple[FunctionPlan, ...], flavour: str) -> Site:
    """Where the expressions are evaluated: x, the constants, and the module's array library."""
    params = functions[0].params
    constants = "".join(f", {p.name}" for p in params[1:] if p.name not in TANGENT_PARAMETERS)
    return Site(params[0].name, constants, CONVERSIONS[flavour])


def numpy_array(inspected: Inspected) -> str:
    """The annotation of x as a numpy array, whatever the module's array library."""
    return f"npt.NDArray[np.{inspected.active.spec.dtype}]"


def mutated(inspected: Inspected) -> tuple[str, ...]:
    """The arguments the user's function writes into, found by one call at the probe point.

    A function that writes into its argument (`x *= 2`) would change the caller's array and,
    since the differences call it many times with the same constants, its own later values.
    Copying every argument on every call costs up to 15% of a small function's time (measured:
    a copy of 1,000 floats against rosen at n = 1,000), so the module copies only the arguments
    the function was seen to write into here; a function that writes only on some branches,
    not taken at the probe point, is not detected (README, finitediff).
    """
    import numpy as np

    from ..model import PROBE_SEED, draw
    from ..x64 import precise

    rng = np.random.default_rng(PROBE_SEED)
    values = [draw(arg.spec, rng) for arg in inspected.args]
    before = [value.copy() for value in values]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), precise():
            warnings.simplefilter("ignore")
            inspected.function(*values)
    except Exception:  # the probe already called it at this point: reported there, not here
        return ()
    return tuple(
        arg.name
        for arg, value, old in zip(inspected.args, values, before, strict=True)
        if not np.array_equal(value, old, equal_nan=True)
    )


def call_args(inspected: Inspected, copied: tuple[str, ...]) -> str:
    """The user's function's arguments, in its signature's order, copies where it writes."""
    return ", ".join(f"{a.name}.copy()" if a.name in copied else a.name for a in inspected.args)


def working_dtype(inspected: Inspected) -> Dtype:
    """The dtype whose roundoff limits the differences: the coarser of x's and f(x)'s."""
    return max((inspected.active.spec, inspected.output), key=lambda spec: spec.eps).dtype


@dataclass(frozen=True)
class FiniteDiffPlan(BackendPlan):
    """The finitediff plan: the expression of every result (differences.py)."""

    array: str = ""  # x as a numpy array: what the differences are taken of
    call_args: str = ""  # what _f passes the user's function: "x, A.copy()" (see `mutated`)
    expressions: tuple[tuple[str, str, str], ...] = ()  # (function, result, expression)

    def expression(self, function: str, result: str) -> str:
        return next(e for f, r, e in self.expressions if (f, r) == (function, result))


class FiniteDiff:
    """Central differences in numpy; imports numpy and the user's function only."""

    name = "finitediff"
    summary = "central differences in numpy, relative steps fixed per dtype"
    flavour = "numpy"
    operators: tuple[str, ...] = tuple(OPERATORS)

    def plan(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], outer: str
    ) -> BackendPlan:
        """Every operator by central differences; second order by nested ones (eps**(1/4))."""
        matrix = by_matrix(functions, inspected, nested=True)
        found = expressions(functions, site(functions, "numpy"), False, matrix)
        nested = ("along", "inner_gradient", "hessian", "inner_derivative")
        helpers = ["f", "columns", *called(found, nested)]
        dtype = working_dtype(inspected)
        step_1, step_2 = relative_steps(EPS[dtype])
        helpers, seeds = sparse_parts(functions, helpers, f"np.{inspected.active.spec.dtype}")
        copied = mutated(inspected)
        copies = (
            f" {inspected.target.function} writes into {', '.join(copied)} (seen when diffgen"
            " called it), so it is called with copies of them."
            if copied
            else ""
        )
        return FiniteDiffPlan(
            template="finitediff.py.jinja",
            stdlib=(("collections.abc", "Callable"), ("typing", "Any")),
            imports=(f"import {inspected.module} as _user_module",),
            helpers=tuple(helpers),
            constants=(
                ("_REL_STEP_1", repr(step_1), f"eps**(1/3) for {dtype}: first-order steps"),
                ("_REL_STEP_2", repr(step_2), f"eps**(1/4) for {dtype}: nested steps"),
                *seeds,
            ),
            error=ERROR,
            array=numpy_array(inspected),
            expressions=found,
            description=(
                "Central differences with steps relative to |x|: "
                f"h = {step_1:.6g} * max(1, |x_i|) for first derivatives and "
                f"h = {step_2:.6g} * max(1, |x_i|) for each level of second derivatives "
                "(finitediff over finitediff)." + copies
            ),
            call_args=call_args(inspected, copied),
        )

    def plan_outer(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], inner: str, source: str
    ) -> BackendPlan:
        """Second order by central differences of an exact inner derivative (steps eps**(1/3)).

        The inner derivative is exact up to rounding, so the outer difference errs by
        h^2 |f^(3)| + eps |f^(1)| / h: the first-order optimum h ~ eps**(1/3), for an error of order
        eps**(2/3) -- the outer prepared for its inner, as the inner is for its outer.
        """
        second = tuple(f for f in functions if f.order == 2)
        matrix = by_matrix(functions, inspected, nested=False)
        conversion = CONVERSIONS[functions[0].flavour]  # the module's: the inner's
        found = expressions(second, site(functions, functions[0].flavour), True, matrix)
        helpers = called(found, ("columns", "along", "symmetrized"))
        helpers, seeds = sparse_parts(second, helpers, "np.float64")  # numpy points
        helpers += [f"from_numpy_{conversion.helper}"] if conversion.helper else []
        dtype = working_dtype(inspected)
        step, _ = relative_steps(EPS[dtype])
        return FiniteDiffPlan(
            template="finitediff.py.jinja",
            stdlib=(("collections.abc", "Callable"), ("typing", "Any")),
            imports=(),
            helpers=tuple(helpers),
            constants=(
                ("_OUTER_STEP", repr(step), f"eps**(1/3) for {dtype}: outer steps"),
                *seeds,
            ),
            error=outer_error(inner),
            description=(
                f"Second order: central differences of the {inner} inner derivative with steps"
                f" h = {step:.6g} * max(1, |x_i|) (finitediff over {inner})"
                + (
                    f", in numpy: arguments and the inner results are converted from and to"
                    f" {conversion.helper} arrays."
                    if conversion.helper
                    else "."
                )
            ),
            array=numpy_array(inspected),
            expressions=found,
        )
