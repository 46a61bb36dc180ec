"""Stage 6: the plan of a module's generated tests: points, references, tolerances, relations.

The points are drawn from a seeded generator; references (references.py) are computed at
generation time and written into the test file as literals, as are the tolerances.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .inspect_target import Inspected, draw
from .operators import OPERATORS
from .plan import FunctionPlan, ModulePlan
from .references import REFERENCE_ERROR_FACTOR, Point, references

N_CASES = 3
TEST_SEED = 20_261_126

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Expected:
    """A reference result at one point and the absolute tolerance for it."""

    quantity: str
    literal: str
    atol: str


@dataclass(frozen=True)
class Case:
    """One test point: each parameter's value as a literal, and the expected results."""

    inputs: tuple[tuple[str, str], ...]
    expected: tuple[Expected, ...]


@dataclass(frozen=True)
class WrongInput:
    """A call with a wrongly shaped or typed argument, and the message it must raise."""

    function: str
    args: str
    message: str  # a regular expression, as a Python literal


@dataclass(frozen=True)
class TestPlan:
    """What the test template renders."""

    __test__ = False  # not a pytest class

    module: ModulePlan
    reference_method: str
    tolerance_note: str
    cases: tuple[Case, ...]
    variant_pairs: tuple[tuple[FunctionPlan, FunctionPlan, int], ...]
    checks: tuple[str, ...]  # the consistency relations that apply to this module's operators
    wrong_inputs: tuple[WrongInput, ...]

    @property
    def constant_args(self) -> str:
        return "".join(f', c["{c.name}"]' for c in self.module.constants)


#: Consistency relations (templates/consistency.py.jinja) and the operators each needs.
CHECKS: dict[str, tuple[str, ...]] = {
    "gradient_is_pullback_of_one": ("gradient", "pullback"),
    "derivative_is_pushforward_of_one": ("derivative", "pushforward"),
    "jacobian_rows_are_pullbacks": ("jacobian", "pullback"),
    "jacobian_columns_are_pushforwards": ("jacobian", "pushforward"),
    "hvp_is_hessian_times_vector": ("hvp", "hessian"),
    "hessian_is_symmetric": ("hessian",),
}


def literal(array: npt.NDArray[np.floating], dtype: str, digits: int | None = None) -> str:
    """A Python literal that rebuilds the array exactly (or to `digits` significant digits)."""
    values = np.asarray(array, dtype=np.float64)
    if digits is not None:
        values = np.vectorize(lambda v: float(f"{v:.{digits - 1}e}"), otypes=[np.float64])(values)
    return f"np.array({values.tolist()!r}, dtype=np.{dtype})"


def quantity_order(name: str) -> int:
    return 0 if name == "value" else OPERATORS[name].order if name in OPERATORS else 1


def build_test_plan(plan: ModulePlan, inspected: Inspected) -> TestPlan:
    """Draw the test points, compute references and tolerances, and pick the relations to check."""
    rng = np.random.default_rng(TEST_SEED)
    x_spec, y_spec = inspected.active.spec, inspected.output
    eps = max(x_spec.eps, y_spec.eps)
    error = plan.error
    quantities = tuple(dict.fromkeys(r.name for f in plan.functions for r in f.results))
    shapes = {r.name: r.spec.shape for f in plan.functions for r in f.results}
    used = {p.name for f in plan.functions for p in f.params}
    points = []
    for _ in range(N_CASES):
        args = {arg.name: draw(arg.spec, rng) for arg in inspected.args}
        points.append(Point(args, draw(x_spec, rng), draw(y_spec, rng)))
    # the value sets the scale of every tolerance, also when no operator returns it (hvp alone)
    found = references(inspected, tuple(dict.fromkeys(("value", *quantities))), points)
    cases = []
    for point, values in zip(points, found.values, strict=True):
        scale = max(1.0, float(np.max(np.abs(values["value"][0]))))
        expected = []
        for q in quantities:
            ref, err = values[q]
            size = max(scale, float(np.max(np.abs(ref))))
            atol = error.factor * eps ** error.exponents[quantity_order(q)] * size
            atol += REFERENCE_ERROR_FACTOR * float(np.max(err, initial=0.0))
            atol += size * 10.0 ** (1 - found.digits)  # the rounding of the literal
            shaped = ref.reshape(shapes[q])
            expected.append(Expected(q, literal(shaped, "float64", found.digits), f"{atol:.3e}"))
        inputs = [(a.name, literal(point.args[a.name], a.spec.dtype)) for a in inspected.args]
        if "dx" in used:
            inputs.append(("dx", literal(point.dx, x_spec.dtype)))
        if "dy" in used:
            inputs.append(("dy", literal(point.dy, y_spec.dtype)))
        cases.append(Case(tuple(inputs), tuple(expected)))
    note = TOLERANCE_NOTE.format(factor=error.factor, eps=eps, why=error.why, ref=found.error_note)
    return TestPlan(
        module=plan,
        reference_method=found.method,
        tolerance_note=textwrap.fill(
            note + (EXACT_VARIANTS if error.variants_exact else ""), width=96
        ),
        cases=tuple(cases),
        variant_pairs=variant_pairs(plan),
        checks=tuple(
            name
            for name, needs in CHECKS.items()
            if all(op in {f.name for f in plan.functions} for op in needs)
        ),
        wrong_inputs=wrong_inputs(plan),
    )


TOLERANCE_NOTE = (
    "Tolerances: atol = {factor:g} * eps**p * max(1, |f(x)|, |reference|) {ref}, with"
    " eps = {eps:.3e} the unit roundoff of the coarser dtype and {why}."
)
EXACT_VARIANTS = " Value variants must equal their plain operators exactly."


def variant_pairs(plan: ModulePlan) -> tuple[tuple[FunctionPlan, FunctionPlan, int], ...]:
    """Each plain operator, its value variant, and where the variant returns the same quantity."""
    plain = {f.name: f for f in plan.functions if f.name == f.operator}
    return tuple(
        (plain[f.operator], f, [r.name for r in f.results].index(f.operator))
        for f in plan.functions
        if f.name != f.operator
    )


def wrong_inputs(plan: ModulePlan) -> tuple[WrongInput, ...]:
    """A wrong shape and a wrong dtype for x, in a call of the first operator."""
    fn = plan.functions[0]
    x = plan.x
    shape = (*x.spec.shape[:-1], x.spec.shape[-1] + 1) if x.spec.shape else (2,)
    dtype = "float32" if x.spec.dtype == "float64" else "float64"
    calls = []
    for bad_shape, bad_dtype in ((shape, x.spec.dtype), (x.spec.shape, dtype)):
        given = f"{bad_dtype}[{','.join(map(str, bad_shape))}]"
        args = [
            (
                f"np.zeros({bad_shape!r}, dtype=np.{bad_dtype})"
                if p.name == x.name
                else f'CASES[0]["{p.name}"]'
            )
            for p in fn.params
        ]
        message = re.escape(f"{x.name}: expected {x.spec}, got {given}")
        calls.append(WrongInput(fn.name, ", ".join(args), repr(message)))
    return tuple(calls)
