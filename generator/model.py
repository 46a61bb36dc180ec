"""The vocabulary every stage shares: the inspected function, names, and the frozen plans."""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import DiffgenError
from .flavour import Flavour
from .imports import import_block
from .operators import OPERATORS, QUANTITIES, TANGENT_PARAMETERS
from .spec import Spec
from .target import DEFAULT_DOMAIN, Target

#: The seed of the points diffgen draws at generation time (the probe, references, steps).
PROBE_SEED = 20_240_917


@dataclass(frozen=True)
class Arg:
    """One parameter the generated operators take: the active argument or a constant."""

    name: str
    spec: Spec
    active: bool


@dataclass(frozen=True)
class Inspected:
    """Everything later stages need to know about the user's function."""

    target: Target
    module: str
    qualname: str
    args: tuple[Arg, ...]
    output: Spec
    function: Callable[..., object] = field(compare=False, repr=False)
    #: A digest of the function's own source and what it uses in its module (fingerprint.py).
    source_digest: str = ""
    #: The project root the function was imported from (relative paths of options start there).
    root: Path = field(default=Path("."), compare=False, repr=False)

    @property
    def active(self) -> Arg:
        return next(arg for arg in self.args if arg.active)

    @property
    def constants(self) -> tuple[Arg, ...]:
        return tuple(arg for arg in self.args if not arg.active)

    @property
    def domain(self) -> tuple[float, float]:
        """The interval the probe and the generated tests draw the arguments from."""
        return self.target.points_domain


def draw(
    spec: Spec, rng: np.random.Generator, domain: tuple[float, float] = DEFAULT_DOMAIN
) -> np.ndarray:
    """A point of the given spec, uniform in domain (by default target.DEFAULT_DOMAIN)."""
    return np.asarray(rng.uniform(*domain, size=spec.shape), dtype=spec.dtype)


#: Placeholder stems: the first that no argument name and no part of the target contains.
STEMS = ("dgarg", "dgparam", "diffgenarg", "diffgen_user_argument")


def fresh(name: str, taken: Iterable[str]) -> str:
    """`name_`, `name__`, ...: the first spelling not taken (readable, and never a keyword)."""
    used = set(taken)
    candidate = name + "_"
    while candidate in used or keyword.iskeyword(candidate):
        candidate += "_"
    return candidate


@dataclass(frozen=True)
class Names:
    """The user's argument names, their placeholders, and the public parameters of the
    generator that an argument's name displaced (`dx` -> `dx_`, `out` -> `out_`)."""

    function: str  # the target's reference, for messages
    users: tuple[str, ...]  # the argument names in signature order
    placeholders: tuple[str, ...]  # one per argument, none a substring of another or of text
    preferred: tuple[tuple[str, str], ...] = ()  # (generator's public name, its new spelling)

    @staticmethod
    def of(function: str, users: Sequence[str], text: str = "") -> Names:
        """Placeholders `dgarg0_`, `dgarg1_`, ... from a stem no argument or `text` contains."""
        haystack = "\n".join((*users, function, text))
        stem = next((s for s in STEMS if s not in haystack), None)
        if stem is None:  # an argument spelled like every stem: refuse rather than guess
            raise DiffgenError(
                f"the argument names of {function} contain diffgen's placeholders",
                f"diffgen renames arguments to {', '.join(STEMS)}... while it generates code",
                "rename the argument",
            )
        return Names(function, tuple(users), tuple(f"{stem}{i}_" for i in range(len(users))))

    def with_public(self, names: Iterable[str]) -> Names:
        """These parameter names of the public operators (tangents, `out=`), each moved out of
        the way of an argument that has its name."""
        wanted = tuple(dict.fromkeys(names))
        taken = {*self.users, *wanted}
        preferred = []
        for name in wanted:
            if name in self.users:
                new = fresh(name, taken)
                taken.add(new)
                preferred.append((name, new))
        return replace(self, preferred=tuple(preferred))

    def mask(self, inspected: Inspected) -> Inspected:
        """The inspected target with each argument under its placeholder."""
        renamed = {u: p for u, p in zip(self.users, self.placeholders, strict=True)}
        args = tuple(replace(arg, name=renamed[arg.name]) for arg in inspected.args)
        return replace(inspected, args=args)

    def unmask(self, text: str) -> str:
        """Text of the masked plan with the user's names back in place."""
        for placeholder, user in zip(self.placeholders, self.users, strict=True):
            text = text.replace(placeholder, user)
        return text

    def public(self, name: str) -> str:
        """The name a caller sees for a parameter spelled `name` in the masked plan."""
        return dict(self.preferred).get(name, self.unmask(name))

    def error(self, error: DiffgenError) -> DiffgenError:
        """A backend's error about the masked plan, in the user's names."""
        return DiffgenError(self.unmask(error.what), self.unmask(error.why), self.unmask(error.fix))


@dataclass(frozen=True)
class Pair:
    """Who computes what (compose.py decides): the inner backend, which writes the first-order
    operators, and the outer, which differentiates the inner's first derivative."""

    inner: str
    outer: str  # the inner itself for first-order modules and self-composed pairs
    #: None where the inner backend composes the pair itself (one family: jax over jax); else
    #: the array library of the inner's private `_inner_*` functions the foreign outer calls
    foreign: str | None = None


@dataclass(frozen=True)
class ErrorModel:
    """How far a module's results may be from exact: the generated tests' tolerances.

    atol = factor * eps**exponents[order] * max(1, |f(x)|, |reference|), with eps the unit
    roundoff of the coarser of x's and f(x)'s dtypes and order 0 (the value), 1 or 2.
    """

    factor: float
    exponents: tuple[float, float, float]
    why: str  # one sentence for the generated tests' docstring
    variants_exact: bool  # value variants compute bit-identical results to the plain operators

    def atol(self, order: int, eps: float, scale: float) -> float:
        """The bound for a result of this order (0: the value) of this scale, before the
        reference's own error: factor * eps**p * scale."""
        bound: float = self.factor * eps ** self.exponents[order] * scale
        return bound


@dataclass(frozen=True)
class BackendPlan:
    """What a backend adds to the module plan: its template and the constants it prepared."""

    template: str
    stdlib: tuple[tuple[str, str], ...]  # (module, name) of standard-library names its code uses
    imports: tuple[str, ...]  # other import lines beyond the flavour's
    constants: tuple[tuple[str, str, str], ...]  # (name, Python literal, comment)
    helpers: tuple[str, ...]  # names of the template's helper macros this module needs
    description: str  # one paragraph for the module docstring
    error: ErrorModel
    results_ready: bool = False  # the body leaves each result in its final type, dtype and shape
    checks_inside: bool = False  # the body checks the public arguments itself (jax's _call)
    calls_private: bool = True  # as a foreign outer: its code calls the inner's private functions
    #: the body leaves each `*_values` result (--sparse) already in the order of the ROWS/COLS
    #: constants (jax and torch gather the Hessian's lower triangle in their kernels)
    gathers_values: bool = False
    #: (suffix, content) of each file written beside the module, which the module loads at
    #: import (torch's AOTInductor package: `.pt2`); its SHA-256 is in the module's constants
    artifacts: tuple[tuple[str, bytes], ...] = ()


Ints = np.ndarray[tuple[int], np.dtype[np.int64]]


@dataclass(frozen=True, eq=False)
class SparseMatrix:
    """A sparse Jacobian or Hessian of a module: its pattern, fixed at generation time, and how
    the backend evaluates its values (generator/sparse/plan.py builds it).

    The values of the matrix are a flat array of `nnz` entries in the pattern's order, which is
    CSR order: (values, cols, indptr) is the scipy.sparse.csr_array with no reordering. A
    colored evaluation stacks its products color by color (ncolors x m JVPs, ncolors x n VJPs
    or HVPs) and gathers `values = products.reshape(-1)[gather]`; `seeds` are the columns to
    push (or rows to pull) forward, one per color. `exact` backends (sympy) write each value.
    """

    quantity: str  # "jacobian" or "hessian"
    shape: tuple[int, int]
    rows: Ints  # the pattern's coordinates, in CSR order
    cols: Ints
    indptr: Ints
    source: str  # "symbolic" (traced expressions), "jaxpr" (asdex) or "user" (a .npz file)
    mode: str  # "exact", "column" (JVPs), "row" (VJPs) or "symmetric" (HVPs, star coloring)
    ncolors: int  # 0 for exact
    colors: Ints  # the color of each column (column, symmetric) or row (row); -1: in no seed
    gather: Ints  # values = products.reshape(-1)[gather]; a Hessian's mirrored: exactly symmetric
    lower: Ints  # a Hessian's lower-triangle entries, as positions in the values (else empty)
    pattern_text: str  # "1000 x 1000, 2998 nonzeros (0.3% dense)"
    cost_text: str  # "star coloring, 3 HVPs instead of 1000"

    @property
    def nnz(self) -> int:
        return int(self.rows.size)

    @property
    def prefix(self) -> str:
        """`JACOBIAN` or `HESSIAN`: the stem of the module constants of this matrix."""
        return self.quantity.upper()

    @property
    def coordinates(self) -> tuple[str, str]:
        """The public constants of the coordinates of `<quantity>_values`: JACOBIAN_ROWS and
        JACOBIAN_COLS, or HESSIAN_ROWS and HESSIAN_COLS (the lower triangle: IPOPT's)."""
        return f"{self.prefix}_ROWS", f"{self.prefix}_COLS"

    @property
    def indices(self) -> str:
        """The constant of the CSR column indices (JACOBIAN_COLS is the Jacobian's own)."""
        return f"{self.prefix}_COLS" if self.quantity == "jacobian" else "_HESSIAN_INDICES"

    @property
    def values_size(self) -> int:
        """The length of `<quantity>_values`: nnz, or the Hessian's lower triangle."""
        return self.nnz if self.quantity == "jacobian" else int(self.lower.size)


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
    #: A sparse Jacobian or Hessian result: the body leaves its values (nnz, the pattern's
    #: order) in `_<name>`; the module returns the flavour's sparse matrix, or with `values`
    #: (`jacobian_values`, `hessian_values`) the values in the order of the ROWS/COLS constants.
    sparse: SparseMatrix | None = None
    values: bool = False

    @property
    def local(self) -> str:
        """What the body left this result in: `_jacobian`; for `hessian_values` the lower
        triangle of the Hessian's values, `_hessian[_HESSIAN_LOWER]`."""
        lower = self.values and self.sparse is not None and self.sparse.quantity == "hessian"
        return f"_{self.name}[_HESSIAN_LOWER]" if lower else f"_{self.name}"

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
    #: The public signature as positions in `params`: the function's own argument order, the
    #: tangent right after the active argument (plan.public_order); () keeps `params`' order.
    positions: tuple[int, ...] = ()

    @property
    def signature(self) -> tuple[ArrayPlan, ...]:
        """The parameters in the order callers pass them (`params` is the backends' order)."""
        return tuple(self.params[i] for i in self.positions) if self.positions else self.params

    @property
    def tangent(self) -> str:
        """The name of the tangent (or batch of tangents) parameter, "" for none."""
        op = OPERATORS.get(self.operator)
        return self.params[1].name if op is not None and op.tangent else ""

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
    #: The sparse Jacobian and Hessian (--sparse), each once; () for a dense module.
    sparse: tuple[SparseMatrix, ...] = ()
    #: Their module constants (name, Python literal, comment): structure, coordinates, colors
    sparse_constants: tuple[tuple[str, str, str], ...] = ()

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
    def import_block(self) -> tuple[str, ...]:
        """The module's sorted import lines: the template's, the flavour's and the backends'."""
        views = self.views
        return import_block(
            (
                *self.flavour.imports,
                *(self.flavour.sparse_imports if self.sparse else ()),
                *(i for view in views for i in view.backend_plan.imports),
            ),
            (
                *TEMPLATE_STDLIB,
                *self.flavour.stdlib,
                *(n for v in views for n in v.backend_plan.stdlib),
            ),
            self.function_module.partition(".")[0],
        )

    @property
    def argument_specs(self) -> tuple[ArrayPlan, ...]:
        """Each parameter of the public operators once, in order: one `_SPEC_<name>` each."""
        params = {p.name: p for f in self.functions for p in f.params}
        return tuple(params.values())

    @property
    def writes_out(self) -> bool:
        """Whether any operator takes `out=`: the flavour's `_into` helper is needed."""
        return any(f.out_params for f in self.functions)

    @property
    def all_names(self) -> tuple[str, ...]:
        """The operators, then the public constants of the sparse matrices' coordinates."""
        coordinates = tuple(name for m in self.sparse for name in m.coordinates)
        return tuple(f.name for f in self.functions) + coordinates

    @property
    def constant_args(self) -> str:
        """`, A, b`: what follows x in a call of the user's function."""
        return "".join(f", {c.name}" for c in self.constants)
