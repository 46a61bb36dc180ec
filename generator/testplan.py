"""The plan of a module's generated tests: points, references, tolerances, relations.

The points are drawn from a seeded generator; references (references.py) are computed at
generation time and written into the test file as literals, as are the tolerances.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import numpy.typing as npt

from .errors import DiffgenError
from .expected import REFERENCE_ERROR_FACTOR, Point, references
from .flavour import TEST_IMPORTS
from .imports import import_block
from .model import ErrorModel, FunctionPlan, Inspected, ModulePlan, SparseMatrix, draw
from .operators import QUANTITIES, TANGENTS, batch_of, tangent_spec, unbatched

N_CASES = 3
TEST_SEED = 20_261_126
#: The most numbers (inputs and expected results) a test file holds: about 90 KB of literals.
#: A module whose points hold more is checked at fewer points (at least one): a 50 x 50
#: Jacobian's 2,500 entries a point would otherwise make 250 KB of test file.
MAX_LITERALS = 4_000
#: Literals are packed several numbers to a line (black would put each on its own line).
LINE = 100

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
    reference_note: str  # which reference route, why, and how many points
    tolerance_note: str
    cases: tuple[Case, ...]
    variant_pairs: tuple[tuple[FunctionPlan, FunctionPlan, int], ...]
    checks: tuple[str, ...]  # the consistency relations that apply to this module's operators
    wrong_inputs: tuple[WrongInput, ...]
    packed: bool = False  # the literals are laid out by diffgen, between `# fmt: off` and `on`

    def call(self, operator: str, tangent: str = "") -> str:
        """The arguments of a call of `operator` in its signature's order: each from the case
        `c`, the tangent as the expression `tangent`."""
        fn = next(f for f in self.module.functions if f.name == operator)
        return ", ".join(
            tangent if p.name == fn.tangent else f'c["{p.name}"]' for p in fn.signature
        )

    @property
    def test_imports(self) -> tuple[str, ...]:
        """The test file's import lines: its flavour's, and scipy.sparse's for sparse results."""
        flavour = self.module.flavour
        if not self.module.sparse:
            return flavour.test_import_block
        lines = (*TEST_IMPORTS, *flavour.test_imports, *flavour.sparse_imports)
        return import_block(lines, ())


#: Consistency relations (templates/consistency.py.jinja) and the operators each needs.
CHECKS: dict[str, tuple[str, ...]] = {
    "gradient_is_pullback_of_one": ("gradient", "pullback"),
    "derivative_is_pushforward_of_one": ("derivative", "pushforward"),
    "jacobian_rows_are_pullbacks": ("jacobian", "pullback"),
    "jacobian_columns_are_pushforwards": ("jacobian", "pushforward"),
    "hvp_is_hessian_times_vector": ("hvp", "hessian"),
    "hessian_is_symmetric": ("hessian",),
}


def numbers(array: npt.NDArray[np.floating], digits: int | None = None) -> list[str]:
    """Each entry as the shortest literal that rebuilds it (or its `digits` significant digits)."""
    values = np.asarray(array, dtype=np.float64).reshape(-1)
    if digits is not None and digits < 17:
        return [repr(float(f"{v:.{digits - 1}e}")) for v in values]
    return [repr(float(v)) for v in values]


def literal(
    array: npt.NDArray[np.floating], dtype: str, digits: int | None = None, indent: int = 0
) -> str:
    """A Python literal that rebuilds the array exactly (or to `digits` significant digits).

    With `indent`, an array too long for one line is packed: its entries flat, several to a
    line at `indent + 4` spaces, then reshaped.
    """
    shape = np.shape(array)
    items = numbers(array, digits)
    nested = np.array(items, dtype=object).reshape(shape).tolist() if shape else items[0]
    text = f"np.array({nested!r}, dtype=np.{dtype})".replace("'", "")
    if not indent or indent + len(text) + 45 <= LINE or len(shape) == 0:
        return text
    width = LINE - indent - 4
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) + 2 > width:
            lines.append(line.rstrip())
            line = ""
        line += f"{item}, "
    lines.append(line.rstrip())
    body = "".join(f"\n{' ' * (indent + 4)}{line}" for line in lines)
    reshape = f".reshape({shape!r})" if len(shape) != 1 else ""
    return f"np.array([{body}\n{' ' * indent}], dtype=np.{dtype}){reshape}"


def quantity_order(name: str) -> int:
    """0 for the value, else the order of the derivative (of a batched name's operator)."""
    return QUANTITIES[unbatched(name).removesuffix("_values")].order


def expected_key(fn: FunctionPlan, quantity: str) -> str:
    """The key of a result in the generated tests' EXPECTED: `pushforward_batch` for a batch,
    `jacobian_values` for the values of a sparse matrix."""
    values = any(r.values for r in fn.results if r.name == quantity)
    return fn.name if fn.batch or values else quantity


def sparse_shapes(plan: ModulePlan) -> dict[str, tuple[int, ...]]:
    """The literal of a sparse matrix's reference: dense where it is small (the test then also
    checks it is exactly zero outside the pattern), else its values in the pattern's order
    (checked against the pattern when the module was generated: `refuse_missed`)."""
    return {m.quantity: (m.nnz,) for m in plan.sparse if m.shape[0] * m.shape[1] > MAX_LITERALS}


def reference_of(
    key: str,
    values: dict[str, tuple[FloatArray, FloatArray]],
    plan: ModulePlan,
    shape: tuple[int, ...],
) -> tuple[FloatArray, FloatArray]:
    """The reference (and its error) of a result: `hessian_values` is the dense Hessian's
    reference at the coordinates HESSIAN_ROWS, HESSIAN_COLS; a large sparse matrix's its
    values in the pattern's order."""
    matrices = {f"{m.quantity}_values": m for m in plan.sparse}
    matrices.update({m.quantity: m for m in plan.sparse if shape != m.shape})
    if key not in matrices:
        return values[key]
    m = matrices[key]
    keep = m.lower if key == "hessian_values" else np.arange(m.nnz)
    rows, cols = m.rows[keep], m.cols[keep]
    ref, err = (np.asarray(a) for a in values[m.quantity])
    ref = ref.reshape(m.shape)
    err = np.broadcast_to(err.reshape(m.shape) if err.size == ref.size else err, m.shape)
    return ref[rows, cols], err[rows, cols]


def refuse_missed(m: SparseMatrix, ref: FloatArray, atol: float) -> None:
    """A reference nonzero outside a sparse matrix's pattern (beyond `atol`, the tolerance of an
    inexact reference; 0 for an exact one): the pattern misses an entry (a user's pattern that
    is wrong), and the module's matrix would be wrong."""
    outside = np.abs(ref.reshape(m.shape))
    outside[m.rows, m.cols] = 0.0
    if np.any(outside > atol):
        i, j = (int(k) for k in np.argwhere(outside > atol)[0])
        raise DiffgenError(
            f"the sparsity pattern of the {m.quantity} misses entry ({i}, {j}), which is"
            f" {float(ref.reshape(m.shape)[i, j]):.6g} at a test point"
            + (f" (the reference's tolerance is {atol:.3g})" if atol else ""),
            f"the pattern is {m.source}; a sparse module returns zero outside it",
            "add the entry to the pattern file, or drop --sparsity to have the pattern" " detected",
        )


def case_tolerance(
    error: ErrorModel,
    eps: float,
    scale: float,
    digits: int,
    q: str,
    ref: FloatArray,
    err: FloatArray,
) -> float:
    """The absolute tolerance of quantity q at one case: the backend's error model at the
    case's scale, the reference's own error, and the rounding of its literal to `digits`."""
    size = max(scale, float(np.max(np.abs(ref))))
    atol = error.atol(quantity_order(q), eps, size)
    atol += REFERENCE_ERROR_FACTOR * float(np.max(err, initial=0.0))
    return atol + size * 10.0 ** (1 - digits)


def build_test_plan(plan: ModulePlan, inspected: Inspected) -> TestPlan:
    """Draw the test points, compute references and tolerances, and pick the relations to check."""
    rng = np.random.default_rng(TEST_SEED)
    if plan.names is not None:  # trace the references under the placeholder names, as the plan
        inspected = plan.names.mask(inspected)
    x_spec, y_spec = inspected.active.spec, inspected.output
    eps = max(x_spec.eps, y_spec.eps)
    error = plan.error
    plain = [f for f in plan.functions if not f.batch]
    quantities = tuple(dict.fromkeys(r.name for f in plain for r in f.results))
    quantities = tuple(q for q in quantities if q in QUANTITIES)
    shapes = {expected_key(f, r.name): r.spec.shape for f in plan.functions for r in f.results}
    shapes.update(sparse_shapes(plan))
    used = {p.name for f in plan.functions for p in f.params}
    batch = max((f.batch for f in plan.functions), default=0)
    points = []
    for _ in range(N_CASES):
        args = {arg.name: draw(arg.spec, rng, inspected.domain) for arg in inspected.args}
        points.append(Point(args, draw(x_spec, rng), draw(y_spec, rng)))
    if batch:  # drawn after the others, so that modules without batches keep their points
        points = [
            replace(point, rows=tuple((draw(x_spec, rng), draw(y_spec, rng)) for _ in range(batch)))
            for point in points
        ]
    per_point = sum(math.prod(shape) for shape in shapes.values()) + sum(
        a.spec.size for a in inspected.args
    )
    fit = max(1, min(N_CASES, MAX_LITERALS // max(per_point, 1)))
    # the value sets the scale of every tolerance, also when no operator returns it (hvp alone)
    batch_ops = tuple(f.operator for f in plan.functions if f.batch)
    try:
        found = references(
            inspected, tuple(dict.fromkeys(("value", *quantities))), points[:fit], batch_ops
        )
    except DiffgenError as failure:  # said of the masked arguments: in the user's names
        raise (failure if plan.names is None else plan.names.error(failure)) from failure
    packed = per_point > 64
    indent = 8 if packed else 0
    cases = []
    for point, values in zip(points[: len(found.values)], found.values, strict=True):
        scale = max(1.0, float(np.max(np.abs(values["value"][0]))))
        tolerance = partial(case_tolerance, error, eps, scale, found.digits)
        for m in plan.sparse:  # exact zeros outside the pattern, or within an inexact tolerance
            ref, err = (np.asarray(a) for a in values[m.quantity])
            refuse_missed(m, ref, 0.0 if found.exact else tolerance(m.quantity, ref, err))
        expected = []
        for q in shapes:
            ref, err = reference_of(q, values, plan, shapes[q])
            atol = tolerance(q, ref, err)
            shaped = ref.reshape(shapes[q])
            text = literal(shaped, "float64", found.digits, indent)
            expected.append(Expected(q, text, f"{atol:.3e}"))
        inputs = [
            (plan.unmask(a.name), literal(point.args[a.name], a.spec.dtype, indent=indent))
            for a in inspected.args
        ]
        named = plan.tangents  # dx, or dx_ where an argument is called dx
        dtypes = [tangent_spec(kind, x_spec, y_spec).dtype for kind in TANGENTS]
        for kind, value, dtype in zip(TANGENTS, point.tangents, dtypes, strict=True):
            if named[kind] in used:
                inputs.append((named[kind], literal(value, dtype, indent=indent)))
        for part, (kind, dtype) in enumerate(zip(TANGENTS, dtypes, strict=True)):
            if named[batch_of(kind)] in used:
                rows = np.stack([row[part] for row in point.rows])
                inputs.append((named[batch_of(kind)], literal(rows, dtype, indent=indent)))
        cases.append(Case(tuple(inputs), tuple(expected)))
    note = TOLERANCE_NOTE.format(factor=error.factor, eps=eps, why=error.why, ref=found.error_note)
    points_text = "1 seeded point" if len(cases) == 1 else f"{len(cases)} seeded points"
    reference_note = (
        f"Values are checked at {points_text} against references computed at generation time by"
        f" {found.method}. That route was taken because {found.why}."
    )
    if len(cases) < N_CASES:
        reference_note += (
            f" {len(cases)} of {N_CASES} points are checked: "
            + (
                f"a point's inputs and results are {per_point:,} numbers, and a test file keeps"
                f" to {MAX_LITERALS:,}"
                if len(cases) == fit
                else "the references' calls of the function are bounded"
            )
            + "; the consistency relations are checked at the same points."
        )
    return TestPlan(
        module=plan,
        reference_method=found.method,
        reference_note=textwrap.fill(reference_note, width=96),
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
        packed=packed,
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
        if f.name != f.operator and not f.batch and not any(r.values for r in f.results)
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
            for p in fn.signature
        ]
        message = re.escape(f"{x.name}: expected {x.spec}, got {given}")
        calls.append(WrongInput(fn.name, ", ".join(args), repr(message)))
    return tuple(calls)
