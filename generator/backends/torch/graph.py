"""Trace a composed torch.func kernel with make_fx, clean its aten graph, and print it as Python.

The function is first traced alone on fake tensors, which have no values, so that Python
control flow on the values of its arguments fails here, at generation time, instead of silently
baking one branch into the graph; the kernels are then traced at seeded example points. Each
kernel is functionalized, so the graph has no in-place operation and no output or constant is
ever written to; cleaning relies on that:

- `ones_like(a)` and the like become `ones(shape)`: AD seeds its cotangents with
  `ones_like(f(x))`, and f(x) then need not be computed where only derivatives are returned;
- jacfwd's and jacrev's basis, four operations on a matrix of zeros, becomes `eye(n)`;
- pass-throughs (alias, detach, clone, lift_fresh_copy) and identities (a view, reshape or
  expand to the same shape, a cast to the same dtype, x ** 1, x * 1, x / 1, multiplication by
  a tensor of ones, the one piece of a split, one slice of a broadcast) are replaced by their
  argument, only where the result has the argument's shape, dtype and strides, so the values
  are bit for bit the same and every later view still applies;
- common subexpressions are merged (deterministic operations only) and dead code is removed.

Printing (printer.py) names temporaries after their operation in graph order (`_mul3`), so
the text depends on nothing but the graph; writes each device argument of a factory call as
the device of the first argument (`_device`); turns captured tensors into module constants,
moved to that device where they are used; and calls operations through the public torch API
where it computes exactly the same operation (calls.py), else as `torch.ops.aten`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.fx import Graph, GraphModule, Node
from torch.fx.experimental.proxy_tensor import make_fx
from torch.fx.node import Argument

aten = torch.ops.aten

#: Operations whose result equals their first argument in a graph without mutation or autograd.
PASS_THROUGH = frozenset(
    {aten.alias.default, aten.detach.default, aten.clone.default, aten.lift_fresh_copy.default}
)
#: Shape operations: an identity when the result has the argument's shape.
RESHAPES = frozenset(
    {aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.expand.default}
)
#: Keyword arguments of `_to_copy` under which a cast to the same dtype changes nothing.
CAST_KWARGS = frozenset({"dtype", "layout", "device", "pin_memory", "non_blocking"})
#: Keyword arguments that say what leaving them out says, wherever they occur.
DEFAULTS: dict[str, object] = {"layout": torch.strided, "pin_memory": False}
SPLITS = frozenset({aten.split_with_sizes.default})
MULTIPLIES = frozenset({aten.mul.Tensor, aten.mul.Scalar})
DIVIDES = frozenset({aten.div.Tensor, aten.div.Scalar})
#: Operations that make a tensor of ones (with their fill value's position, if any).
ONES = frozenset({aten.ones.default, aten.ones_like.default, aten.new_ones.default})
FULL = frozenset({aten.full.default, aten.full_like.default, aten.new_full.default})
#: Factories that take only the shape, dtype and device of a tensor argument (AD seeds its
#: cotangents with `ones_like(f(x))`), and the factory that takes them as values instead: the
#: argument, often f(x) itself, then need not be computed where only derivatives are wanted.
FACTORIES = {
    aten.ones_like.default: (aten.ones.default, 0),
    aten.zeros_like.default: (aten.zeros.default, 0),
    aten.empty_like.default: (aten.empty.memory_format, 0),
    aten.full_like.default: (aten.full.default, 1),
    aten.new_ones.default: (aten.ones.default, 0),
    aten.new_zeros.default: (aten.zeros.default, 0),
    aten.new_empty.default: (aten.empty.memory_format, 0),
    aten.new_full.default: (aten.full.default, 1),
}


def check_traceable(function: Callable[..., Any], examples: Sequence[torch.Tensor]) -> None:
    """Trace the function alone on fake tensors, which have no values: Python control flow on
    the values of its arguments raises here instead of being baked into a graph."""
    make_fx(function, tracing_mode="fake")(*examples)


def trace(kernel: Callable[..., Any], examples: Sequence[torch.Tensor]) -> GraphModule:
    """The kernel's aten graph, functionalized, traced at the examples.

    Traced on real tensors: torch 2.13's fake tensors fail inside nested forward-mode
    transforms (jacfwd of jacfwd, or jacrev of jacfwd, of a division by a Python float) and
    leave torch's transform state broken behind them. Real values are safe to trace once
    `check_traceable` has shown that the function does not branch on them.
    """
    functional = torch.func.functionalize(kernel, remove="mutations")
    graph: GraphModule = make_fx(functional, tracing_mode="real")(*examples)
    if mutating(graph.graph):
        graph = refunctionalized(graph, examples)
    return graph


def refunctionalized(graph: GraphModule, examples: Sequence[torch.Tensor]) -> GraphModule:
    """The graph traced once more under functionalization, now with no transform around it.

    `torch.func.functionalize` is one more layer of torch.func's transform stack, and in-place
    operations that another layer's own rules call can reach the tracer past it: jacfwd of
    `x @ x` runs dot's forward-mode rule under vmap, whose batching rule calls `matmul`, which
    decomposes into `unsqueeze(0).mm(...).squeeze_(0)`, and `squeeze_` is recorded as it is.
    The recorded graph is plain aten with the same values, so functionalizing it on its own
    replaces each in-place operation by its functional form (squeeze_ by squeeze, add_ by add,
    copy_ by a copy into a fresh tensor) exactly as functionalization of the kernel would have.
    """
    functional = torch.func.functionalize(graph, remove="mutations")
    again: GraphModule = make_fx(functional, tracing_mode="real")(*examples)
    return again


def keep(module: GraphModule, indices: Sequence[int]) -> GraphModule:
    """A copy of a traced kernel that returns only its results at indices, the rest pruned: a
    plain operator is its value variant's graph without the variant's other results."""
    graph = Graph()
    results = graph.graph_copy(module.graph, {})
    results = results if isinstance(results, list | tuple) else (results,)
    graph.output(tuple(results[i] for i in indices))
    graph.eliminate_dead_code()
    return GraphModule(module, graph)


def mutating(graph: Graph) -> list[str]:
    """The operations of the graph that write to one of their arguments (none, once functional)."""
    return [
        str(node.target)
        for node in graph.nodes
        if node.op == "call_function"
        and isinstance(node.target, torch._ops.OpOverload)
        and node.target._schema.is_mutable
    ]


def clean(graph: Graph) -> None:
    """Drop identities, merge common subexpressions and remove dead code, until nothing changes."""
    _detach_factories(graph)
    _identity_matrices(graph)
    graph.eliminate_dead_code()
    while _drop_identities(graph) | _merge_common(graph):
        graph.eliminate_dead_code()


def _detach_factories(graph: Graph) -> None:
    """Write `ones_like(a)` as `ones(shape, dtype=..., device=...)`, and so on (see FACTORIES)."""
    for node in list(graph.nodes):
        result = recorded(node)
        if node.op != "call_function" or node.target not in FACTORIES or result is None:
            continue
        factory, fills = FACTORIES[node.target]
        fill = tuple(node.args[-fills:]) if fills else ()  # full_like(a, v), new_full(a, size, v)
        kwargs: dict[str, Argument] = {"dtype": result.dtype, "device": result.device}
        with graph.inserting_before(node):
            made = graph.call_function(factory, (list(result.shape), *fill), kwargs)
        made.meta = dict(node.meta)
        node.replace_all_uses_with(made)
        graph.erase_node(node)


def recorded(node: object) -> torch.Tensor | None:
    """The fake tensor make_fx recorded for a node's result, if it is one tensor."""
    value = node.meta.get("val") if isinstance(node, Node) else None
    return value if isinstance(value, torch.Tensor) else None


def _same(node: Node, source: object) -> bool:
    """Whether node's result has source's shape, dtype and strides (source a node of the graph).

    Strides too: a later `view` of the result may work only for the layout the result had,
    which a dropped clone or cast would change.
    """
    result, argument = recorded(node), recorded(source)
    return (
        result is not None
        and argument is not None
        and result.shape == argument.shape
        and result.dtype == argument.dtype
        and result.stride() == argument.stride()
    )


def _number(arg: object) -> float | None:
    """arg if it is a Python int or float (not a bool), else None."""
    return float(arg) if isinstance(arg, int | float) and not isinstance(arg, bool) else None


def _is_one(arg: object) -> bool:
    """Whether arg is the number 1 or a node whose every element is 1."""
    if _number(arg) is not None:
        return _number(arg) == 1
    if not isinstance(arg, Node) or arg.op != "call_function":
        return False
    target, args = arg.target, arg.args
    if target in ONES:
        return True
    if target in FULL:
        return _is_one(args[-1])  # full(size, 1), full_like(a, 1), new_full(a, size, 1)
    if target is aten.pow.Tensor_Scalar:
        return _number(args[1]) == 0
    if target in RESHAPES or target in PASS_THROUGH:
        return _is_one(args[0])
    if target in MULTIPLIES:
        return _is_one(args[0]) and _is_one(args[1])
    return False


def identity_source(node: Node) -> Node | None:
    """The node whose values node's result repeats exactly, or None."""
    target, args, kwargs = node.target, node.args, node.kwargs
    first = args[0] if args else None
    if not isinstance(first, Node) or first.target is aten._efficientzerotensor.default:
        return None  # forward AD's zero tensors compute differently; a copy makes them plain
    if target in PASS_THROUGH and set(kwargs) <= {"memory_format"}:
        return first if _same(node, first) else None
    if target in RESHAPES and _same(node, first):
        return first
    if target is aten._to_copy.default and set(kwargs) <= CAST_KWARGS and _same(node, first):
        return first
    if target in MULTIPLIES:
        other = args[1]
        if _is_one(other) and _same(node, first):
            return first
        if isinstance(other, Node) and _is_one(first) and _same(node, other):
            return other
    if target in DIVIDES and _is_one(args[1]) and _same(node, first):
        return first
    if target is aten.pow.Tensor_Scalar and _number(args[1]) == 1:
        return first if _same(node, first) else None
    if target is aten.select.int and first.target is aten.expand.default:
        return _selected_from_broadcast(node, first)
    if target is operator.getitem and first.target in SPLITS:
        whole, sizes = first.args[0], first.args[1]
        one_piece = isinstance(sizes, list | tuple) and len(sizes) == 1
        return whole if one_piece and isinstance(whole, Node) and _same(node, whole) else None
    return None


def _selected_from_broadcast(node: Node, expanded: Node) -> Node | None:
    """t, for `select(expand(t, (n, *t.shape)), 0, i)`: vmap returns its unbatched aux outputs
    broadcast along the batch, and one slice of that is t itself."""
    source, whole = expanded.args[0], recorded(expanded)
    original = recorded(source)
    if not isinstance(source, Node) or whole is None or original is None:
        return None
    lead = whole.ndim - original.ndim
    dim = node.args[1]
    return (
        source
        if isinstance(dim, int)
        and 0 <= dim < lead
        and tuple(whole.shape[lead:]) == tuple(original.shape)
        and _same(node, source)
        else None
    )


def _identity_matrices(graph: Graph) -> None:
    """Write the basis that jacfwd and jacrev build, `diagonal_scatter(Z, fill(diagonal(Z), 1))`
    with Z an n x n matrix of zeros, as `eye(n)`: one operation instead of four."""
    for node in list(graph.nodes):
        result = recorded(node)
        if (
            node.target is not aten.diagonal_scatter.default
            or len(node.args) != 2
            or result is None
        ):
            continue
        zeros, filled = node.args
        if not (
            isinstance(zeros, Node)
            and zeros.target is aten.zeros.default
            and isinstance(filled, Node)
            and filled.target is aten.fill.Scalar
            and filled.args[1] == 1
            and isinstance(filled.args[0], Node)
            and filled.args[0].target is aten.diagonal.default
            and filled.args[0].args == (zeros,)
            and result.ndim == 2
            and result.shape[0] == result.shape[1]
        ):
            continue
        with graph.inserting_before(node):
            eye = graph.call_function(
                aten.eye.default,
                (result.shape[0],),
                {"dtype": result.dtype, "device": result.device},
            )
        eye.meta = dict(node.meta)
        node.replace_all_uses_with(eye)
        graph.erase_node(node)


def _drop_identities(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op == "call_function":
            source = identity_source(node)
            if source is not None:
                node.replace_all_uses_with(source)
                graph.erase_node(node)
                changed = True
    return changed


def _key(arg: object) -> object:
    """A hashable key of an argument that tells 1 from 1.0 and True, and -0.0 from 0.0."""
    if isinstance(arg, Node):
        return arg
    if isinstance(arg, list | tuple):
        return (type(arg).__name__, tuple(_key(a) for a in arg))
    if isinstance(arg, bool | int | float):
        return (type(arg).__name__, repr(arg))
    if isinstance(arg, dict):
        return tuple(sorted((k, _key(v)) for k, v in arg.items()))
    return (type(arg).__name__, repr(arg))


def _deterministic(target: object) -> bool:
    tags = getattr(target, "tags", ())
    return torch.Tag.nondeterministic_seeded not in tags


def _merge_common(graph: Graph) -> bool:
    seen: dict[object, Node] = {}
    changed = False
    for node in list(graph.nodes):
        if node.op != "call_function" or not _deterministic(node.target):
            continue
        key = (node.target, _key(node.args), _key(dict(node.kwargs)))
        if key in seen:
            node.replace_all_uses_with(seen[key])
            graph.erase_node(node)
            changed = True
        else:
            seen[key] = node
    return changed
