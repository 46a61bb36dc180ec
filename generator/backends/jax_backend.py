"""The jax backends `jax:forward` (JVP-based) and `jax:reverse` (VJP-based).

Each operator function of a module gets a kernel: a pure function of the checked arguments,
composed from a few AD helpers (templates/jax.py.jinja) in the backend's mode, and for second
order in the outer backend's mode over the inner first derivative:

- first order: pushforward is one JVP (forward) or the transpose of the VJP (reverse); pullback
  one VJP (reverse) or the transpose of the linearized JVP (forward); jacobian a vmapped batch of
  JVPs along the basis of x (forward) or of VJPs along the basis of f(x) (reverse); derivative
  one JVP along 1 (forward) and gradient `jax.value_and_grad` (reverse), their other mode a
  jacobian column or row.
- second order: the inner backend's gradient (hvp, hessian) or derivative (second_derivative) is
  differentiated by the outer one: hvp = JVP of the gradient along dx (forward outer) or its VJP
  along dx (reverse outer; the Hessian is symmetric), hessian = the outer jacobian of the
  gradient, second_derivative = the outer derivative of the derivative. The value variants take
  the first derivative from the same pass as the second.

The module compiles each kernel once at import (`jax.jit(kernel).lower(*specs).compile()`) with
jax's x64 mode on in that scope only. With `--jax-export` the kernels are traced here instead,
exported (`jax.export`, lowered for cpu and cuda) and embedded as serialized artifacts, so that
the module imports neither the user's module nor diffgen. jax itself is imported only when a jax
target is generated.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import DiffgenError
from ..model import BackendPlan
from ..spec import Spec
from ..x64 import precise
from .base import AD_ERROR, annotation, helper_closure, require, result_targets, vmapped
from .jax_options import JaxOptions

if TYPE_CHECKING:
    from ..model import FunctionPlan, Inspected


#: The platforms a --jax-export artifact is lowered for: it runs on any of them.
EXPORT_PLATFORMS = ("cpu", "cuda")

#: The template's AD helpers in the order they are defined, each with those it calls.
HELPERS: dict[str, tuple[str, ...]] = {
    "basis": (),
    "pushforward_forward": (),
    "pushforward_reverse": (),
    "pullback_forward": (),
    "pullback_reverse": (),
    "jacobian_forward": ("basis",),
    "jacobian_reverse": ("basis",),
    "derivative_forward": ("pushforward_forward",),
    "derivative_reverse": ("jacobian_reverse",),
    "gradient_forward": ("jacobian_forward",),
    "gradient_reverse": (),
}

#: The helper that differentiates a function along a direction to give an hvp, per outer mode:
#: a JVP of the gradient (forward), or its VJP (reverse), equal because the Hessian is symmetric.
HVP = {"forward": "pushforward_forward", "reverse": "pullback_reverse"}


@dataclass(frozen=True)
class Kernel:
    """The traced kernel of one operator function and the compiled operator made from it."""

    function: str  # the public function: "value_and_gradient"
    name: str  # the kernel: "_value_and_gradient"
    constant: str  # the compiled operator: "_VALUE_AND_GRADIENT"
    params: tuple[tuple[str, str], ...]  # (parameter, its ShapeDtypeStruct constant)
    steps: tuple[tuple[str, str], ...]  # (assignment targets, expression) of the kernel body
    returns: tuple[tuple[str, str], ...]  # (local holding a result, the result's dtype)
    annotation: str  # the kernel's (and the operator's) return annotation
    outs: str = "()"  # the results' ((shape, dtype), ...) literal, checked against an artifact

    @property
    def signature(self) -> str:
        return ", ".join(f"{name}: jax.Array" for name, _ in self.params)

    @property
    def spec_args(self) -> str:
        return ", ".join(spec for _, spec in self.params)

    @property
    def results(self) -> str:
        """The locals the compiled operator's results go to: "_value, _gradient"."""
        return ", ".join(name for name, _ in self.returns)

    @property
    def args(self) -> str:
        return ", ".join(name for name, _ in self.params)

    @property
    def export_constant(self) -> str:
        return f"{self.constant}_EXPORTED"

    @property
    def kernel_constant(self) -> str:
        """With --jax-export: the deserialized artifact's call, checked at import."""
        return f"{self.constant}_KERNEL"


@dataclass(frozen=True)
class Inner:
    """The inner first derivative of the second-order operators, as a function of its own."""

    name: str  # "_inner_gradient" or "_inner_derivative"
    quantity: str  # "gradient" or "derivative"
    backend: str  # the inner backend: "jax:reverse"
    call: str  # the inner mode's helper at _f: "_gradient_reverse(lambda _z: _f(_z, A), x)"


@dataclass(frozen=True)
class JaxPlan(BackendPlan):
    """The jax backends' plan: the kernels and argument specs; with --jax-export, artifacts."""

    export: bool = False
    y_dtype: str = ""  # f(x)'s dtype as generated code spells it
    y_spec: str = ""
    signature: str = ""  # the parameters of _f and the inner functions: "x: jax.Array, A: ..."
    params: str = ""  # the same, not annotated: "x, A"
    call_args: str = ""  # the user's function's arguments, in its signature's order
    specs: tuple[tuple[str, Spec], ...] = ()  # (ShapeDtypeStruct constant, spec) by argument
    inner: tuple[Inner, ...] = ()
    kernels: tuple[Kernel, ...] = ()
    over: str = ""  # as the outer of a foreign inner backend: its name ("sympy")
    source: str = ""  # then: the code of the inner's private functions, which the kernels call

    def kernel(self, function: str) -> Kernel:
        return next(k for k in self.kernels if k.function == function)


def spec_name(param: str) -> str:
    return f"_SPEC_{param}"


def bound(fn: str, params: str) -> str:
    """fn as a function of its first parameter alone: `lambda _z: fn(_z, A)`, or fn itself."""
    _, _, rest = params.partition(", ")
    return f"lambda _z: {fn}(_z, {rest})" if rest else fn


def steps(
    fn: FunctionPlan, mode: str, outer_mode: str, params: str, value: str = "_f"
) -> tuple[tuple[tuple[str, str], ...], str | None, str | None]:
    """One kernel's body: its assignments, the helper it calls, the inner function it needs;
    `value` is the function a second-order value variant takes the value from."""
    names = [r.name for r in fn.results]
    x, op = fn.params[0].name, fn.operator
    f = bound("_f", params)
    if fn.batch:  # the operator's own kernel, vectorized over the tangents: one pass
        axes, args = vmapped(fn)
        return ((f"_{op}", f"jax.vmap(_{op}_kernel, in_axes=({axes},))({args})"),), None, None
    if op == "value":  # a private inner value, for a foreign outer's value variants
        return (("_value", f"_f({params})"),), None, None
    if op in ("pushforward", "pullback"):
        tangent = "dx" if op == "pushforward" else "dy"
        call = f"_{op}_{mode}({f}, {x}, {tangent})"
        return ((result_targets(names, ("value", op)), call),), f"{op}_{mode}", None
    if op in ("derivative", "gradient", "jacobian"):
        return (
            ((result_targets(names, ("value", op)), f"_{op}_{mode}({f}, {x})"),),
            f"{op}_{mode}",
            None,
        )
    quantity = "derivative" if op == "second_derivative" else "gradient"
    inner = bound(f"_inner_{quantity}", params)
    if op == "hvp":
        helper = HVP[outer_mode]
        call = f"_{helper}({inner}, {x}, dx)"
        return ((result_targets(names, ("gradient", "hvp")), call),), helper, quantity
    helper = f"{'derivative' if op == 'second_derivative' else 'jacobian'}_{outer_mode}"
    body: tuple[tuple[str, str], ...] = (
        (("_value", f"{value}({params})"),) if "value" in names else ()
    )
    body += ((result_targets(names, (quantity, op)), f"_{helper}({inner}, {x})"),)
    return body, helper, quantity


@contextmanager
def stable_locations() -> Iterator[None]:
    """Source locations in exported MLIR without directories and call stacks, so that an
    artifact's bytes do not depend on where the project is checked out or who called diffgen."""
    import jax

    settings = {
        "jax_include_full_tracebacks_in_locations": False,
        "jax_hlo_source_file_canonicalization_regex": ".*/",
    }
    saved = {name: getattr(jax.config, name) for name in settings}
    update: Callable[[str, object], None] = jax.config.update
    try:
        for name, value in settings.items():
            update(name, value)
        yield
    finally:
        for name, value in saved.items():
            update(name, value)


def chunks(blob: bytes, width: int = 88) -> str:
    """A serialized artifact as a parenthesized base64 literal, `width` characters a line."""
    text = base64.b64encode(blob).decode("ascii")
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    return "(\n" + "\n".join(f'    "{line}"' for line in lines) + "\n)"


def traced_error(inspected: Inspected, kernel: str, error: Exception) -> DiffgenError:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return DiffgenError(
        f"jax cannot trace {inspected.target.function}",
        f"tracing {kernel} raised {type(error).__name__}: {first}",
        "write the function with jax.numpy or against the Array API (array_namespace; see the"
        ' README section "Authoring functions" and examples/jax_functions.py), without numpy calls'
        " or Python control flow on its arguments' values; or use --backend finitediff",
    )


#: Renders the kernels alone, for tracing and export here: the module's own text runs the same
#: `traced` macro, so the exported kernels are the ones an importing module compiles.
TRACED = """{%- import "jax.py.jinja" as backend -%}
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

{{ plan.source }}

{{ backend.traced(plan) }}


def _export(kernel: Callable[..., Any], *specs: Any) -> bytes:
    # Here, so that the source locations in the artifact are this code's and the user's only;
    # named after the kernel and the target, which the module checks at import.
    kernel.__name__ = kernel.__qualname__ = f"{kernel.__name__}_{TARGET}"
    return jax.export.export(jax.jit(kernel), platforms=PLATFORMS)(*specs).serialize()
"""


def target_digest(inspected: Inspected) -> str:
    """What binds --jax-export artifacts to their target: a digest of the target's definition
    and its function's source, in each artifact's name and in the module."""
    text = f"{inspected.target.canonical()}\n{inspected.source_digest}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def kernel_functions(plan: JaxPlan, inspected: Inspected) -> dict[str, Any]:
    """The kernels as functions: their source rendered and run with the user's function."""
    from ..templating import environment  # render imports plan, which imports the backends

    source = environment().from_string(TRACED).render(plan=plan)
    namespace: dict[str, Any] = {
        "_FUNCTION": inspected.function,
        "PLATFORMS": EXPORT_PLATFORMS,
        "TARGET": target_digest(inspected),
        "__name__": "diffgen_kernels",
    }
    exec(compile(source, "<diffgen jax kernels>", "exec"), namespace)  # our own template's code
    return namespace


def traced(plan: JaxPlan, inspected: Inspected) -> dict[str, str]:
    """Trace every kernel for its specs (a function jax cannot trace fails here, not at import);
    for --jax-export, also lower each for EXPORT_PLATFORMS and serialize it: base64 by kernel."""
    import jax
    import numpy as np

    functions = kernel_functions(plan, inspected)
    shapes = {
        name: jax.ShapeDtypeStruct(spec.shape, np.dtype(spec.dtype))  # type: ignore[no-untyped-call]
        for name, spec in plan.specs
    }
    blobs = {}
    with precise(), stable_locations():
        for k in plan.kernels:
            specs = [shapes[spec] for _, spec in k.params]
            try:
                if plan.export:
                    blobs[k.name] = chunks(functions["_export"](functions[k.name], *specs))
                else:
                    jax.eval_shape(functions[k.name], *specs)
            except Exception as error:  # whatever the user's code raised while traced
                raise traced_error(inspected, k.name, error) from error
    return blobs


class JaxBackend:
    """AD by jax in one mode; imports jax and, unless --jax-export, the user's function."""

    flavour = "jax"
    operators: tuple[str, ...] = (
        "pushforward", "pullback", "derivative", "gradient", "jacobian",
        "second_derivative", "hvp", "hessian",
    )  # fmt: skip

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.name = f"jax:{mode}"
        how = "JVPs (jax.jvp, jax.linearize)" if mode == "forward" else "VJPs (jax.vjp)"
        self.summary = f"jax in {mode} mode: {how}, each operator compiled once at import"

    def plan(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], outer: str
    ) -> BackendPlan:
        return self.planned(inspected, functions, outer)

    def plan_outer(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], inner: str, source: str
    ) -> BackendPlan:
        """The second-order kernels over a foreign inner's private functions (sympy's, printed
        as jax code), compiled at import like the others; the module is the inner's numpy one.
        (--jax-export is refused with a foreign inner by Target: only jax inners export.)"""
        second = tuple(f for f in functions if f.order == 2)
        return self.planned(inspected, second, self.name, over=inner, source=source)

    def planned(
        self,
        inspected: Inspected,
        functions: tuple[FunctionPlan, ...],
        outer: str,
        over: str = "",
        source: str = "",
    ) -> JaxPlan:
        """The plan of these functions' kernels; `over` a foreign inner, whose private functions
        (`source`) the second-order kernels differentiate instead of jax's own inner ones."""
        require("jax", self.name, "trace every kernel", "'diffgen[jax]' (jax==0.10.2)")
        x = functions[0].params[0]
        constants = tuple(p for p in functions[0].params[1:] if p.name not in ("dx", "dy"))
        params = ", ".join(p.name for p in (x, *constants))
        value = "_inner_value" if over else "_f"
        kernels, helpers, inner = [], set(), {}
        for fn in functions:
            body, helper, quantity = steps(fn, self.mode, outer.removeprefix("jax:"), params, value)
            helpers |= {helper} if helper else set()
            if quantity is not None and not over:
                call = f"_{quantity}_{self.mode}({bound('_f', params)}, {x.name})"
                inner[quantity] = Inner(f"_inner_{quantity}", quantity, self.name, call)
                helpers.add(f"{quantity}_{self.mode}")
            kernels.append(kernel(fn, body, over))
        args = {p.name: p for fn in functions for p in fn.params}
        export = inspected.target.option(JaxOptions).export
        if over:
            imports: tuple[str, ...] = ("import jax", "import jax.numpy as jnp")
        elif export:
            imports = ()
        else:
            imports = ("import jax.numpy as jnp", f"import {inspected.module} as _user_module")
        plan = JaxPlan(
            template="jax.py.jinja",
            stdlib=(("collections.abc", "Callable"), ("typing", "Any"))
            + ((("base64", "b64decode"),) if export else ()),
            imports=imports,
            constants=(),
            helpers=helper_closure(helpers, HELPERS),
            description=(
                over_description(self.name, over)
                if over
                else description(self.name, outer, bool(inner), export)
            ),
            error=AD_ERROR,
            checks_inside=not over,  # _call checks and dispatches the arguments
            export=export,
            y_dtype=f"np.{inspected.output.dtype}",
            y_spec=str(inspected.output),
            signature=", ".join(f"{p.name}: jax.Array" for p in (x, *constants)),
            params=params,
            call_args=", ".join(arg.name for arg in inspected.args),
            specs=tuple((spec_name(name), p.spec) for name, p in args.items()),
            inner=tuple(inner[q] for q in sorted(inner)),
            kernels=tuple(kernels),
            over=over,
            source=source,
        )
        blobs = traced(plan, inspected)
        digest = (("_TARGET", repr(target_digest(inspected)), TARGET_COMMENT),) if export else ()
        artifacts = tuple(
            (k.export_constant, blobs[k.name], f"{k.function}: a serialized jax.export artifact")
            for k in plan.kernels
            if export
        )
        calls = tuple(
            (
                k.kernel_constant,
                f'_exported({k.export_constant}, "{k.name}", ({k.spec_args},), {k.outs})',
                f"{k.function}: the artifact's call, checked against this target",
            )
            for k in plan.kernels
            if export
        )
        make = "_compiled" if over else "_operator"
        compiled = tuple(
            (
                k.constant,
                f"{make}({k.kernel_constant if export else k.name}, {k.spec_args})",
                f"{k.function}, compiled for its specs",
            )
            for k in plan.kernels
        )
        return replace(plan, constants=digest + artifacts + calls + compiled)


def kernel(fn: FunctionPlan, body: tuple[tuple[str, str], ...], over: str) -> Kernel:
    """The kernel of one operator function and its compiled constant."""
    return Kernel(
        function=fn.name,
        name=f"_{fn.name.lstrip('_')}_kernel",
        constant=f"_{fn.name.lstrip('_').upper()}",
        params=tuple((p.name, spec_name(p.name)) for p in fn.params),
        steps=body,
        returns=tuple((f"_{r.name}", r.dtype) for r in fn.results),
        annotation=annotation(len(fn.results), "jax.Array") if over else fn.returns,
        outs=literal(tuple(f"({r.shape}, {r.dtype})" for r in fn.results)),
    )


def literal(items: tuple[str, ...]) -> str:
    """A tuple literal of these expressions: "(a,)", "(a, b)"."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def description(backend: str, outer: str, second: bool, export: bool) -> str:
    """The paragraph of the module docstring on how the module computes and compiles."""
    order = f" and, for second order, {outer} over {backend}" if second else ""
    how = (
        f"Computed by {backend}{order}; each operator's kernel is compiled once at import for"
        " the specs, and never traced or compiled again."
    )
    if export:
        how += (
            " The kernels are embedded as serialized jax.export artifacts lowered for"
            f" {' and '.join(EXPORT_PLATFORMS)}: this module imports neither the user's module"
            " nor diffgen, only jax and numpy."
        )
    return how + " " + X64 + " " + COMPOSES[export] + " " + IMMUTABLE


#: The comment on the constant that binds --jax-export artifacts to their target.
TARGET_COMMENT = (
    "The target the artifacts were exported for: a digest of its definition and its function's"
    " source, also in each artifact's name"
)

#: Why jax modules take no `out=`.
IMMUTABLE = "jax arrays are immutable: no operator takes out=."


def over_description(outer: str, inner: str) -> str:
    """The paragraph of the module docstring on second order over a foreign inner."""
    return (
        f"Second order: {outer} over {inner}. The private _inner_* functions are the {inner}"
        f" derivatives printed as jax code; {outer} differentiates them in kernels traced,"
        " lowered and compiled once at import for the specs, in jax's x64 mode in that scope"
        " only (thread-local). Their results are returned as numpy arrays, like the"
        " first-order operators'."
    )


#: What every jax module's docstring says about float64.
X64 = (
    "Float64 results are float64 jax.Arrays whatever jax's x64 mode, which the module never"
    " changes (diffgen's README: jax, x64)."
)

#: What a module's docstring says about calls inside the caller's transformations.
COMPOSES = {
    False: "Tracers (the caller's jax.jit, vmap or grad) go to the kernel jitted, which composes.",
    True: (
        "Tracers (the caller's jax.jit) go to the artifact jitted, so it composes with jit;"
        " not with jax.vmap or jax.grad: a jax.export artifact has no batching rule and, as"
        " serialized here, no VJP."
    ),
}

BACKENDS = (JaxBackend("forward"), JaxBackend("reverse"))
