"""Generation-time work of the torch backends: run or trace, print and check every kernel.

Eager mode runs each kernel's torch.func composition once; graph mode traces, cleans and prints
it. Both explain what the user's code could not do. The printed graph of every kernel is run
here and must reproduce the traced graph bit for bit.
"""

from __future__ import annotations

import inspect
import traceback
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ...errors import DiffgenError
from ...operators import OPERATORS
from ..ad import rendered_kernels, sparse_names

if TYPE_CHECKING:
    import torch

    from ...model import Inspected
    from ...spec import Spec
    from .plan import TorchKernel, TorchPlan


def where(inspected: Inspected, error: Exception) -> str:
    """` at FILE, line N (`CODE`)` for the innermost frame of the user's function's file, if any."""
    try:
        source = inspect.getsourcefile(inspected.function)
    except TypeError:  # a builtin or C function
        source = None
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == source]
    if not frames:
        return ""
    frame = frames[-1]
    return f" at {Path(frame.filename).name}, line {frame.lineno} (`{frame.line}`)"


def traced_error(inspected: Inspected, kernel: str, error: Exception, eager: bool) -> DiffgenError:
    """The error for a function torch cannot trace (graph mode) or run under torch.func."""
    from torch._subclasses.fake_tensor import (
        DataDependentOutputException,
        DynamicOutputShapeException,
    )
    from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode

    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    said = f"{type(error).__name__}: {first}"
    at = where(inspected, error)
    data_dependent = (
        GuardOnDataDependentSymNode,
        DataDependentOutputException,
        DynamicOutputShapeException,
    )
    if isinstance(error, data_dependent):
        return DiffgenError(
            f"torch cannot trace {inspected.target.function} into a graph",
            f"tracing {kernel} on fake tensors, which have no values, failed{at}: the"
            " function branches on, or sizes an array by, the values of its arguments"
            f" (data-dependent control flow), which one traced graph cannot capture ({said})",
            'pass --torch-mode eager (torch_mode = "eager"): the module then imports the'
            " function and runs torch.func on every call; or write the branch with xp.where",
        )
    how = "running" if eager else "tracing"
    if "in-place" in said:
        return DiffgenError(
            f"torch cannot differentiate {inspected.target.function}, which writes into an"
            " argument",
            f"{how} {kernel} with torch.func raised {said}{at}: torch.func does not"
            " differentiate a function that changes its input or a constant in place",
            "compute a new array instead (`x = x * 2` rather than `x *= 2`); or use --backend"
            " finitediff, whose modules pass such a function copies of what it writes into",
        )
    return DiffgenError(
        f"torch cannot differentiate {inspected.target.function}",
        f"{how} {kernel} with torch.func raised {said}{at}",
        "write the function with torch or against the Array API (array_namespace; see"
        ' "Authoring functions" in the README), without numpy calls on its arguments;'
        " or use --backend finitediff",
    )


#: The template that renders the compositions alone, to trace (graph mode) or try (eager mode).
KERNELS = "torch_kernels.py.jinja"


@contextmanager
def quiet_torch() -> Iterator[None]:
    """torch 2.13 warns, from its own code, when forward-mode AD is first used in a process (it
    loads decompositions with the deprecated torch.jit.script): not a problem of the target."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`torch.jit.script", category=DeprecationWarning)
        yield


def examples(specs: dict[str, Spec], names: Sequence[str]) -> list[torch.Tensor]:
    """Seeded arguments, to trace a kernel and to check its printed graph on."""
    import numpy as np
    import torch

    from ...model import PROBE_SEED, draw

    rng = np.random.default_rng(PROBE_SEED)
    points = {name: torch.as_tensor(draw(spec, rng)) for name, spec in specs.items()}
    return [points[name] for name in names]


def results(returned: object) -> tuple[torch.Tensor, ...]:
    """What a kernel returned, as a tuple of tensors."""
    import torch

    found = tuple(returned) if isinstance(returned, tuple | list) else (returned,)
    return tuple(r for r in found if isinstance(r, torch.Tensor))


def same(found: object, expected: object) -> bool:
    """Whether two results, or tuples of results, are equal bit for bit (NaN equal to NaN)."""
    import torch

    found, expected = results(found), results(expected)
    return len(found) == len(expected) and all(
        a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.isnan(), b.isnan())
        and torch.equal(a.nan_to_num(), b.nan_to_num())
        for a, b in zip(found, expected, strict=True)
    )  # fmt: skip


def printed_function(
    kernel: TorchKernel,
    lines: Sequence[str],
    constants: Iterable[tuple[str, str, str]],
    known: Mapping[str, object] = MappingProxyType({}),
) -> Any:
    """A printed graph as a function, with its constants made from their literals (and the
    module's own `known` constants), as the module will define it."""
    import torch

    source = f"def kernel({kernel.args}):\n" + "".join(f"    {line}\n" for line in lines)
    namespace: dict[str, Any] = {"torch": torch, **known}
    namespace.update({name: eval(literal, {"torch": torch}) for name, literal, _ in constants})
    exec(compile(source, f"<diffgen graph of {kernel.function}>", "exec"), namespace)
    return namespace["kernel"]


def run_printed(
    kernel: TorchKernel,
    lines: Sequence[str],
    constants: Iterable[tuple[str, str, str]],
    arguments: Sequence[torch.Tensor],
    known: Mapping[str, object],
) -> object:
    """Run a printed graph as the module will."""
    return printed_function(kernel, lines, constants, known)(*arguments)


def printed_graphs(
    plan: TorchPlan, inspected: Inspected, specs: dict[str, Spec]
) -> tuple[TorchPlan, tuple[tuple[str, str, str], ...]]:
    """Trace, clean and print each kernel's graph, checking each printed graph by running it.

    The printed graph must give the traced graph's results bit for bit at the example point:
    cleaning only drops exact identities, and public torch calls run the same operations.
    Where the public calls differ, the graph is printed with torch.ops.aten calls instead.
    """

    from . import graph as torch_graph
    from . import printer

    given = sparse_names(plan)  # the sparse seeds and gathers, module constants
    functions = rendered_kernels(KERNELS, plan, inspected, given)
    try:
        if not plan.over:  # a foreign inner's printed code has no control flow
            torch_graph.check_traceable(functions["_f"], examples(specs, plan.params))
    except Exception as error:  # whatever the user's code raised on fake tensors
        raise traced_error(inspected, "the function", error, eager=False) from error
    traced = {}  # by operator: the trace of its kernel with the most results, the value variant
    for k in sorted(plan.kernels, key=lambda k: -len(k.results)):
        if k.operator not in traced:
            arguments = examples(specs, k.params)
            try:
                whole = torch_graph.trace(functions[k.name], arguments)
            except Exception as error:  # whatever the user's code raised while traced
                raise traced_error(inspected, k.name, error, eager=False) from error
            if torch_graph.mutating(whole.graph):  # cleaning assumes a functional graph
                raise DiffgenError(
                    f"the traced graph of {k.function} writes to tensors in place",
                    "functionalization left"
                    f" {', '.join(sorted(set(torch_graph.mutating(whole.graph))))} in it, and"
                    " diffgen prints only graphs without mutation",
                    "pass --torch-mode eager, and please report the function",
                )
            computed = results(whole(*arguments))
            cross_check(plan, inspected, functions, k, computed, arguments)
            traced[k.operator] = (whole, k.results, computed, arguments)
    known = {name: given[name] for name, _, _ in plan.sparse}
    constants = printer.Constants(known)  # type: ignore[arg-type]  # tensors, by our literals
    kernels = []
    for k in plan.kernels:
        whole, names, computed, arguments = traced[k.operator]
        indices = [names.index(name) for name in k.results]
        module = torch_graph.keep(whole, indices)
        expected = tuple(computed[i] for i in indices)
        torch_graph.clean(module.graph)
        printed = None
        for public in (True, False):
            try:
                candidate = printer.GraphPrinter(module, k.params, constants, public).print()
            except printer.CapturedTooLarge as error:
                raise DiffgenError(
                    f"{inspected.target.function} captures a {error}",
                    "captured tensors are written into the module as literals, up to"
                    f" {printer.MAX_CAPTURED:,} elements",
                    "pass the tensor to the function as an argument instead (a constant:"
                    " --arg NAME=SPEC), or use --torch-mode eager",
                ) from error
            try:
                found = run_printed(k, candidate.lines, constants, arguments, known)
            except Exception:  # a misprinted graph: the next candidate, or the error below
                continue
            if same(found, expected):
                printed = candidate
                break
        if printed is None:
            raise DiffgenError(
                f"the printed graph of {k.function} does not reproduce the traced graph",
                "diffgen's graph cleaning or printing changed a result; this is a bug in diffgen",
                "please report it with the function; meanwhile pass --torch-mode eager",
            )
        operations = f"{printed.calls} operation{'s' * (printed.calls != 1)}"
        summary = f"the aten graph traced from torch.func by diffgen ({operations})."
        kernels.append(replace(k, graph=printed.lines, summary=summary))
    return replace(plan, kernels=tuple(kernels)), tuple(constants)


def tried(plan: TorchPlan, inspected: Inspected, specs: dict[str, Spec]) -> None:
    """Run each composed kernel once (eager mode), so that what torch.func cannot do fails here,
    and check its second derivatives against reverse over reverse."""
    functions = rendered_kernels(KERNELS, plan, inspected, sparse_names(plan))
    for k in plan.kernels:
        arguments = examples(specs, k.params)
        try:
            computed = results(functions[k.name](*arguments))
        except Exception as error:  # whatever the user's code raised under torch.func
            raise traced_error(inspected, k.name, error, eager=True) from error
        cross_check(plan, inspected, functions, k, computed, arguments)


#: The second-order quantities cross-checked against reverse over reverse at generation time.
SECOND_ORDER = tuple(name for name, op in OPERATORS.items() if op.order == 2)


def reverse_over_reverse(
    f: Any, quantity: str, x: torch.Tensor, dx: torch.Tensor | None
) -> torch.Tensor:
    """quantity of f at x by torch.func's reverse mode twice: torch's double-backward rules."""
    import torch

    if quantity == "hessian":
        hessian: torch.Tensor = torch.func.jacrev(torch.func.grad(f))(x)
        return hessian.reshape(x.numel(), x.numel())
    if quantity == "hvp":  # the Hessian is symmetric: the VJP of the gradient along dx
        hvp: torch.Tensor = torch.func.vjp(torch.func.grad(f), x)[1](dx)[0]
        return hvp
    second: torch.Tensor = torch.func.jacrev(torch.func.jacrev(f))(x)  # 0-d x: like f(x)
    return second


def sparse_entries(
    plan: TorchPlan, k: TorchKernel, quantity: str, dense: torch.Tensor
) -> torch.Tensor:
    """A dense Hessian's entries as a sparse kernel computes them: the nonzeros in the
    pattern's order, or their lower triangle for `hessian_values`; else the Hessian itself."""
    import torch

    m = next((m for m in plan.matrices if m.quantity == quantity), None)
    if m is None:
        return dense
    flat = m.rows * m.shape[1] + m.cols
    if k.function.endswith("_values"):
        flat = flat[m.lower]
    return dense.reshape(-1)[torch.as_tensor(flat.copy())]


def cross_check(
    plan: TorchPlan,
    inspected: Inspected,
    functions: dict[str, Any],
    k: TorchKernel,
    computed: Sequence[torch.Tensor],
    arguments: Sequence[torch.Tensor],
) -> None:
    """Refuse a pair whose second derivatives differ from reverse over reverse at the example.

    Some of torch's forward-mode rules are right to first order but not differentiable again:
    in torch 2.13, differentiating the forward-mode derivative of `linalg.det` or
    `linalg.solve` (jacfwd inside jacfwd or jacrev) gives a wrong Hessian, silently. Reverse
    over reverse runs torch's double-backward rules, which torch checks with gradgradcheck, so
    it is the reference; a pair other than reverse over reverse is compared with it here.
    """
    import torch

    quantities = [q for q in k.results if q in SECOND_ORDER]
    pair = (plan.outer, plan.backend)
    batched = k.operator.endswith("_batch")  # a batch's kernel vmaps an operator's, checked alone
    if not quantities or batched or plan.over or pair == ("torch:reverse", "torch:reverse"):
        return
    values = dict(zip(k.params, arguments, strict=True))
    x, *constants = (values[p] for p in plan.params)
    function = functions["_f"]

    def f(z: torch.Tensor) -> torch.Tensor:
        value: torch.Tensor = function(z, *constants)
        return value

    for quantity in quantities:
        found = computed[k.results.index(quantity)]
        want = reverse_over_reverse(f, quantity, x, values.get("dx")).to(found.dtype)
        want = sparse_entries(plan, k, quantity, want)
        both_nan = found.isnan() & want.isnan()
        error = float((found - want).abs().masked_fill(both_nan, 0).max())
        scale = max(1.0, float(want.abs().nan_to_num(0.0, 0.0, 0.0).max()))
        if not error <= float(torch.finfo(found.dtype).eps) ** 0.5 * scale:
            raise DiffgenError(
                f"{plan.outer} over {plan.backend} computes a wrong {quantity} of"
                f" {inspected.target.function}",
                f"at the probe point its {quantity} differs from torch's reverse over reverse by"
                f" {error:.3g} (scale {scale:.3g}): some of torch's forward-mode rules are"
                " right to first order but not differentiable again (in torch 2.13"
                " linalg.det and linalg.solve), so a derivative taken in forward mode and"
                " differentiated once more comes out wrong",
                "use --backend torch:reverse (the inner gradient in reverse mode) with either"
                " outer, or another backend",
            )
