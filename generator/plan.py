"""Stage 2: the frozen plan of a generated module, all that the templates see."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace

from . import __version__
from .backends.base import Backend, BackendPlan, ErrorModel, inner_quantities
from .backends.registry import check_pair, get_backend, get_outer
from .errors import DiffgenError
from .flavour import FLAVOURS, Flavour
from .inspect_target import Inspected
from .names import Names
from .operators import (
    BATCHED,
    OPERATORS,
    QUANTITIES,
    TANGENT_PARAMETERS,
    Operator,
    batch_of,
    fitting_operators,
    listed,
    tangent_spec,
)
from .spec import Spec

#: The generator's names of tangent parameters: one tangent and a batch of them.
TANGENTS = TANGENT_PARAMETERS

#: Standard-library names that templates/module.py.jinja itself uses.
TEMPLATE_STDLIB = (
    ("collections.abc", "Mapping"),
    ("types", "MappingProxyType"),
    ("typing", "Final"),
)


@dataclass(frozen=True)
class ArrayPlan:
    """An argument or result as the module's code handles it."""

    name: str
    spec: Spec
    annotation: str  # in a public signature
    array: str  # the flavour's array: "npt.NDArray[np.float64]", "jax.Array"
    checked: str  # what the argument is once checked: "jax.Array | npt.NDArray[np.float64]"
    dtype: str  # the dtype as generated code spells it: "np.float64"

    @property
    def shape(self) -> str:
        """The shape as a Python literal: "(10,)", "(3, 4)" or "()"."""
        return repr(self.spec.shape)

    @property
    def scalar(self) -> bool:
        return self.spec.is_scalar

    @property
    def size(self) -> int:
        return self.spec.size


@dataclass(frozen=True)
class FunctionPlan:
    """One top-level operator function of the module (a plain operator or its value variant)."""

    name: str
    operator: str
    params: tuple[ArrayPlan, ...]  # x, then the tangent if any, then the constants
    results: tuple[ArrayPlan, ...]  # each named after its quantity: value, gradient, ...
    returns: str
    docstring: str
    public: bool = True  # False: a private `_inner_*` function an outer backend calls
    flavour: str = "numpy"  # the array library of its parameters and results
    outs: tuple[str, ...] = ()  # per result: its keyword-only `out=` parameter, "" for none
    batch: int = 0  # B > 0: `<operator>_batch`, the operator for B tangents stacked on axis 0

    @property
    def out_params(self) -> tuple[tuple[str, ArrayPlan], ...]:
        """(parameter, result) of each result the caller may have written into its own array."""
        return tuple((out, r) for out, r in zip(self.outs, self.results, strict=True) if out)

    @property
    def order(self) -> int:
        """0 for a value, else the order of the operator's derivative."""
        return QUANTITIES[self.operator].order

    @property
    def locals(self) -> str:
        """`_value, _gradient`: the local variables a body leaves its results in."""
        return ", ".join(f"_{r.name}" for r in self.results)


@dataclass(frozen=True)
class ModulePlan:
    """Everything the module template renders; every decision is already made."""

    reference: str
    module_name: str
    version: str
    backend: str
    outer: str
    docstring: str
    function_module: str
    function_qualname: str
    x: ArrayPlan
    dx: ArrayPlan
    y: ArrayPlan
    dy: ArrayPlan
    constants: tuple[ArrayPlan, ...]
    call_args: str  # the arguments of the user's function, in its signature's order
    functions: tuple[FunctionPlan, ...]
    record: tuple[tuple[str, str], ...]  # DIFFGEN entries: key, Python literal
    flavour: Flavour
    backend_plan: BackendPlan
    #: For a pair of different backends: the outer's plan of the second-order functions, which
    #: call the inner backend's `private` functions (`_inner_gradient`, ...).
    outer_plan: BackendPlan | None = None
    private: tuple[FunctionPlan, ...] = ()
    #: The plan in the users' names (what callers and the tests see) keeps the plan the module
    #: is rendered from, in which each argument has a placeholder name (generator/names.py).
    masked: ModulePlan | None = None
    names: Names | None = None

    def unmask(self, text: str) -> str:
        """Text about the masked plan in the user's names."""
        return self.names.unmask(text) if self.names else text

    @property
    def tangents(self) -> dict[str, str]:
        """The tangent parameters' names, by kind (dx, dy, dxs, dys): `dx_` where an argument
        of the function is called dx."""
        return {kind: self.names.public(kind) if self.names else kind for kind in TANGENTS}

    @property
    def rendered_private(self) -> tuple[FunctionPlan, ...]:
        """The private functions the module needs: none where the outer traced them into its
        own code (torch graphs)."""
        return self.private if self.outer_plan and self.outer_plan.calls_private else ()

    @property
    def pair_label(self) -> str:
        """`sympy` or `sympy; second order finitediff over sympy`."""
        if self.outer == self.backend:
            return self.backend
        return f"{self.backend}; second order {self.outer} over {self.backend}"

    @property
    def imports(self) -> tuple[str, ...]:
        """The backends' import lines beyond the flavour's, each once."""
        return tuple(dict.fromkeys(i for view in self.views for i in view.backend_plan.imports))

    @property
    def views(self) -> tuple[ModulePlan, ...]:
        """The plan as each backend's template sees it: its own BackendPlan in `backend_plan`."""
        if self.outer_plan is None:
            return (self,)
        return (self, replace(self, backend_plan=self.outer_plan, outer_plan=None))

    def view_for(self, function: FunctionPlan) -> ModulePlan:
        """The view whose backend renders this function: the outer's for second order."""
        return self.views[-1] if function.order == 2 else self.views[0]

    @property
    def error(self) -> ErrorModel:
        """How exact the module is: first order from the inner, second from the outer."""
        inner, outer = self.backend_plan.error, self.views[-1].backend_plan.error
        if outer is inner:
            return inner
        return ErrorModel(
            factor=max(inner.factor, outer.factor),
            exponents=(inner.exponents[0], inner.exponents[1], outer.exponents[2]),
            why=f"{inner.why}; second order: {outer.why}",
            variants_exact=inner.variants_exact and outer.variants_exact,
        )

    @property
    def stdlib_imports(self) -> tuple[str, ...]:
        """`from MODULE import a, b` lines for the template's, flavour's and backend's names."""
        names: dict[str, set[str]] = {}
        backends = [name for view in self.views for name in view.backend_plan.stdlib]
        for module, name in (*TEMPLATE_STDLIB, *self.flavour.stdlib, *backends):
            names.setdefault(module, set()).add(name)
        return tuple(f"from {m} import {', '.join(sorted(names[m]))}" for m in sorted(names))

    @property
    def writes_out(self) -> bool:
        """Whether any operator takes `out=`: the flavour's `_into` helper is needed."""
        return any(f.out_params for f in self.functions)

    @property
    def all_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.functions)

    @property
    def constant_args(self) -> str:
        """`, A, b`: what follows x in a call of the user's function."""
        return "".join(f", {c.name}" for c in self.constants)


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
    return FunctionPlan(
        name, operator, params, results, returns, docstring, public, flavour.name, outs, batch
    )


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
        f"Backend: {inspected.target.backend}{pair}.\n"
        f"Operators: {', '.join(op.name for op in ops)}, each with its value variant.\n\n"
        f"{how}"
    )


def build_plan(inspected: Inspected, module_name: str, fingerprint: str) -> ModulePlan:
    """Stage 2: check the backend (pair) and operators, and fix every name, type and constant.

    The backends plan with the arguments under placeholder names, so that no argument name can
    meet a name of theirs; the plan returned speaks the user's names (generator/names.py).
    """
    users = [arg.name for arg in inspected.args]
    names = Names.of(inspected.target.function, users, f"{inspected.module}\n{module_name}")
    try:
        masked = masked_plan(names.mask(inspected), module_name, fingerprint)
    except DiffgenError as error:
        raise names.error(error) from error
    return unmasked(masked, names.with_public(public_parameters(masked, names)))


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


def masked_plan(inspected: Inspected, module_name: str, fingerprint: str) -> ModulePlan:
    """The plan of the module's code, for arguments under placeholder names."""
    target = inspected.target
    backend = get_backend(target.backend)
    ops = resolve_operators(inspected, backend.operators)
    outer = target.outer or target.backend
    if target.outer is not None or any(op.order == 2 for op in ops):
        check_pair(outer, target.backend)
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
    functions += batch_functions(inspected, ops, x, constants, flavour)
    # within one framework (jax over jax, ...) the backend composes the pair itself; across
    # frameworks the inner backend plans private `_inner_*` functions that the outer one calls
    family = outer.partition(":")[0] != target.backend.partition(":")[0]
    mixed = family and any(op.order == 2 for op in ops)
    private = private_functions(inspected, functions, backend, outer) if mixed else ()
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
        ("version", repr(__version__)),
        ("fingerprint", repr(fingerprint)),
    )
    plan = ModulePlan(
        reference=target.function,
        module_name=module_name,
        version=__version__,
        backend=target.backend,
        outer=outer,
        docstring=module_docstring(inspected, outer, ops, backend_plan.description),
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
    )
    if not mixed:
        return plan
    from .render import render_private  # render imports this module

    outer_plan = get_outer(outer).plan_outer(
        inspected, functions, target.backend, render_private(plan)
    )
    how = f"{backend_plan.description}\n\n{outer_plan.description}"
    return replace(
        plan, outer_plan=outer_plan, docstring=module_docstring(inspected, outer, ops, how)
    )


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
    inspected: Inspected, functions: tuple[FunctionPlan, ...], inner: Backend, outer: str
) -> tuple[FunctionPlan, ...]:
    """The inner backend's private functions that a foreign outer's second-order ones call.

    They take and return arrays of the outer's library where the inner can print its code in it
    (sympy under jax or torch), else of the inner's own, which the outer converts (finitediff).
    """
    outer_flavour = get_backend(outer).flavour
    flavour = FLAVOURS[outer_flavour if outer_flavour in inner.dialects else inner.flavour]
    x = array_plan(inspected.active.name, inspected.active.spec, flavour)
    constants = tuple(array_plan(c.name, c.spec, flavour) for c in inspected.constants)
    return tuple(
        function_plan(f"_inner_{q}", OPERATORS.get(q, OPERATORS["gradient"]), (q,), inspected,
                      (x, *constants), flavour, public=False)
        for q in inner_quantities(functions)
    )  # fmt: skip
