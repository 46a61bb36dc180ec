"""Print symbolic results as straight-line Python: shared temporaries, then result arrays.

Common subexpressions are eliminated across everything one generated function returns, so a
value variant shares its work with the plain operator. Expressions are evaluated on Python floats
with `math`: measured here, that beats numpy's per-call overhead on scalar code at every size we
tried (see the README's sympy section), so there is no size threshold at which numpy takes over.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy
from sympy.printing.numpy import JaxPrinter
from sympy.printing.pycode import PythonCodePrinter

from .derivatives import Row

Expr = Any

#: A result is assembled from its nonzeros alone when fewer than this share of it is nonzero.
SPARSE_BELOW = 0.5


#: Functions whose `math` version raises OverflowError past float64's range where numpy returns
#: inf: the math dialect calls the module's helper `_<name>` instead (templates/sympy.py.jinja).
OVERFLOWING = ("exp", "cosh", "sinh")


class MathPrinter(PythonCodePrinter):  # type: ignore[misc]  # sympy is untyped
    """sympy's Python printer, with floats printed exactly (repr) rather than to 15 digits, and
    exp, cosh and sinh through helpers that return inf on overflow, as numpy does."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})

    def _print_Float(self, expr: Expr) -> str:
        return repr(float(expr))

    def _print_exp(self, expr: Expr) -> str:
        return f"_exp({self._print(expr.args[0])})"

    def _print_cosh(self, expr: Expr) -> str:
        return f"_cosh({self._print(expr.args[0])})"

    def _print_sinh(self, expr: Expr) -> str:
        return f"_sinh({self._print(expr.args[0])})"


class JaxCodePrinter(JaxPrinter):  # type: ignore[misc]
    """sympy's jax.numpy printer, with floats printed exactly."""

    _print_Float = MathPrinter._print_Float


def torch_printer() -> Any:
    """sympy's torch printer, with floats printed exactly.

    Built on first use: `sympy.printing.pytorch` imports torch (seconds), which a module of the
    math or jax dialect never needs.
    """
    from sympy.printing.pytorch import TorchPrinter

    class TorchCodePrinter(TorchPrinter):  # type: ignore[misc]
        _print_Float = MathPrinter._print_Float

    return TorchCodePrinter()


@dataclass(frozen=True)
class Dialect:
    """How statements are printed for one array library.

    `math` evaluates on Python floats (the sympy backend's own modules); `jax` and `torch` print
    the same expressions over 0-d arrays, so that an inner sympy derivative can be differentiated
    again by a jax or torch outer backend.
    """

    name: str
    printer: Callable[[], Any]
    unpack: str  # how an argument becomes its elements: {targets}, {name}
    stack: str  # how entries become a flat array: {items}, {dtype}
    number: str  # how a constant entry is printed: {value}, {like}


DIALECTS = {
    "math": Dialect(
        "math", MathPrinter, "{targets} = {name}.reshape(-1).tolist()",
        "np.array([{items}], dtype={dtype})", "{value}",
    ),
    "jax": Dialect(
        "jax", JaxCodePrinter, "{targets} = {name}.reshape(-1)",
        "jax.numpy.stack([{items}]).astype({dtype})", "{value}",
    ),
    # torch.stack takes tensors only: constants become 0-d tensors of the argument's dtype and
    # device (full_like traces to one aten op)
    "torch": Dialect(
        "torch", torch_printer, "{targets} = {name}.reshape(-1)",
        "torch.stack([{items}]).to({dtype})", "torch.full_like({like}, {value})",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Result:
    """One quantity a function returns: a flat list of entries, or sparse rows of a matrix."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # e.g. "np.float64"
    scalar: bool
    entries: tuple[Expr, ...] | None = None
    rows: tuple[Row, ...] | None = None

    def nonzeros(self) -> tuple[tuple[int, Expr], ...]:
        """(flat index, entry) of every entry that is not identically zero, in C order."""
        if self.rows is not None:
            width = self.size // max(len(self.rows), 1)
            return tuple(
                (i * width + j, v) for i, row in enumerate(self.rows) for j, v in row.items()
            )
        assert self.entries is not None
        return tuple((k, v) for k, v in enumerate(self.entries) if v != 0)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Emitted:
    """The statements of one function body, and module-level constants they refer to."""

    lines: tuple[str, ...]
    constants: tuple[tuple[str, str, str], ...]  # (name, Python literal, comment)
    uses_math: bool
    helpers: tuple[str, ...] = ()  # the overflow helpers (OVERFLOWING) the lines call


def emit(
    results: Sequence[Result], dialect: str = "math", like: str = "", batch: int = 0
) -> Emitted:
    """Statements computing each result into `_<name>`, with shared temporaries `_t0, _t1, ...`.

    Each result is left in its final form: a scalar of its dtype, or an array of its shape.

    `like` names an element of the arguments whose dtype and device torch's constants take.
    With `batch`, the tangent's elements are columns of B values (numpy arrays): the entries,
    linear in the tangent, evaluate for the whole batch at once and `_batched` stacks them.
    """
    style = DIALECTS[dialect]
    printer = style.printer()
    layouts = [(r, r.nonzeros()) for r in results]
    exprs = [v for _, nonzeros in layouts for _, v in nonzeros]
    temporaries, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_t"), order="none")
    lines: list[str] = []
    partial = Partial(printer, lines)
    for symbol, value in temporaries:
        text = printer.doprint(partial.split(value))
        lines.append(f"{printer.doprint(symbol)} = {text}")
    constants = []
    position = 0
    for result, nonzeros in layouts:
        entries = reduced[position : position + len(nonzeros)]
        printed = [
            (
                style.number.format(value=printer.doprint(e), like=like)
                if e.is_number
                else printer.doprint(partial.split(e))
            )
            for e in entries
        ]
        position += len(nonzeros)
        target = f"_{result.name}"
        reshape = f".reshape({result.shape!r})" if len(result.shape) != 1 else ""
        if batch:
            dense = ["0.0"] * (result.size // batch)
            for (k, _), text in zip(nonzeros, printed, strict=True):
                dense[k] = text
            shape = result.shape[1:]
            lines.append(
                f"{target} = _batched([{', '.join(dense)}], {batch}, {result.dtype}, {shape!r})"
            )
        elif result.scalar and dialect == "math":
            lines.append(f"{target} = {result.dtype}({printed[0] if printed else '0.0'})")
        elif len(nonzeros) >= SPARSE_BELOW * result.size or dialect != "math":
            dense = [style.number.format(value="0.0", like=like)] * result.size
            for (k, _), text in zip(nonzeros, printed, strict=True):
                dense[k] = text
            items = ", ".join(dense)
            stacked = style.stack.format(items=items, dtype=result.dtype)
            lines.append(f"{target} = {stacked}{reshape}")
        else:
            lines.append(f"{target} = np.zeros({result.size}, dtype={result.dtype})")
            if nonzeros:
                name = f"_NONZEROS_{result.name.upper()}"
                constants.append((name, index_array(k for k, _ in nonzeros),
                                  f"where the {result.name} is not identically zero"))  # fmt: skip
                lines.append(f"{target}[{name}] = [{', '.join(printed)}]")
            if reshape:
                lines.append(f"{target} = {target}{reshape}")
    text = "\n".join(lines)
    helpers = (
        tuple(name for name in OVERFLOWING if f"_{name}(" in text) if dialect == "math" else ()
    )
    return Emitted(tuple(lines), tuple(constants), "math." in text or bool(helpers), helpers)


#: Sums of more terms than this are printed as partial sums `_p0, _p1, ...` of this many terms
#: each: a sum of n terms is a chain of n binary operations in Python's syntax tree, whose
#: recursive walks (the compiler's, black's, diffgen's own scopes.py) fail past about 1000.
SUM_CHUNK = 64


class Partial:
    """Splits the long sums of expressions into partial sums, each printed on its own line."""

    def __init__(self, printer: Any, lines: list[str]) -> None:
        self.printer, self.lines, self.count = printer, lines, 0

    def split(self, expr: Expr) -> Expr:
        """expr with every sum of more than SUM_CHUNK terms replaced by a sum of partial sums
        (only where there is one: other expressions are returned as they are)."""
        if not isinstance(expr, sympy.Basic) or not expr.args or expr.is_Atom:
            return expr
        args = [self.split(arg) for arg in expr.args]
        changed = any(new is not old for new, old in zip(args, expr.args, strict=True))
        if isinstance(expr, sympy.Add) and len(args) > SUM_CHUNK:
            while len(args) > SUM_CHUNK:
                args = [self.name(args[k : k + SUM_CHUNK]) for k in range(0, len(args), SUM_CHUNK)]
            return sympy.Add(*args, evaluate=False)
        return expr.func(*args, evaluate=False) if changed else expr

    def name(self, terms: list[Expr]) -> Expr:
        symbol = sympy.Symbol(f"_p{self.count}")
        self.count += 1
        text = self.printer.doprint(sympy.Add(*terms, evaluate=False))
        self.lines.append(f"{symbol} = {text}")
        return symbol


def index_array(indices: Iterable[int]) -> str:
    """A read-only index array as compact source: rows of integers, which the module template
    shields from black (`# fmt: off`) so that they are not printed one per line."""
    rows = textwrap.wrap(", ".join(map(str, indices)), width=88)
    body = "".join(f"    {row}\n" for row in rows)
    return f"_frozen(np.array([\n{body}], dtype=np.intp))"


def unpack(dialect: str, name: str, symbols: Sequence[Expr], scalar: bool) -> str:
    """`x_0, x_1 = ...`: one argument as named elements, in the dialect's element type."""
    names = [str(s) for s in symbols]
    if scalar and dialect == "math":
        return f"{names[0]} = float({name})"
    targets = ", ".join(names) if len(names) > 1 else f"({names[0]},)"
    return DIALECTS[dialect].unpack.format(targets=targets, name=name)
