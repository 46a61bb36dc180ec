"""The torch backends `torch:forward` (JVP-based) and `torch:reverse` (VJP-based).

Each operator function of a module gets a kernel composed from a few torch.func helpers
(templates/torch.py.jinja) in the backend's mode, and for second order in the outer backend's
mode over the inner first derivative, as one composition:

- first order: pushforward is one JVP (forward) or the VJP of the VJP (reverse: the pullback is
  linear in its cotangent); pullback one VJP (reverse) or the VJP of the JVP in its tangent
  (forward: the transpose of a linear map); jacobian `jacfwd` or `jacrev`; derivative a JVP along
  1 (forward) or a one-column jacrev; gradient `grad` (reverse) or a one-row jacfwd.
- second order: the inner gradient (hvp, hessian) or derivative (second_derivative) is
  differentiated by the outer mode: hvp = its JVP along dx (forward outer) or its VJP along dx
  (reverse outer; the Hessian is symmetric); hessian = its jacfwd or jacrev; second_derivative
  = its derivative. Value variants take the lower derivatives from the same pass, as aux.

`--torch-mode graph` (the default) traces each kernel here, forward, backward and double
backward in one trace, with make_fx (after a trace of the function alone on fake tensors has
shown that it does not branch on its values), cleans the aten graph and writes it into the
module as plain Python (generator/torch_graph.py): the module imports torch and numpy only and
runs no autograd. Each printed graph is run here against the traced one, bit for bit.
`--torch-mode eager` writes the kernels themselves: the module imports the user's function and
runs torch.func on every call. `--torch-compile` wraps the kernels in `torch.compile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..errors import DiffgenError
from ..model import BackendPlan
from ..operators import OPERATORS
from .base import AD_ERROR, annotation, helper_closure, require, result_targets, vmapped
from .torch_options import TorchOptions
from .torch_trace import printed_graphs, quiet_torch, tried

if TYPE_CHECKING:
    from ..model import FunctionPlan, Inspected
    from ..spec import Spec


#: Names the generated code uses, which a parameter must not shadow (besides _-prefixed ones).
RESERVED = frozenset({"torch", "np", "npt"})

#: The template's AD helpers in the order they are defined, each with those it calls.
HELPERS: dict[str, tuple[str, ...]] = {
    "pushforward_forward": (),
    "pushforward_reverse": (),
    "pullback_forward": (),
    "pullback_reverse": (),
    "jacobian_forward": (),
    "jacobian_reverse": (),
    "derivative_forward": ("pushforward_forward",),
    "derivative_reverse": ("jacobian_reverse",),
    "gradient_forward": ("jacobian_forward",),
    "gradient_reverse": (),
}

#: The helper that differentiates the inner gradient along dx to give an hvp, per outer mode.
HVP = {"forward": "pushforward_forward", "reverse": "pullback_reverse"}


@dataclass(frozen=True)
class Kernel:
    """The kernel of one operator function: its torch.func composition and its traced graph."""

    function: str  # the public function: "value_and_gradient"
    operator: str  # its operator: "gradient"
    results: tuple[str, ...]  # the quantities it returns: ("value", "gradient")
    name: str  # the kernel: "_value_and_gradient_kernel"
    call: str  # what the public function calls: the kernel, or its torch.compile'd constant
    params: tuple[str, ...]
    annotation: str  # the kernel's (and the operator's) return annotation
    steps: tuple[tuple[str, str], ...]  # (assignment targets, expression) of the composition
    cast: str  # the composition's return expression: each result in its spec's dtype
    arguments: str  # what the public function passes it: "x, dx", or tensors of numpy arrays
    graph: tuple[str, ...] = ()  # graph mode: the statements of the traced graph
    summary: str = ""  # graph mode: one line on the graph, for its docstring

    @property
    def signature(self) -> str:
        return ", ".join(f"{name}: torch.Tensor" for name in self.params)

    @property
    def args(self) -> str:
        return ", ".join(self.params)


@dataclass(frozen=True)
class Inner:
    """The inner first derivative of the second-order operators, as a function of its own."""

    name: str  # "_inner_gradient" or "_inner_derivative"
    quantity: str  # "gradient" or "derivative"
    backend: str  # the inner backend: "torch:reverse"
    call: str  # the inner mode's helper: "_gradient_reverse(lambda _z: (_f(_z, A), ()), x)"


@dataclass(frozen=True)
class TorchPlan(BackendPlan):
    """The torch backends' plan: the kernels, traced (graph mode) or composed (eager mode)."""

    eager: bool = False
    y_dtype: str = ""  # f(x)'s dtype as generated code spells it
    y_spec: str = ""
    params: tuple[str, ...] = ()  # the parameters of _f and the inner functions: x, constants
    signature: str = ""  # the same, annotated: "x: torch.Tensor, A: torch.Tensor"
    call_args: str = ""  # the user's function's arguments, in its signature's order
    inner: tuple[Inner, ...] = ()
    kernels: tuple[Kernel, ...] = ()
    over: str = ""  # as the outer of a foreign inner backend: its name ("sympy")
    backend: str = ""  # this backend, the inner one of second order: "torch:forward"
    outer: str = ""  # the outer backend of second order: "torch:reverse"
    source: str = ""  # then: the code of the inner's private functions, which the kernels call

    def kernel(self, function: str) -> Kernel:
        return next(k for k in self.kernels if k.function == function)


def bound(fn: str, params: Sequence[str], aux: bool) -> str:
    """fn as a function of its first parameter alone; with aux, returning (fn(...), ()) as the
    AD helpers expect of the function they differentiate."""
    call = f"{fn}({', '.join(['_z', *params[1:]])})"
    return f"lambda _z: ({call}, ())" if aux else f"lambda _z: {call}"


def steps(
    fn: FunctionPlan, mode: str, outer_mode: str, params: Sequence[str], over: str = ""
) -> tuple[tuple[str, str], str | None, str | None]:
    """A kernel's composition: its one assignment, the helper it calls, the inner it needs.

    Over a foreign inner (`over`), second order differentiates its private `_inner_*` functions,
    with the value as aux where the value variant returns it."""
    names = [r.name for r in fn.results]
    x, op = params[0], fn.operator
    f = bound("_f", params, aux=True)
    if fn.batch:  # the operator's own kernel, vectorized over the tangents: one pass
        dims, args = vmapped(fn)
        return (f"_{op}", f"torch.func.vmap(_{op}_kernel, in_dims=({dims},))({args})"), None, None
    if op == "value":  # a private inner value, for a foreign outer's value variants
        return ("_value", f"_f({', '.join(params)})"), None, None
    if op in ("pushforward", "pullback"):
        tangent = "dx" if op == "pushforward" else "dy"
        call = f"_{op}_{mode}({f}, {x}, {tangent})"
        return (result_targets(names, ("value", op, "")), call), f"{op}_{mode}", None
    if op in ("derivative", "gradient", "jacobian"):
        return (
            (result_targets(names, ("value", op, "")), f"_{op}_{mode}({f}, {x})"),
            f"{op}_{mode}",
            None,
        )
    quantity = "derivative" if op == "second_derivative" else "gradient"
    inner = bound(f"_inner_{quantity}", params, aux=False)
    if over:  # the foreign inner's functions return one result: pair it with the value (aux)
        args = ", ".join(["_z", *params[1:]])
        aux = f"_inner_value({args})" if "value" in names else "()"
        inner = f"lambda _z: (_inner_{quantity}({args}), {aux})"
    if op == "hvp":
        helper = HVP[outer_mode]
        call = f"_{helper}({inner}, {x}, dx)"
        return (result_targets(names, ("gradient", "hvp", "")), call), helper, quantity
    helper = f"{'derivative' if op == 'second_derivative' else 'jacobian'}_{outer_mode}"
    computed = (quantity, op, "value")
    return (result_targets(names, computed), f"_{helper}({inner}, {x})"), helper, quantity


class TorchBackend:
    """AD by torch.func in one mode; the module runs the traced graphs, or torch.func itself."""

    flavour = "torch"
    operators: tuple[str, ...] = tuple(OPERATORS)

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.name = f"torch:{mode}"
        how = "JVPs (torch.func.jvp, jacfwd)" if mode == "forward" else "VJPs (vjp, grad, jacrev)"
        self.summary = f"torch in {mode} mode: {how}, traced to aten graphs at generation time"

    def plan(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], outer: str
    ) -> BackendPlan:
        return self.planned(inspected, functions, outer)

    def plan_outer(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], inner: str, source: str
    ) -> BackendPlan:
        """The second-order kernels over a foreign inner's private functions (sympy's, printed
        as torch code): traced with them into graphs (or run eagerly over them); the module is
        the inner's numpy one, so arguments become tensors and results numpy arrays."""
        second = tuple(f for f in functions if f.order == 2)
        return self.planned(inspected, second, self.name, over=inner, source=source)

    def planned(
        self,
        inspected: Inspected,
        functions: tuple[FunctionPlan, ...],
        outer: str,
        over: str = "",
        source: str = "",
    ) -> TorchPlan:
        """The plan of these functions' kernels; `over` a foreign inner, whose private functions
        (`source`) the second-order kernels differentiate instead of torch's own inner ones."""
        target, options = inspected.target, inspected.target.option(TorchOptions)
        how = "trace (or, in eager mode, run) torch.func"
        require("torch", self.name, how, "'diffgen[torch]' (torch==2.13.0)")
        eager = options.mode == "eager"
        outer_mode = outer.removeprefix("torch:")
        x = functions[0].params[0]
        constants = tuple(p for p in functions[0].params[1:] if p.name not in ("dx", "dy"))
        params = [p.name for p in (x, *constants)]
        clash = [name for name in params if name in RESERVED or name.startswith("_")]
        if clash:
            raise DiffgenError(
                f"parameter {clash[0]!r} of {target.function} clashes with the generated code",
                "torch modules use the names torch, np and npt, and names starting with _ for"
                " their temporaries and helpers",
                f"rename {clash[0]!r} in {target.function}",
            )
        specs = {p.name: p.spec for fn in functions for p in fn.params}
        kernels, helpers, inner = [], set(), {}
        for fn in functions:
            step, helper, quantity = steps(fn, self.mode, outer_mode, params, over)
            helpers |= {helper} if helper else set()
            if quantity is not None and not over:
                call = f"_{quantity}_{self.mode}({bound('_f', params, aux=True)}, {x.name})"
                inner[quantity] = Inner(f"_inner_{quantity}", quantity, self.name, call)
                helpers.add(f"{quantity}_{self.mode}")
            name = f"_{fn.name.lstrip('_')}_kernel"
            names = tuple(p.name for p in fn.params)
            kernels.append(
                Kernel(
                    function=fn.name,
                    # an operator is traced with its variant, a batch on its own
                    operator=fn.name if fn.batch else fn.operator,
                    results=tuple(r.name for r in fn.results),
                    name=name,
                    call=f"_{fn.name.lstrip('_').upper()}" if options.compile else name,
                    params=names,
                    annotation=(
                        annotation(len(fn.results), "torch.Tensor") if over else fn.returns
                    ),
                    steps=(step,),
                    cast=", ".join(f"_{r.name}.to({torch_dtype(r.spec)})" for r in fn.results),
                    arguments=", ".join(f"torch.tensor({n})" if over else n for n in names),
                )
            )
        if over:
            how = over_description(self.name, over, eager)
        else:
            how = description(self.name, outer, bool(inner), eager, options.compile)
        plan = TorchPlan(
            template="torch.py.jinja",
            stdlib=(
                (("collections.abc", "Callable"), ("typing", "Any"), ("typing", "cast"))
                if eager
                else ()
            ),
            imports=(
                ("import torch",) * bool(over)
                + (f"import {inspected.module} as _user_module",) * (eager and not over)
            ),
            constants=(),
            helpers=helper_closure(helpers, HELPERS),
            description=how,
            error=AD_ERROR,
            results_ready=not over,  # over a numpy module's inner: numpy arrays on return
            calls_private=eager,
            eager=eager,
            y_dtype=f"torch.{inspected.output.dtype}",
            y_spec=str(inspected.output),
            params=tuple(params),
            signature=", ".join(f"{name}: torch.Tensor" for name in params),
            call_args=", ".join(arg.name for arg in inspected.args),
            inner=tuple(inner[q] for q in sorted(inner)),
            kernels=tuple(kernels),
            over=over,
            source=source,
            backend=self.name,
            outer=outer,
        )
        tensors: tuple[tuple[str, str, str], ...] = ()
        with quiet_torch():
            if eager:
                tried(plan, inspected, specs)
            else:
                plan, tensors = printed_graphs(plan, inspected, specs)
        compiled = tuple(
            (k.call, f"torch.compile({k.name}, fullgraph={not eager}, dynamic=False)",
             f"{k.function}, compiled by torch.compile on its first call for each device")
            for k in plan.kernels
            if options.compile
        )  # fmt: skip
        return replace(plan, constants=tensors + compiled)


def torch_dtype(spec: Spec) -> str:
    return f"torch.{spec.dtype}"


def over_description(outer: str, inner: str, eager: bool) -> str:
    """The paragraph of the module docstring on second order over a foreign inner."""
    how = (
        "run with torch.func on every call (--torch-mode eager)"
        if eager
        else "traced with them by diffgen into aten graphs (make_fx), written out below: the"
        " module runs no autograd"
    )
    return (
        f"Second order: {outer} over {inner}. The {inner} inner derivatives, printed as torch"
        f" code, are differentiated by {outer} in compositions {how}. Arguments become"
        " tensors (copies) and results numpy arrays, like the first-order operators'. " + THREADS
    )


def description(backend: str, outer: str, second: bool, eager: bool, compiled: bool) -> str:
    """The paragraph of the module docstring on how the module computes."""
    order = f" and, for second order, {outer} over {backend}" if second else ""
    if eager:
        how = (
            f"Computed by {backend}{order} with torch.func on every call (--torch-mode eager):"
            " this module imports the user's function."
        )
    else:
        how = (
            f"Computed by {backend}{order}: each operator's torch.func composition was traced"
            " by diffgen into an aten graph (make_fx), cleaned and written out below, so this"
            " module runs no autograd and imports neither the user's function nor diffgen."
            " The graphs were traced on the CPU and run on the device of their first argument:"
            " every factory call takes that device, and captured tensors are module constants"
            " moved to it."
        )
    if compiled:
        how += " Each kernel is wrapped in torch.compile, which compiles on its first call."
    return (
        how + " Arguments may be torch tensors, numpy arrays (shared with torch.as_tensor) or,"
        " for 0-d specs, Python floats; results are always torch tensors. " + THREADS
    )


#: The module docstring's sentence on torch's thread pool, measured in the README (torch).
THREADS = (
    "Speed depends on torch's intra-op thread count (torch.get_num_threads(), one per core"
    " by default): on small inputs a busy machine makes the hand-offs between threads cost"
    " more than the work (measured: an n = 10 Hessian of a logistic loss over a 200 x 10"
    " data matrix, 0.4-0.5 ms with one thread, 3-5 ms with two, on a loaded 2-core machine)."
    " This module never changes the setting: call torch.set_num_threads(1) in a program"
    " that calls it on small inputs."
)


BACKENDS = (TorchBackend("forward"), TorchBackend("reverse"))
