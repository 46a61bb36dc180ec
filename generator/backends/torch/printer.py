"""Print a cleaned aten graph as a typed Python function body, captured tensors as constants.

See graph.py for what printing names and writes, and why.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.fx import GraphModule, Node

from .calls import public_call
from .graph import DEFAULTS, recorded


def attribute(module: torch.nn.Module, dotted: str) -> object:
    value: object = module
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def literal(value: object) -> str:
    """A number (or None, or a string) as Python source; infinities and NaN too."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    return repr(value)


#: Captured tensors are written into the module as literals up to this many elements.
MAX_CAPTURED = 10_000


class CapturedTooLarge(ValueError):
    """A captured tensor too large to write into the module as a literal."""


class Constants:
    """The captured tensors of every graph of a module, each once, named in order of appearance;
    `known` tensors are the module's own constants (--sparse seeds and gathers), used by name."""

    def __init__(self, known: Mapping[str, torch.Tensor] | None = None) -> None:
        self.named: dict[tuple[str, tuple[int, ...], str], str] = {}
        self.known = dict(known or {})

    def add(self, tensor: torch.Tensor) -> str:
        for name, constant in self.known.items():
            if (
                tensor.shape == constant.shape
                and tensor.dtype == constant.dtype
                and torch.equal(tensor.detach().cpu(), constant)
            ):
                return name
        if tensor.numel() > MAX_CAPTURED:
            raise CapturedTooLarge(f"{tensor.dtype} tensor of shape {tuple(tensor.shape)}")
        tensor = tensor.detach().cpu()
        values = "[" + ", ".join(literal(v) for v in tensor.reshape(-1).tolist()) + "]"
        key = (str(tensor.dtype), tuple(tensor.shape), values)
        return self.named.setdefault(key, f"_TENSOR{len(self.named)}")

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        """(name, Python literal, comment) of each constant."""
        for (dtype, shape, values), name in self.named.items():
            literal = f"torch.tensor({values}, dtype={dtype})"
            if len(shape) != 1:
                literal += f".reshape({shape!r})"
            spec = f"{dtype.removeprefix('torch.')}[{','.join(map(str, shape))}]"
            yield name, literal, f"a tensor the function captured ({spec}), created on the CPU"


@dataclass(frozen=True)
class Printed:
    """A graph as the statements of a function body."""

    lines: tuple[str, ...]
    calls: int  # operations called


class GraphPrinter:
    """Prints one cleaned graph as statements over the kernel's parameters."""

    def __init__(
        self, module: GraphModule, params: Sequence[str], constants: Constants, public: bool
    ) -> None:
        self.module = module
        self.public = public
        self.params = params
        self.constants = constants
        self.names: dict[Node, str] = {}
        self.counts: dict[str, int] = {}
        self.uses_device = False

    def fresh(self, base: str) -> str:
        base = base.strip("_") or "t"
        count = self.counts.get(base, 0)
        self.counts[base] = count + 1
        return f"_{base}{count}"

    def arg(self, value: object) -> str:
        """An argument of a call as Python source."""
        if isinstance(value, Node):
            return self.names[value]
        if isinstance(value, list):
            return "[" + ", ".join(self.arg(v) for v in value) + "]"
        if isinstance(value, tuple):
            inner = ", ".join(self.arg(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if value is None or isinstance(value, bool | int | float | str):
            return literal(value)
        if isinstance(value, torch.device):
            self.uses_device = True
            return "_device"
        if isinstance(value, torch.dtype | torch.layout | torch.memory_format):
            return str(value)  # "torch.float64", "torch.strided", "torch.preserve_format"
        raise TypeError(f"cannot print the argument {value!r} of type {type(value).__name__}")

    def call(self, node: Node) -> str:
        """The expression of a call_function node."""
        target = node.target
        if target is operator.getitem:
            return f"{self.arg(node.args[0])}[{self.arg(node.args[1])}]"
        if not isinstance(target, torch._ops.OpOverload):
            raise TypeError(f"cannot print a call of {target!r}")
        args = [self.arg(a) for a in node.args]
        kwargs = {k: self.arg(v) for k, v in node.kwargs.items() if DEFAULTS.get(k) is not v}
        first = recorded(node.args[0]) if node.args else None
        ndim = first.ndim if first is not None else -1
        public = public_call(target, node.args, args, kwargs, ndim) if self.public else None
        if public is not None:
            return public
        listed = [*args, *(f"{k}={v}" for k, v in kwargs.items())]
        name = f"torch.ops.{target.namespace}.{target._opname}.{target._overloadname}"
        return f"{name}({', '.join(listed)})"

    def print(self) -> Printed:
        lines: list[str] = []
        calls = 0
        placeholders = iter(self.params)
        output = next(n for n in self.module.graph.nodes if n.op == "output")
        results = output.args[0] if isinstance(output.args[0], list | tuple) else [output.args[0]]
        for node in self.module.graph.nodes:
            if node.op == "placeholder":
                self.names[node] = next(placeholders)
            elif node.op == "get_attr":
                tensor = attribute(self.module, str(node.target))
                assert isinstance(tensor, torch.Tensor)
                self.names[node] = self.fresh("tensor")
                self.uses_device = True
                lines.append(f"{self.names[node]} = {self.constants.add(tensor)}.to(_device)")
            elif node.op == "call_function":
                expression = self.call(node)
                calls += 1
                base = node.target.__name__ if node.target is operator.getitem else None
                self.names[node] = self.fresh(base or str(node.target._opname))
                typed = ": torch.Tensor" if node in results else ""
                lines.append(f"{self.names[node]}{typed} = {expression}")
        returned = ", ".join(self.arg(r) for r in results)
        lines.append(f"return {returned}")
        if self.uses_device:
            lines.insert(0, f"_device = {self.params[0]}.device")
        return Printed(tuple(lines), calls)
