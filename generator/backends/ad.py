"""The AD mode algebra of the jax and torch backends, written once over each framework's spellings.

Each operator function of a module gets a kernel composed from a few AD helpers
(templates/ad.py.jinja) in the backend's mode, and for second order in the outer backend's mode
over the inner first derivative, as one composition:

- first order: pushforward is one JVP (forward) or the VJP of the VJP (reverse: the pullback is
  linear in its cotangent); pullback one VJP (reverse) or the VJP of the JVP in its tangent
  (forward: the transpose of a linear map); jacobian `jacfwd` or `jacrev`; derivative a JVP along
  1 (forward) or a one-column jacrev; gradient `grad` (reverse; jax spells it jacrev) or a
  one-row jacfwd.
- second order: the inner gradient (hvp, hessian) or derivative (second_derivative) is
  differentiated by the outer mode: hvp = its JVP along dx (forward outer) or its VJP along dx
  (reverse outer; the Hessian is symmetric); hessian = its jacfwd or jacrev; second_derivative
  = its derivative. Value variants take the lower derivatives from the same pass, as aux.

Every helper differentiates a function that returns its value and an aux, and returns the value,
the derivative and the aux. The frameworks differ only in how they spell the primitives
(`jax.jvp` or `torch.func.jvp`, ...): `Spelling`, one per framework, in `SPELLINGS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from ..model import BackendPlan
from ..operators import OPERATORS
from ..templating import environment

if TYPE_CHECKING:
    from ..model import FunctionPlan, Inspected, SparseMatrix


@dataclass(frozen=True)
class Spelling:
    """How one framework spells the AD primitives and array calls the helpers are made of."""

    framework: str  # "jax" or "torch"
    array: str  # the array type: "jax.Array"
    dtypes: str  # where generated code finds dtypes: "np" (jax's are numpy's) or "torch"
    to: str  # the method that casts to a dtype: "astype"
    as_array: str  # the call that makes f(x) an array of a dtype: "jnp.asarray"
    jvp: str
    vjp: str
    grad: str  # the gradient of a 0-d function, with has_aux
    jacfwd: str
    jacrev: str
    vmap: str
    axes: str  # vmap's keyword for the mapped axes: "in_axes"
    out_axes: str  # vmap's keyword for the axes of the results: "out_axes"
    ones_like: str
    zeros_like: str
    size: str  # an array's number of elements, after `.`: "size" or "numel()"
    constant: str  # the type of a module constant the kernels read: "npt.NDArray[Any]"
    #: --sparse: a color's 0/1 seeds from `_<prefix>_COLORS`, as a module constant's literal
    seeds: str
    gather_constant: str  # the gather the kernels index the products with: "_{prefix}_GATHER"
    gather: str  # the literal of that constant, "" where it is the module's own (jax: numpy)
    lower_constant: str  # where the lower triangle's entries are among a Hessian's nonzeros
    lower: str  # the literal of that constant, "" where it is the module's own
    value_doc: str  # the docstring of _f, with {spec}
    kernel_doc: str  # the docstring of a kernel, with {function}

    def dtype(self, dtype: str) -> str:
        """A dtype as generated code spells it: "np.float64", "torch.float32"."""
        return f"{self.dtypes}.{dtype}"

    def on(self, constant: str, x: str) -> str:
        """A module constant (a seed matrix, gather indices) where x is: jax closes over numpy
        constants in the traced kernel; a torch constant moves to x's device (a no-op there)."""
        return constant if self.framework == "jax" else f"{constant}.to({x}.device)"


SPELLINGS: Mapping[str, Spelling] = {
    "jax": Spelling(
        framework="jax",
        array="jax.Array",
        dtypes="np",
        to="astype",
        as_array="jnp.asarray",
        jvp="jax.jvp",
        vjp="jax.vjp",
        # jacrev, not jax.grad, for the gradient of a 0-d function: the same single VJP, but
        # vmapped over its one cotangent, as jax.hessian's inner jacrev is; differentiated again
        # by jacfwd, XLA then fuses it as it fuses jax.hessian (jax.grad's literal cotangent gave
        # the GMM Hessian 4x more batch-sized intermediates and ~1.1-1.6x jax.hessian's time)
        grad="jax.jacrev",
        jacfwd="jax.jacfwd",
        jacrev="jax.jacrev",
        vmap="jax.vmap",
        axes="in_axes",
        out_axes="out_axes",
        ones_like="jnp.ones_like",
        zeros_like="jnp.zeros_like",
        size="size",
        constant="npt.NDArray[Any] | jax.Array",
        seeds="np.broadcast_to(np.equal.outer(np.arange({ncolors}), _{prefix}_COLORS).astype("
        "{dtype}), ({ncolors}, {size}))",
        gather_constant="_{prefix}_GATHER",
        gather="",
        lower_constant="_{prefix}_LOWER",
        lower="",
        value_doc="The user's function at traced arguments, as a {spec} array.",
        kernel_doc="The kernel of {function}, traced and compiled once.",
    ),
    "torch": Spelling(
        framework="torch",
        array="torch.Tensor",
        dtypes="torch",
        to="to",
        as_array="torch.as_tensor",
        jvp="torch.func.jvp",
        vjp="torch.func.vjp",
        grad="torch.func.grad",
        jacfwd="torch.func.jacfwd",
        jacrev="torch.func.jacrev",
        vmap="torch.func.vmap",
        axes="in_dims",
        out_axes="out_dims",
        ones_like="torch.ones_like",
        zeros_like="torch.zeros_like",
        size="numel()",
        constant="torch.Tensor",
        seeds="torch.tensor(np.equal.outer(np.arange({ncolors}), _{prefix}_COLORS), dtype={dtype})",
        gather_constant="_{prefix}_TAKE",
        gather="torch.tensor(_{prefix}_GATHER, dtype=torch.int64)",
        lower_constant="_{prefix}_LOWER_TAKE",
        lower="torch.tensor(_{prefix}_LOWER, dtype=torch.int64)",
        value_doc="The user's function, as a {spec} tensor.",
        kernel_doc="{function}, composed with torch.func.",
    ),
}

#: The AD helpers (macros of templates/ad.py.jinja) in the order they are defined, each with
#: those it calls.
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
    "sparse_forward": (),
    "sparse_reverse": (),
}

#: The helpers that call typing's `cast`, and those that call the framework's array module
#: (`jnp.zeros_like`, ...): a module imports each only where one of its helpers calls it.
CASTS = frozenset(
    {
        "pushforward_forward",
        "pushforward_reverse",
        "pullback_forward",
        "pullback_reverse",
        "sparse_forward",
        "sparse_reverse",
    }
)
ARRAYS = frozenset({"pushforward_reverse", "pullback_forward", "derivative_forward"})

#: The helper that differentiates the inner gradient along dx to give an hvp, per outer mode:
#: a JVP of the gradient (forward), or its VJP (reverse), equal because the Hessian is symmetric.
HVP = {"forward": "pushforward_forward", "reverse": "pullback_reverse"}


@dataclass(frozen=True)
class Inner:
    """The inner first derivative of the second-order operators, as a function of its own."""

    name: str  # "_inner_gradient" or "_inner_derivative"
    quantity: str  # "gradient" or "derivative"
    backend: str  # the inner backend: "torch:reverse"
    call: str  # the inner mode's helper: "_gradient_reverse(lambda _z: (_f(_z, A), ()), x)"


@dataclass(frozen=True)
class Compressed:
    """How a sparse matrix operator's kernel evaluates: one product per color of the pattern's
    coloring, vmapped over a seed matrix, then one gather into the nonzeros in the pattern's
    order (`values = products.reshape(-1)[flat]`, coloring.py's flat_indices)."""

    mode: str  # "forward" (JVPs, or an outer's HVPs by JVP) or "reverse" (VJPs)
    seeds: str  # the module constant of the seed matrix: one row per color, (ncolors, n or m)
    flat: str  # the module constant of the gather indices into the stacked products

    @property
    def helper(self) -> str:
        return f"sparse_{self.mode}"

    def call(self, fn: str, x: str) -> str:
        return f"_{self.helper}({fn}, {x}, {self.seeds}, {self.flat})"


def compressed(fn: FunctionPlan, outer_mode: str, ad: Spelling) -> Compressed | None:
    """How the kernel of a function with a sparse matrix result computes it (None for one
    without): a Jacobian by the JVPs of a column coloring or the VJPs of a row coloring, a
    Hessian by the outer mode's products of the inner gradient. A `*_values` function of a
    Hessian gathers the lower triangle alone, in the order of HESSIAN_ROWS and HESSIAN_COLS."""
    m = next((r.sparse for r in fn.results if r.sparse is not None), None)
    if m is None:
        return None
    jacobian_mode = "forward" if m.mode == "column" else "reverse"
    mode = outer_mode if m.quantity == "hessian" else jacobian_mode
    flat = ad.gather_constant.format(prefix=m.prefix)
    if m.quantity == "hessian" and sparse_values(fn):
        flat = f"{flat}[{ad.lower_constant.format(prefix=m.prefix)}]"
    return Compressed(mode, f"_{m.prefix}_SEEDS", flat)


def sparse_values(fn: FunctionPlan) -> bool:
    """Whether fn is a `*_values` function of a sparse matrix (--sparse)."""
    return any(r.values for r in fn.results)


def sparse_constants(
    functions: Sequence[FunctionPlan], ad: Spelling, dtype: str
) -> tuple[tuple[str, str, str], ...]:
    """The seed matrices (and, for torch, the gathers as tensors) of the sparse matrices these
    functions compute, made at import from the module's `_<Q>_COLORS` and `_<Q>_GATHER`."""
    found: dict[str, tuple[str, str, str]] = {}
    for fn in functions:
        for r in fn.results:
            m = r.sparse
            if m is None or m.mode == "exact" or f"_{m.prefix}_SEEDS" in found:
                continue
            p, size = m.prefix, m.colors.size
            seeds = ad.seeds.format(prefix=p, ncolors=m.ncolors, size=size, dtype=dtype)
            found[f"_{p}_SEEDS"] = (
                f"_{p}_SEEDS",
                seeds,
                f"One 0/1 seed per color ({m.cost_text}), a row each",
            )
            if ad.gather:
                found[f"_{p}_TAKE"] = (
                    ad.gather_constant.format(prefix=p),
                    ad.gather.format(prefix=p),
                    "Where each nonzero is in the stacked products, as an index tensor",
                )
            if m.quantity == "hessian" and ad.lower:
                found[f"_{p}_LOWER_TAKE"] = (
                    ad.lower_constant.format(prefix=p),
                    ad.lower.format(prefix=p),
                    "Where each lower-triangle nonzero is among the nonzeros",
                )
    return tuple(found.values())


@dataclass(frozen=True)
class Kernel:
    """The kernel of one operator function: a composition of AD helpers."""

    function: str  # the public function: "value_and_gradient"
    operator: str  # what is traced: its operator ("gradient"), or a batch's own name
    results: tuple[str, ...]  # the quantities it returns: ("value", "gradient")
    name: str  # the kernel: "_value_and_gradient_kernel"
    params: tuple[str, ...]
    array: str  # the array type of its parameters
    annotation: str  # the kernel's (and the operator's) return annotation
    steps: tuple[tuple[str, str], ...]  # (assignment targets, expression) of the composition
    cast: str  # the composition's return expression: each result in its spec's dtype
    docstring: str

    @property
    def signature(self) -> str:
        return ", ".join(f"{name}: {self.array}" for name in self.params)

    @property
    def args(self) -> str:
        return ", ".join(self.params)

    @property
    def locals(self) -> str:
        """The locals a call's results go to: "_value, _gradient"."""
        return ", ".join(f"_{name}" for name in self.results)


K = TypeVar("K", bound=Kernel)


def extend(cls: type[K], kernel: Kernel, **extra: Any) -> K:
    """The kernel as a backend's own kernel type, with that backend's fields added."""
    return cls(**{f.name: getattr(kernel, f.name) for f in fields(Kernel)}, **extra)


@dataclass(frozen=True)
class ADPlan(BackendPlan):
    """The plan of a jax or torch module's kernels, which templates/ad.py.jinja composes."""

    ad: Spelling = SPELLINGS["jax"]
    backend: str = ""  # this backend, the inner one of second order: "torch:forward"
    outer: str = ""  # the outer backend of second order: "torch:reverse"
    y_spec: str = ""
    y_dtype: str = ""  # f(x)'s dtype as generated code spells it
    params: tuple[str, ...] = ()  # the parameters of _f and the inner functions: x, constants
    call_args: str = ""  # the user's function's arguments, in its signature's order
    inner: tuple[Inner, ...] = ()
    kernels: tuple[Kernel, ...] = ()
    over: str = ""  # as the outer of a foreign inner backend: its name ("sympy")
    source: str = ""  # then: the code of the inner's private functions, which the kernels call
    #: --sparse: the matrices the kernels compute sparsely, and the constants made for them
    #: (seeds, index tensors: name, literal, comment), which the kernels read
    matrices: tuple[SparseMatrix, ...] = ()
    sparse: tuple[tuple[str, str, str], ...] = ()

    @property
    def signature(self) -> str:
        """The parameters of _f and the inner functions: "x: torch.Tensor, A: torch.Tensor"."""
        return ", ".join(f"{name}: {self.ad.array}" for name in self.params)

    @property
    def value_doc(self) -> str:
        return self.ad.value_doc.format(spec=self.y_spec)


def result_targets(names: Sequence[str], computed: Sequence[str]) -> str:
    """`_value, _gradient, _`: the locals an AD helper's results go to, `_` for unused ones."""
    return ", ".join(f"_{q}" if q in names else "_" for q in computed)


def vmapped(fn: FunctionPlan) -> tuple[str, str]:
    """For `<op>_batch(x, tangents, *constants)`: the axes to map (the tangents' leading axis
    only: "None, 0, None") and the arguments ("x, dxs, A"), for jax.vmap or torch.func.vmap."""
    axes = ", ".join("0" if i == 1 else "None" for i in range(len(fn.params)))
    return axes, ", ".join(p.name for p in fn.params)


def annotation(count: int, array: str) -> str:
    """The return annotation of a kernel with `count` results of this array type."""
    return array if count == 1 else f"tuple[{', '.join([array] * count)}]"


def helper_closure(helpers: set[str]) -> tuple[str, ...]:
    """The helpers and those they call, in HELPERS' order of definition (callees first)."""
    needed = set(helpers)
    for name in reversed(HELPERS):
        if name in needed:
            needed.update(HELPERS[name])
    return tuple(name for name in HELPERS if name in needed)


#: The first-order operator that differentiates each inner quantity once more.
DIFFERENTIATED = {"derivative": "derivative", "gradient": "jacobian"}


def bound(fn: str, params: Sequence[str], aux: bool) -> str:
    """fn as a function of its first parameter alone (fn itself if it has no other); with aux,
    returning (fn(...), ()) as the AD helpers expect of the function they differentiate."""
    call = f"{fn}({', '.join(['_z', *params[1:]])})"
    if aux:
        return f"lambda _z: ({call}, ())"
    return f"lambda _z: {call}" if params[1:] else fn


def steps(
    fn: FunctionPlan,
    mode: str,
    outer_mode: str,
    params: Sequence[str],
    ad: Spelling,
    over: str,
    sparse: Compressed | None = None,
) -> tuple[tuple[str, str], str | None, str | None]:
    """A kernel's composition: its one assignment, the helper it calls, the inner it needs.

    Over a foreign inner (`over`), second order differentiates its private `_inner_*` functions,
    with the value as aux where the value variant returns it. A sparse matrix (`sparse`) is
    computed from its colored products: its nonzeros alone."""
    names = [r.name for r in fn.results]
    x, op = params[0], fn.operator
    f = bound("_f", params, aux=True)
    if fn.batch:  # the operator's own kernel, vectorized over the tangents: one pass
        axes, args = vmapped(fn)
        return (f"_{op}", f"{ad.vmap}(_{op}_kernel, {ad.axes}=({axes},))({args})"), None, None
    if op == "value":  # a private inner value, for a foreign outer's value variants
        return ("_value", f"_f({', '.join(params)})"), None, None
    row = OPERATORS[op]
    if sparse and row.order == 1:  # the colored JVPs or VJPs of f, gathered
        computed = ("value", "jacobian", "")
        return (result_targets(names, computed), sparse.call(f, x)), sparse.helper, None
    if row.order == 1:  # the helper of the operator itself: f, x and its tangent if any
        call = f"_{op}_{mode}({', '.join((f, x, *((row.tangent,) if row.tangent else ())))})"
        return (result_targets(names, ("value", op, "")), call), f"{op}_{mode}", None
    quantity = str(row.inner)  # what the inner computes: the gradient, or the derivative
    inner = bound(f"_inner_{quantity}", params, aux=False)
    if over:  # the foreign inner's functions return one result: pair it with the value (aux)
        args = ", ".join(["_z", *params[1:]])
        aux = f"_inner_value({args})" if "value" in names else "()"
        inner = f"lambda _z: (_inner_{quantity}({args}), {aux})"
    if row.tangent:  # hvp: the outer mode's product of the inner gradient along the tangent
        helper = HVP[outer_mode]
        call = f"_{helper}({inner}, {x}, {row.tangent})"
        return (result_targets(names, (quantity, op, "")), call), helper, quantity
    if sparse:  # the outer's colored HVPs of the inner gradient, gathered
        computed = (quantity, "hessian", "value")
        return (result_targets(names, computed), sparse.call(inner, x)), sparse.helper, quantity
    helper = f"{DIFFERENTIATED[quantity]}_{outer_mode}"
    computed = (quantity, op, "value")
    return (result_targets(names, computed), f"_{helper}({inner}, {x})"), helper, quantity


@dataclass(frozen=True)
class Composition:
    """What the algebra gives a backend: the kernels, the helpers they call, the inner ones."""

    kernels: tuple[Kernel, ...]
    helpers: tuple[str, ...]
    inner: tuple[Inner, ...]
    params: tuple[str, ...]

    @property
    def casts(self) -> bool:
        """Whether a helper calls `cast` (typing)."""
        return bool(CASTS.intersection(self.helpers))

    @property
    def arrays(self) -> bool:
        """Whether a helper calls the framework's array module (jnp or torch)."""
        return bool(ARRAYS.intersection(self.helpers))


def compose(
    functions: tuple[FunctionPlan, ...],
    backend: str,
    outer: str,
    ad: Spelling,
    over: str,
) -> Composition:
    """The kernels of these functions by `backend` ("jax:forward"), with `outer` the outer
    backend of second order; `over` a foreign inner, whose private `_inner_*` functions the
    second-order kernels differentiate instead of the backend's own inner ones. A function with
    a sparse matrix result computes its nonzeros from colored products (`compressed`)."""
    mode, outer_mode = backend.partition(":")[2], outer.partition(":")[2]
    x = functions[0].params[0]
    constants = tuple(p for p in functions[0].params[1:] if p.name not in ("dx", "dy"))
    params = tuple(p.name for p in (x, *constants))
    kernels, helpers, inner = [], set(), {}
    for fn in functions:
        sparse = compressed(fn, outer_mode, ad)
        step, helper, quantity = steps(fn, mode, outer_mode, params, ad, over, sparse)
        helpers |= {helper} if helper else set()
        if quantity is not None and not over:
            call = f"_{quantity}_{mode}({bound('_f', params, aux=True)}, {x.name})"
            inner[quantity] = Inner(f"_inner_{quantity}", quantity, backend, call)
            helpers.add(f"{quantity}_{mode}")
        kernels.append(
            Kernel(
                function=fn.name,
                # an operator is traced with its variant, a batch or `*_values` on its own
                operator=fn.name if fn.batch or sparse_values(fn) else fn.operator,
                results=tuple(r.name for r in fn.results),
                name=f"_{fn.name.lstrip('_')}_kernel",
                params=tuple(p.name for p in fn.params),
                array=ad.array,
                annotation=(
                    annotation(len(fn.results), ad.array) if over or sparse else fn.returns
                ),
                steps=(step,),
                cast=", ".join(f"_{r.name}.{ad.to}({ad.dtype(r.spec.dtype)})" for r in fn.results),
                docstring=ad.kernel_doc.format(function=fn.name),
            )
        )
    return Composition(
        kernels=tuple(kernels),
        helpers=helper_closure(helpers),
        inner=tuple(inner[q] for q in sorted(inner)),
        params=params,
    )


def matrices(functions: Sequence[FunctionPlan]) -> tuple[SparseMatrix, ...]:
    """The sparse matrices these functions return, each once."""
    found = {r.sparse.prefix: r.sparse for fn in functions for r in fn.results if r.sparse}
    return tuple(found.values())


def sparse_names(plan: ADPlan) -> dict[str, object]:
    """The sparse constants the kernels read, as values, to trace or run the kernels at
    generation time: the module's colors, gathers and lower triangle, then `constants` (the
    seeds, ...) evaluated from their literals as the module will at import."""
    import numpy as np

    names: dict[str, object] = {"np": np}
    for m in plan.matrices:
        names[f"_{m.prefix}_COLORS"] = m.colors.astype(np.int32)
        names[f"_{m.prefix}_GATHER"] = m.gather.astype(np.int32)
        names[f"_{m.prefix}_LOWER"] = m.lower.astype(np.int32)
    if plan.ad.framework == "torch" and plan.sparse:
        import torch

        names["torch"] = torch
    for name, literal, _ in plan.sparse:
        names[name] = eval(literal, names)  # our own literals, of our own constants
    return names


def rendered_kernels(
    template: str, plan: ADPlan, inspected: Inspected, names: Mapping[str, object]
) -> dict[str, Any]:
    """The kernels as functions: the template (which renders the composition alone) rendered
    from the plan and run with the user's function and `names`."""
    source = environment().get_template(template).render(plan=plan)
    namespace: dict[str, Any] = {"_FUNCTION": inspected.function, "__name__": "diffgen_kernels"}
    namespace.update(names)
    label = f"<diffgen {plan.ad.framework} kernels>"
    exec(compile(source, label, "exec"), namespace)  # our own templates' code
    return namespace


class ADBackend:
    """What the jax and torch backends share around their own `planned`: the name, the
    operators, and planning as the first-order backend or as a foreign outer."""

    flavour: str  # "jax" or "torch": also the family's name
    operators: tuple[str, ...] = tuple(OPERATORS)
    #: how each mode differentiates, for the summary `diffgen backends` prints
    how: Mapping[str, str]
    #: what the module does with the kernels, for the summary
    runs: str

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.name = f"{self.flavour}:{mode}"
        self.summary = f"{self.flavour} in {mode} mode: {self.how[mode]}, {self.runs}"

    def plan(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], outer: str
    ) -> BackendPlan:
        return self.planned(inspected, functions, outer)

    def plan_outer(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], inner: str, source: str
    ) -> BackendPlan:
        """The second-order kernels over a foreign inner's private functions (sympy's, printed
        in this framework's array library); the module is the inner's numpy one."""
        second = tuple(f for f in functions if f.order == 2)
        return self.planned(inspected, second, self.name, over=inner, source=source)

    def planned(
        self,
        inspected: Inspected,
        functions: tuple[FunctionPlan, ...],
        outer: str,
        over: str = "",
        source: str = "",
    ) -> BackendPlan:
        """The framework's plan of these functions, composed with `outer` (over a foreign
        inner `over` whose private functions' code is `source`)."""
        raise NotImplementedError
