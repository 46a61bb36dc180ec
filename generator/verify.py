"""Stage 6: the plan of a module's generated tests: points, references, tolerances, relations.

The points are drawn from a seeded generator; references (references.py) are computed at
generation time and written into the test file as literals, as are the tolerances.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from .inspect_target import Inspected, draw
from .operators import OPERATORS
from .plan import FunctionPlan, ModulePlan
from .references import REFERENCE_ERROR_FACTOR, Point, References, references

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
    name = name.removesuffix("_batch")
    return 0 if name == "value" else OPERATORS[name].order if name in OPERATORS else 1


def expected_key(fn: FunctionPlan, quantity: str) -> str:
    """The key of a result in the generated tests' EXPECTED: `pushforward_batch` for a batch."""
    return f"{quantity}_batch" if fn.batch else quantity


def batch_references(
    inspected: Inspected, plan: ModulePlan, found: References, tangents: list[list[Point]]
) -> References:
    """`found` with `<operator>_batch` added: the operator's reference at each row's tangent,
    stacked (the rows are independent evaluations of the same reference method)."""
    ops = [f.operator for f in plan.functions if f.batch]
    if not ops:
        return found
    rows = [
        references(inspected, ops, [case[b] for case in tangents]) for b in range(len(tangents[0]))
    ]
    values = tuple(
        {
            **values,
            **{
                f"{op}_batch": (
                    np.concatenate([row.values[k][op][0] for row in rows]),
                    np.concatenate([row.values[k][op][1] for row in rows]),
                )
                for op in ops
            },
        }
        for k, values in enumerate(found.values)
    )
    return replace(found, values=values)


def build_test_plan(plan: ModulePlan, inspected: Inspected) -> TestPlan:
    """Draw the test points, compute references and tolerances, and pick the relations to check."""
    rng = np.random.default_rng(TEST_SEED)
    x_spec, y_spec = inspected.active.spec, inspected.output
    eps = max(x_spec.eps, y_spec.eps)
    error = plan.error
    plain = [f for f in plan.functions if not f.batch]
    quantities = tuple(dict.fromkeys(r.name for f in plain for r in f.results))
    shapes = {expected_key(f, r.name): r.spec.shape for f in plan.functions for r in f.results}
    used = {p.name for f in plan.functions for p in f.params}
    batch = max((f.batch for f in plan.functions), default=0)
    points, tangents = [], []
    for _ in range(N_CASES):
        args = {arg.name: draw(arg.spec, rng, inspected.domain) for arg in inspected.args}
        points.append(Point(args, draw(x_spec, rng), draw(y_spec, rng)))
        if batch:  # drawn after the others, so that modules without batches keep their points
            tangents.append(
                [Point(args, draw(x_spec, rng), draw(y_spec, rng)) for _ in range(batch)]
            )
    # the value sets the scale of every tolerance, also when no operator returns it (hvp alone)
    found = references(inspected, tuple(dict.fromkeys(("value", *quantities))), points)
    found = batch_references(inspected, plan, found, tangents)
    cases = []
    for k, (point, values) in enumerate(zip(points, found.values, strict=True)):
        scale = max(1.0, float(np.max(np.abs(values["value"][0]))))
        expected = []
        for q in shapes:
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
        for name, spec in (("dxs", x_spec), ("dys", y_spec)):
            if name in used:
                rows = np.stack([getattr(row, name[:-1]) for row in tangents[k]])
                inputs.append((name, literal(rows, spec.dtype)))
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
        if f.name != f.operator and not f.batch
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
