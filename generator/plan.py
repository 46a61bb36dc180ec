"""The frozen plan of a generated module's functions: operators, types and constants."""

from __future__ import annotations

import textwrap
from dataclasses import replace

from .backends.base import inner_quantities
from .backends.registry import ENTRIES, get_backend
from .errors import DiffgenError
from .flavour import FLAVOURS, Flavour
from .model import (
    TANGENTS,
    ArrayPlan,
    FunctionPlan,
    Inspected,
    ModulePlan,
    Names,
    Pair,
    SparseMatrix,
)
from .operators import (
    BATCHED,
    OPERATORS,
    QUANTITIES,
    Operator,
    batch_of,
    fitting_operators,
    listed,
    tangent_spec,
)
from .sparse import plan as sparse
from .spec import Spec
from .version import __version__


def array_plan(name: str, spec: Spec, flavour: Flavour, *, result: bool = False) -> ArrayPlan:
    """How a module of this flavour takes (or returns) an array of this spec."""
    annotation = flavour.result_annotation(spec) if result else flavour.parameter_annotation(spec)
    return ArrayPlan(
        name,
        spec,
        annotation,
        flavour.array_annotation(spec),
        flavour.checked_annotation(spec),
        flavour.dtype(spec),
    )


def resolve_operators(inspected: Inspected, supported: tuple[str, ...]) -> tuple[Operator, ...]:
    """The target's operators in table order, each checked to fit the function and backend."""
    x, y = inspected.active.spec, inspected.output
    names = inspected.target.ops
    if "all" in names:
        names = fitting_operators(x, y)
    for name in names:
        if name not in OPERATORS:
            raise DiffgenError(
                f"unknown operator {name!r}",
                f"the operators are {', '.join(OPERATORS)} (value variants come with them)",
                "pass some of them with --ops, or --ops all",
            )
        op = OPERATORS[name]
        if not op.fits(x, y):
            raise DiffgenError(
                f"{name} does not fit {inspected.target.function}",
                f"{name} needs {op.requirement()}; here x is {x} and f(x) is {y}",
                f"use one of: {', '.join(fitting_operators(x, y)) or 'none'} (or --ops all)",
            )
        if name not in supported:
            raise DiffgenError(
                f"backend {inspected.target.backend} cannot generate {name}",
                f"it supports {', '.join(supported)}",
                "choose another backend (`diffgen backends` lists them)",
            )
    if not names:
        raise DiffgenError(
            f"no operator fits {inspected.target.function}",
            f"x is {x} and f(x) is {y}",
            "check the specs",
        )
    return tuple(op for op in OPERATORS.values() if op.name in names)


def function_plan(
    name: str,
    op: Operator,
    quantities: tuple[str, ...],
    inspected: Inspected,
    params: tuple[ArrayPlan, ...],
    flavour: Flavour,
    public: bool = True,
    batch: int = 0,
) -> FunctionPlan:
    """One operator function: its parameters, typed results and one-line docstring."""
    x, y = inspected.active.spec, inspected.output
    results = tuple(
        array_plan(q, batched(QUANTITIES[q].spec(x, y), batch), flavour, result=True)
        for q in quantities
    )
    returns = (
        results[0].annotation
        if len(results) == 1
        else "tuple[" + ", ".join(r.annotation for r in results) + "]"
    )
    meanings = listed(QUANTITIES[q].meaning for q in quantities)
    docstring = f"Return {meanings} of {inspected.qualname} in {inspected.active.name}."
    if batch:
        tangent = batch_of(str(op.tangent))
        docstring = docstring.removesuffix(".") + f", for each row of {tangent}, stacked."
    operator = op.name if public else quantities[0]
    writable = [public and flavour.writes_out and not r.scalar for r in results]
    outs = tuple(
        ("out" if len(results) == 1 else f"out_{r.name}") if w else ""
        for r, w in zip(results, writable, strict=True)
    )
    order = public_order(inspected, len(params) - 1 - len(inspected.constants)) if public else ()
    return FunctionPlan(
        name,
        operator,
        params,
        results,
        returns,
        docstring,
        public,
        flavour.name,
        outs,
        batch,
        order,
    )


def public_order(inspected: Inspected, tangents: int) -> tuple[int, ...]:
    """The public signature as positions in a function's params (x, its tangents, then the
    constants): the function's own argument order, each tangent right after the active argument
    (DI's `pushforward(x, tx, contexts...)` when x comes first, `jacobian(t, y)` for a solver's
    `f(t, y)`). () where that is params' own order, or where the target asks for the active
    argument first (`--wrt-first`)."""
    if inspected.target.wrt_first:
        return ()
    order: list[int] = []
    constant = 1 + tangents
    for arg in inspected.args:
        if arg.active:
            order += range(1 + tangents)
        else:
            order.append(constant)
            constant += 1
    return () if order == sorted(order) else tuple(order)


def batched(spec: Spec, batch: int) -> Spec:
    """The spec of `batch` arrays of this spec stacked on a new leading axis (itself if 0)."""
    return Spec(spec.dtype, (batch, *spec.shape)) if batch else spec


def module_docstring(inspected: Inspected, outer: str, ops: tuple[Operator, ...], how: str) -> str:
    signature = ", ".join(f"{arg.name}: {arg.spec}" for arg in inspected.args)
    constants = ", ".join(arg.name for arg in inspected.constants) or "none"
    pair = (
        f"; second order: {outer} over {inspected.target.backend}"
        if any(op.order == 2 for op in ops)
        else ""
    )
    how = "\n\n".join(textwrap.fill(paragraph, width=96) for paragraph in how.split("\n\n"))
    return (
        f"Derivatives of {inspected.target.function}({signature}) -> {inspected.output}.\n\n"
        f"Differentiated in {inspected.active.name}; constants: {constants}.\n"
        f"{argument_order(inspected)}"
        f"Backend: {inspected.target.backend}{pair}.\n"
        f"Operators: {', '.join(op.name for op in ops)}, each with its value variant.\n\n"
        f"{how}"
    )


def argument_order(inspected: Inspected) -> str:
    """A line on the operators' argument order where the active argument is not the first
    parameter ("" where it is: the order is then the same either way)."""
    if inspected.args[0].active:
        return ""
    x = inspected.active.name
    if inspected.target.wrt_first:
        return f"Arguments: {x} first, then its tangent, then the constants (--wrt-first).\n"
    names = ", ".join(arg.name for arg in inspected.args)
    return f"Arguments in the function's order ({names}), each tangent right after {x}.\n"


def public_parameters(masked: ModulePlan, names: Names) -> tuple[str, ...]:
    """The generator's own parameters of the public operators: tangents and `out=`."""
    params = [p.name for f in masked.functions for p in f.params]
    outs = [out for f in masked.functions for out in f.outs if out]
    return tuple(n for n in (*TANGENTS, *params, *outs) if n not in names.placeholders)


def unmasked(masked: ModulePlan, names: Names) -> ModulePlan:
    """The plan as callers and the generated tests see it: the user's names for the arguments,
    and the generator's parameters moved out of their way (`dx_` beside an argument `dx`)."""

    def array(a: ArrayPlan) -> ArrayPlan:
        return replace(a, name=names.public(a.name))

    def function(f: FunctionPlan) -> FunctionPlan:
        return replace(
            f,
            params=tuple(array(p) for p in f.params),
            outs=tuple(names.public(out) if out else "" for out in f.outs),
            docstring=names.unmask(f.docstring),
        )

    return replace(
        masked,
        docstring=names.unmask(masked.docstring),
        x=array(masked.x),
        dx=array(masked.dx),
        dy=array(masked.dy),
        constants=tuple(array(c) for c in masked.constants),
        call_args=names.unmask(masked.call_args),
        functions=tuple(function(f) for f in masked.functions),
        private=tuple(function(f) for f in masked.private),
        record=tuple((key, names.unmask(value)) for key, value in masked.record),
        masked=masked,
        names=names,
    )


def masked_plan(
    inspected: Inspected,
    module_name: str,
    fingerprint: str,
    ops: tuple[Operator, ...],
    pair: Pair,
) -> ModulePlan:
    """The plan of the module's code, for arguments under placeholder names, with the inner
    backend's plan (compose.py adds a foreign outer's)."""
    target = inspected.target
    backend = get_backend(target.backend)
    outer = pair.outer
    flavour = FLAVOURS[backend.flavour]
    x = array_plan(inspected.active.name, inspected.active.spec, flavour)
    dx = array_plan("dx", inspected.active.spec, flavour)
    y = array_plan("y", inspected.output, flavour)
    dy = array_plan("dy", inspected.output, flavour)
    constants = tuple(array_plan(c.name, c.spec, flavour) for c in inspected.constants)
    tangents = {"dx": (dx,), "dy": (dy,), None: ()}
    functions = tuple(
        function_plan(
            name, op, quantities, inspected, (x, *tangents[op.tangent], *constants), flavour
        )
        for op in ops
        for name, quantities in op.functions
    )
    matrices = sparse_matrices(inspected, ops, pair, flavour)
    if matrices:
        functions = sparse_functions(functions, matrices, inspected, (x, *constants), flavour)
    functions += batch_functions(inspected, ops, x, constants, flavour)
    mixed = pair.foreign is not None
    private = private_functions(inspected, functions, pair.foreign) if pair.foreign else ()
    inner_functions = tuple(f for f in functions if not (mixed and f.order == 2))
    backend_plan = backend.plan(inspected, inner_functions + private, outer)
    record = (
        ("function", repr(target.function)),
        ("args", repr(tuple((arg.name, str(arg.spec)) for arg in inspected.args))),
        ("wrt", repr(inspected.active.name)),
        ("output", repr(str(inspected.output))),
        ("backend", repr(target.backend)),
        ("outer", repr(outer)),
        ("operators", repr(tuple(op.name for op in ops))),
        *((("batch", repr(target.batch)),) if target.batch else ()),
        *((("sparse", sparse.record(matrices)),) if matrices else ()),
        *((("wrt_first", "True"),) if target.wrt_first else ()),
        ("version", repr(__version__)),
        ("fingerprint", repr(fingerprint)),
    )
    how = backend_plan.description
    if matrices:
        how = f"{sparse.describe(matrices, flavour.sparse)}\n\n{how}"
    plan = ModulePlan(
        reference=target.function,
        module_name=module_name,
        version=__version__,
        backend=target.backend,
        outer=outer,
        docstring=module_docstring(inspected, outer, ops, how),
        function_module=inspected.module,
        function_qualname=inspected.qualname,
        x=x,
        dx=dx,
        y=y,
        dy=dy,
        constants=constants,
        call_args=", ".join(arg.name for arg in inspected.args),
        functions=functions,
        record=record,
        flavour=flavour,
        backend_plan=backend_plan,
        private=private,
        sparse=matrices,
        sparse_constants=sparse.constants(matrices),
    )
    return plan


def sparse_matrices(
    inspected: Inspected, ops: tuple[Operator, ...], pair: Pair, flavour: Flavour
) -> tuple[SparseMatrix, ...]:
    """With --sparse: the sparse Jacobian and Hessian, each detected, and colored for the
    backend that evaluates it (the inner for a Jacobian, the outer for a Hessian)."""
    if not sparse.options(inspected).on:
        return ()
    names = [op.name for op in ops]
    sparse.refuse_no_matrix(inspected, names)
    evaluator = {"jacobian": pair.inner, "hessian": pair.outer}
    jaxpr_first = ENTRIES[pair.inner].family == "jax"  # jax traces the function anyway
    matrices = tuple(
        sparse.matrix(inspected, q, ENTRIES[evaluator[q]].sparse, evaluator[q], jaxpr_first)
        for q in sparse.MATRICES
        if q in names
    )
    if not flavour.sparse:  # the module's array library has no sparse result type yet
        q = matrices[0].quantity
        raise sparse.cannot_color(inspected, q, f"{pair.inner} (a {flavour.name} module)")
    return matrices


def sparse_functions(
    functions: tuple[FunctionPlan, ...],
    matrices: tuple[SparseMatrix, ...],
    inspected: Inspected,
    params: tuple[ArrayPlan, ...],
    flavour: Flavour,
) -> tuple[FunctionPlan, ...]:
    """The functions of a sparse module: `value` first, each matrix result sparse, and after
    each matrix's value variant `<quantity>_values`, its values in the order of the module's
    ROWS/COLS constants (for IPOPT's value callbacks)."""
    by_quantity = {m.quantity: m for m in matrices}

    def sparse_result(r: ArrayPlan) -> ArrayPlan:
        m = by_quantity.get(r.name)
        return replace(r, annotation=flavour.sparse, array=flavour.sparse, sparse=m) if m else r

    value = function_plan("value", OPERATORS["jacobian"], ("value",), inspected, params, flavour)
    found = [replace(value, operator="value")]
    for f in functions:
        results = tuple(sparse_result(r) for r in f.results)
        returns = (
            results[0].annotation
            if len(results) == 1
            else "tuple[" + ", ".join(r.annotation for r in results) + "]"
        )
        found.append(replace(f, results=results, returns=returns))
        m = by_quantity.get(f.operator)
        if m is not None and f.name != f.operator:  # after the value variant
            spec = Spec(results[-1].spec.dtype, (m.values_size,))
            values = replace(array_plan(m.quantity, spec, flavour, result=True),
                             sparse=m, values=True)  # fmt: skip
            a, b = m.coordinates
            found.append(replace(
                f, name=f"{m.quantity}_values", results=(values,), returns=values.annotation,
                docstring=f"Return the {m.quantity}'s nonzeros at ({a}, {b}) of"
                f" {inspected.qualname} in {inspected.active.name}.",
                outs=("out",) if f.outs and flavour.writes_out else ("",),
            ))  # fmt: skip
    return tuple(found)


def batch_functions(
    inspected: Inspected,
    ops: tuple[Operator, ...],
    x: ArrayPlan,
    constants: tuple[ArrayPlan, ...],
    flavour: Flavour,
) -> tuple[FunctionPlan, ...]:
    """`pushforward_batch(x, dxs)`, `pullback_batch(x, dys)`, `hvp_batch(x, dxs)` for the
    target's operators with a tangent, taking `--batch` tangents stacked on a leading axis."""
    batch = inspected.target.batch
    if not batch:
        return ()
    tangent_ops = [op for op in ops if op.tangent]
    if not tangent_ops:
        raise DiffgenError(
            f"--batch {batch} needs an operator that takes a tangent",
            f"batched operators exist for {listed(BATCHED)}; --ops has none of them",
            "add one of them to --ops, or drop --batch",
        )
    x_spec, y_spec = inspected.active.spec, inspected.output
    return tuple(
        function_plan(
            str(op.batched),
            op,
            (op.name,),
            inspected,
            (x, array_plan(batch_of(str(op.tangent)),
                           batched(tangent_spec(str(op.tangent), x_spec, y_spec), batch), flavour),
             *constants),
            flavour,
            batch=batch,
        )
        for op in tangent_ops
    )  # fmt: skip


def private_functions(
    inspected: Inspected, functions: tuple[FunctionPlan, ...], dialect: str
) -> tuple[FunctionPlan, ...]:
    """The inner backend's private functions that a foreign outer's second-order ones call,
    taking and returning arrays of `dialect` (the pair's choice, compose.py)."""
    flavour = FLAVOURS[dialect]
    x = array_plan(inspected.active.name, inspected.active.spec, flavour)
    constants = tuple(array_plan(c.name, c.spec, flavour) for c in inspected.constants)
    return tuple(
        function_plan(f"_inner_{q}", OPERATORS.get(q, OPERATORS["gradient"]), (q,), inspected,
                      (x, *constants), flavour, public=False)
        for q in inner_quantities(functions)
    )  # fmt: skip
