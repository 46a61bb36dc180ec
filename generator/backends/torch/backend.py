"""The torch backends `torch:forward` (JVP-based) and `torch:reverse` (VJP-based).

Each operator function of a module gets a kernel composed by the AD algebra (backends/ad.py,
templates/ad.py.jinja) in torch.func's spellings. `--torch-mode graph` (the default) traces each
kernel here, forward, backward and double backward in one trace, with make_fx (after a trace of
the function alone on fake tensors has shown that it does not branch on its values), cleans the
aten graph and writes it into the module as plain Python (graph.py, trace.py): the module imports
torch and numpy only and runs no autograd. Each printed graph is run here against the traced
one, bit for bit. `--torch-mode eager` writes the kernels themselves: the module imports the
user's function and runs torch.func on every call. `--torch-compile` wraps the kernels in
`torch.compile`.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from ...errors import DiffgenError
from ..ad import SPELLINGS, ADBackend, compose, extend, matrices, sparse_constants
from ..base import AD_ERROR, require
from ..torch_options import TorchOptions
from .aoti import SUFFIX, digest, packaged, require_compiler
from .plan import TorchKernel, TorchPlan
from .trace import printed_graphs, quiet_torch, tried

if TYPE_CHECKING:
    from ...model import FunctionPlan, Inspected


#: Names the generated code uses, which a parameter must not shadow (besides _-prefixed ones).
RESERVED = frozenset({"torch", "np", "npt"})


class TorchBackend(ADBackend):
    """AD by torch.func in one mode; the module runs the traced graphs, or torch.func itself."""

    flavour = "torch"
    how = MappingProxyType(
        {"forward": "JVPs (torch.func.jvp, jacfwd)", "reverse": "VJPs (vjp, grad, jacrev)"}
    )
    runs = "traced to aten graphs at generation time"

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
        target = inspected.target
        how = "trace (or, in eager mode, run) torch.func"
        require("torch", self.name, how, "'diffgen[torch]' (torch==2.13.0)")
        options = target.option(TorchOptions)  # the options of the torch backends
        eager, compiled, aoti = options.mode == "eager", options.compile, options.mode == "aoti"
        if aoti:
            require_compiler(target.function)
        ad = SPELLINGS["torch"]
        composed = compose(functions, self.name, outer, ad, over)
        clash = [name for name in composed.params if name in RESERVED or name.startswith("_")]
        if clash:
            raise DiffgenError(
                f"parameter {clash[0]!r} of {target.function} clashes with the generated code",
                "torch modules use the names torch, np and npt, and names starting with _ for"
                " their temporaries and helpers",
                f"rename {clash[0]!r} in {target.function}",
            )
        specs = {p.name: p.spec for fn in functions for p in fn.params}
        kernels = tuple(
            extend(
                TorchKernel,
                k,
                call=(
                    ("_aoti1" if len(k.results) == 1 else "_aoti")
                    if aoti
                    else f"_{k.function.lstrip('_').upper()}" if compiled else k.name
                ),
                arguments=", ".join(
                    (f"{model_constant(k.function)}, {k.name}",) * aoti
                    + tuple(f"torch.tensor({n})" if over else n for n in k.params)
                ),
            )
            for k in composed.kernels
        )
        if over:
            how = over_description(self.name, over, eager)
        else:
            how = description(self.name, outer, bool(composed.inner), eager, compiled, aoti)
        seeds = sparse_constants(functions, ad, ad.dtype(inspected.active.spec.dtype))
        plan = TorchPlan(
            template="torch.py.jinja",
            stdlib=(
                (("collections.abc", "Callable"), ("typing", "Any"))
                + ((("typing", "cast"),) if composed.casts else ())
                if eager
                else AOTI_STDLIB if aoti else ()
            ),
            imports=(
                ("import torch",) * bool(over)
                + (f"import {inspected.module} as _user_module",) * (eager and not over)
                + ("from torch._C._aoti import AOTIModelPackageLoader as _Loader",) * aoti
            ),
            constants=(),
            helpers=composed.helpers,
            description=how,
            error=AD_ERROR,
            results_ready=not over,  # over a numpy module's inner: numpy arrays on return
            gathers_values=True,  # a Hessian's lower triangle is gathered in the kernel
            calls_private=eager,
            ad=ad,
            backend=self.name,
            outer=outer,
            y_spec=str(inspected.output),
            y_dtype=ad.dtype(inspected.output.dtype),
            params=composed.params,
            call_args=", ".join(arg.name for arg in inspected.args),
            inner=composed.inner,
            kernels=kernels,
            over=over,
            source=source,
            eager=eager,
            aoti=aoti,
            matrices=matrices(functions),
            sparse=seeds,
        )
        tensors: tuple[tuple[str, str, str], ...] = ()
        with quiet_torch():
            if eager:
                tried(plan, inspected, specs)
            else:
                plan, tensors = printed_graphs(plan, inspected, specs)
        wrapped = tuple(
            (k.call, f"torch.compile({k.name}, fullgraph={not eager}, dynamic=False)",
             f"{k.function}, compiled by torch.compile on its first call for each device")
            for k in plan.kernels
            if compiled
        )  # fmt: skip
        structures = () if over else csr_structures(functions)
        if not aoti:
            return replace(plan, constants=seeds + structures + tensors + wrapped)
        with quiet_torch():
            package = packaged(plan, tensors, specs, target.function)
        loads = (
            ("_PACKAGE", f'_package("{digest(package)}")', PACKAGE_COMMENT),
            *(
                (model_constant(k.function), f'_model(_PACKAGE, "{k.name}")',
                 f"{k.function}: its AOTInductor model, loaded from the package")
                for k in plan.kernels
            ),
        )  # fmt: skip
        return replace(
            plan, constants=seeds + structures + tensors + loads, artifacts=((SUFFIX, package),)
        )


def csr_structures(functions: tuple[FunctionPlan, ...]) -> tuple[tuple[str, str, str], ...]:
    """The CSR row pointers and column indices of each sparse matrix result, int64 tensors
    made once at import and shared by every result (on the CPU; moved to x's device)."""
    found: dict[str, tuple[tuple[str, str, str], ...]] = {}
    for fn in functions:
        for r in fn.results:
            m = r.sparse
            if m is not None and not r.values:
                p = m.prefix
                found[p] = (
                    (f"_{p}_CROW", f"torch.tensor(_{p}_INDPTR, dtype=torch.int64)",
                     f"The {m.quantity}'s CSR row pointers, as the sparse results' crow_indices"),
                    (f"_{p}_COL", f"torch.tensor({m.indices}, dtype=torch.int64)",
                     f"The column of each {m.quantity} nonzero: the sparse results' col_indices"),
                )  # fmt: skip
    return tuple(c for pair in found.values() for c in pair)


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


def description(
    backend: str, outer: str, second: bool, eager: bool, compiled: bool, aoti: bool = False
) -> str:
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
    if aoti:
        import torch

        how += AOTI.format(version=torch.__version__.split("+")[0])
    if compiled:
        how += " Each kernel is wrapped in torch.compile, which compiles on its first call."
    return (
        how + " Arguments may be torch tensors, numpy arrays (shared with torch.as_tensor) or,"
        " for 0-d specs, Python floats; results are always torch tensors. " + THREADS
    )


def model_constant(function: str) -> str:
    """The module constant of an operator's AOTInductor model: `_VALUE_AND_GRADIENT_MODEL`."""
    return f"_{function.lstrip('_').upper()}_MODEL"


#: The standard-library names the helpers of an --torch-mode aoti module use.
AOTI_STDLIB = (
    ("collections.abc", "Callable"),
    ("hashlib", "sha256"),
    ("pathlib", "Path"),
    ("typing", "TypeVar"),
    ("typing", "cast"),
)

#: The comment on the package constant; `diffgen check` reads the digest from the call below it.
PACKAGE_COMMENT = "The AOTInductor package beside this module (.pt2), checked against its SHA-256"

#: The paragraph of the module docstring on --torch-mode aoti.
AOTI = (
    " Each graph was also compiled ahead of time by AOTInductor (torch.export, then C++ built"
    " with -march=native for the generating machine's CPU) into one model of the package beside"
    " this module (its name, .pt2), which is loaded at import and runs every call on CPU"
    " tensors: nothing is compiled at run time. The package needs torch {version} on a CPU of"
    " the same kind; importing the module fails if the package is missing or is not the one"
    " it was written with. Tensors on another device run the graphs below. The compiled"
    " loops run on one thread; the torch operations they call (matrix products) use torch's"
    " intra-op threads."
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
