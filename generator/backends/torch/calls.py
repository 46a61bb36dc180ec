"""Print an aten operation as a call of the public torch API that runs the same operation.

`torch.ops.aten.mul.Tensor(a, b)` goes through the boxed dispatcher and costs about twice what
`torch.mul(a, b)` costs on small tensors (2.2 vs 1.2 µs here); a graph of a few dozen operations
spends most of its time in such call overhead. Two kinds of translation are used:

- an operation `aten.NAME.OVERLOAD` whose public `torch.NAME` is the binding that torch generates
  from the same native function schemas (it is `torch._C._VariableFunctions.NAME`) takes the same
  arguments in the same order and dispatches to the same kernel: `torch.NAME(*args, **kwargs)`;
- a few views that exist only as methods or indexing: `a.view(shape)`, `a.expand(shape)`,
  `a.new_zeros(...)`, and `a[:, 1:]` for `aten.slice` and `a[:, 2]` for `aten.select`.

Whether a translation computes the same values is not left to this table alone: diffgen runs
every printed graph at generation time and falls back to `torch.ops.aten` calls for a graph
whose public version differs from the traced graph in a single bit (trace.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

_VARIABLE_FUNCTIONS = torch._C._VariableFunctions
_MAX_INDEX = 2**63 - 1  # aten's "to the end" for slice ends


def _listed(args: Sequence[str], kwargs: dict[str, str]) -> str:
    return ", ".join([*args, *(f"{k}={v}" for k, v in kwargs.items())])


def _method(name: str) -> Callable[[Sequence[object], list[str], dict[str, str], int], str]:
    """`a.name(rest...)` for an operation whose first argument is the tensor."""

    def call(raw: Sequence[object], args: list[str], kwargs: dict[str, str], ndim: int) -> str:
        return f"{args[0]}.{name}({_listed(args[1:], kwargs)})"

    return call


def _dim(raw: object, ndim: int) -> int | None:
    return raw + ndim if isinstance(raw, int) and raw < 0 else raw if isinstance(raw, int) else None


def _slice(raw: Sequence[object], args: list[str], kwargs: dict[str, str], ndim: int) -> str | None:
    """`a[:, start:end:step]` for aten.slice.Tensor(a, dim, start, end, step)."""
    given, defaults = list(raw[1:]), [0, None, None, 1]
    dim_, start, end, step = given + defaults[len(given) :]
    dim = _dim(dim_, ndim)
    if kwargs or dim is None or not all(v is None or type(v) is int for v in (start, end, step)):
        return None
    text = (
        ("" if start in (None, 0) else str(start))
        + ":"
        + ("" if end in (None, _MAX_INDEX) else str(end))
        + ("" if step in (None, 1) else f":{step}")
    )
    return f"{args[0]}[{':, ' * dim}{text}]"


def _select(
    raw: Sequence[object], args: list[str], kwargs: dict[str, str], ndim: int
) -> str | None:
    """`a[:, index]` for aten.select.int(a, dim, index)."""
    dim = _dim(raw[1], ndim)
    if kwargs or dim is None or type(raw[2]) is not int:
        return None
    return f"{args[0]}[{':, ' * dim}{raw[2]}]"


_Call = Callable[[Sequence[object], list[str], dict[str, str], int], str | None]

SPECIAL: dict[str, _Call] = {
    "aten.view.default": _method("view"),
    "aten.expand.default": _method("expand"),
    "aten.new_zeros.default": _method("new_zeros"),
    "aten.new_ones.default": _method("new_ones"),
    "aten.new_full.default": _method("new_full"),
    "aten.new_empty.default": _method("new_empty"),
    "aten.slice.Tensor": _slice,
    "aten.select.int": _select,
}


def public_call(
    target: torch._ops.OpOverload,
    raw: Sequence[object],
    args: list[str],
    kwargs: dict[str, str],
    ndim: int,
) -> str | None:
    """The public torch call of the operation, or None where there is none known to be equal.

    raw are the node's arguments, args and kwargs the same printed; ndim is the number of
    dimensions of the first argument (for indexing), or -1 if it is not a tensor.
    """
    special = SPECIAL.get(str(target))
    if special is not None:
        return special(raw, args, kwargs, ndim) if ndim >= 0 else None
    name = target._opname
    if target.namespace != "aten" or name.startswith("_"):
        return None
    builtin = getattr(_VARIABLE_FUNCTIONS, name, None)
    if builtin is None or getattr(torch, name, None) is not builtin:
        return None
    return f"torch.{name}({_listed(args, kwargs)})"
