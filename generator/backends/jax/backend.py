"""The jax backends `jax:forward` (JVP-based) and `jax:reverse` (VJP-based).

Each operator function of a module gets a kernel composed by the AD algebra (backends/ad.py,
templates/ad.py.jinja) in jax's spellings. The module compiles each kernel once, on the
operator's first call (`jax.jit(kernel).lower(*specs).compile()`, under a lock), with jax's x64
mode on in that scope only: importing a module traces and compiles nothing. With
`--jax-export` the kernels are traced here instead, exported (`jax.export`, lowered for cpu and
cuda) and embedded as serialized artifacts, so that the module imports neither the user's module
nor diffgen (export.py). jax itself is imported only when a jax target is generated.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..ad import SPELLINGS, ADBackend, Kernel, compose, extend, matrices, sparse_constants
from ..base import AD_ERROR, require
from ..jax_options import JaxOptions
from .export import EXPORT_PLATFORMS, target_digest, traced
from .plan import JaxKernel, JaxPlan, spec_name

if TYPE_CHECKING:
    from ...model import FunctionPlan, Inspected


class JaxBackend(ADBackend):
    """AD by jax in one mode; imports jax and, unless --jax-export, the user's function."""

    flavour = "jax"
    how = MappingProxyType(
        {"forward": "JVPs (jax.jvp, jacfwd)", "reverse": "VJPs (jax.vjp, grad, jacrev)"}
    )
    runs = "each operator compiled once, on its first call"

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
        export = inspected.target.option(JaxOptions).export  # the one option of the jax backends
        ad = SPELLINGS["jax"]
        composed = compose(functions, self.name, outer, ad, over)
        args = {p.name: p for fn in functions for p in fn.params}
        if over:  # jax.numpy for the helpers only: _f is the inner's
            imports: tuple[str, ...] = ("import jax",) + ("import jax.numpy as jnp",) * bool(
                composed.arrays
            )
        elif export:
            imports = ()
        else:
            imports = ("import jax.numpy as jnp", f"import {inspected.module} as _user_module")
        seeds = sparse_constants(functions, ad, ad.dtype(inspected.active.spec.dtype))
        plan = JaxPlan(
            template="jax.py.jinja",
            stdlib=(("collections.abc", "Callable"), ("threading", "Lock"), ("typing", "Any"))
            + ((("operator", "attrgetter"),) if not over else ())
            + ((("base64", "b64decode"),) if export else ())
            + ((("typing", "cast"),) if composed.casts and not export else ()),
            imports=imports,
            constants=(),
            helpers=composed.helpers,
            description=(
                over_description(self.name, over)
                if over
                else description(self.name, outer, bool(composed.inner), export)
            ),
            error=AD_ERROR,
            checks_inside=not over,  # _call checks and dispatches the arguments
            gathers_values=True,  # a Hessian's lower triangle is gathered in the kernel
            ad=ad,
            backend=self.name,
            outer=outer,
            y_spec=str(inspected.output),
            y_dtype=ad.dtype(inspected.output.dtype),
            params=composed.params,
            call_args=", ".join(arg.name for arg in inspected.args),
            inner=composed.inner,
            kernels=tuple(kernel(k, fn) for k, fn in zip(composed.kernels, functions, strict=True)),
            over=over,
            source=source,
            export=export,
            specs=tuple((spec_name(name), p.spec) for name, p in args.items()),
            matrices=matrices(functions),
            sparse=seeds,
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
                f"{k.function}, compiled for its specs on its first call",
            )
            for k in plan.kernels
        )
        structures = () if over else bcoo_structures(functions)
        constants = seeds + structures + digest + artifacts + calls + compiled
        return replace(plan, constants=constants)


def bcoo_structures(functions: tuple[FunctionPlan, ...]) -> tuple[tuple[str, str, str], ...]:
    """The (nnz, 2) BCOO indices of each sparse matrix result, a jax array made once at import
    and shared by every result: (row, column) of each nonzero, in the pattern's (CSR) order."""
    found = {}
    for fn in functions:
        for r in fn.results:
            m = r.sparse
            if m is not None and not r.values:
                found[m.prefix] = (
                    f"_{m.prefix}_BCOO",
                    f"_coordinates({m.indices}, _{m.prefix}_INDPTR)",
                    f"The (row, column) of each {m.quantity} nonzero: the BCOO results' indices",
                )
    return tuple(found.values())


def kernel(composed: Kernel, fn: FunctionPlan) -> JaxKernel:
    """The kernel of one operator function and its compiled constant."""
    return extend(
        JaxKernel,
        composed,
        constant=f"_{fn.name.lstrip('_').upper()}",
        outs=literal(tuple(f"({r.shape}, {r.dtype})" for r in fn.results)),
    )


def literal(items: tuple[str, ...]) -> str:
    """A tuple literal of these expressions: "(a,)", "(a, b)"."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def description(backend: str, outer: str, second: bool, export: bool) -> str:
    """The paragraph of the module docstring on how the module computes and compiles."""
    order = f" and, for second order, {outer} over {backend}" if second else ""
    how = (
        f"Computed by {backend}{order}; each operator's kernel is compiled once for the specs,"
        " on the operator's first call (under a lock: threads calling together compile it"
        " once), and never traced or compiled again; importing the module compiles nothing."
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
        " lowered and compiled once for the specs on each operator's first call, in jax's x64"
        " mode in that scope only (thread-local). Their results are returned as numpy arrays,"
        " like the first-order operators'."
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
