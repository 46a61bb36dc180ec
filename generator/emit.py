"""Print symbolic results as straight-line Python: shared temporaries, then result arrays.

Common subexpressions are eliminated across everything one generated function returns, so a
value variant shares its work with the plain operator. Expressions are evaluated on Python floats
with `math`: measured here, that beats numpy's per-call overhead on scalar code at every size we
tried (see the README's sympy section), so there is no size threshold at which numpy takes over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy
from sympy.printing.pycode import PythonCodePrinter

from .derivatives import Row

Expr = Any

#: A result is assembled from its nonzeros alone when fewer than this share of it is nonzero.
SPARSE_BELOW = 0.5


class MathPrinter(PythonCodePrinter):  # type: ignore[misc]  # sympy is untyped
    """sympy's Python printer, with floats printed exactly (repr) rather than to 15 digits."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})

    def _print_Float(self, expr: Expr) -> str:
        return repr(float(expr))


@dataclass(frozen=True)
class Result:
    """One quantity a function returns: a flat list of entries, or sparse rows of a matrix."""

    name: str
    size: int
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


@dataclass(frozen=True)
class Emitted:
    """The statements of one function body, and module-level constants they refer to."""

    lines: tuple[str, ...]
    constants: tuple[tuple[str, str, str], ...]  # (name, Python literal, comment)
    uses_math: bool


def emit(results: Sequence[Result]) -> Emitted:
    """Statements computing each result into `_<name>`, with shared temporaries `_t0, _t1, ...`."""
    printer = MathPrinter()
    layouts = [(r, r.nonzeros()) for r in results]
    exprs = [v for _, nonzeros in layouts for _, v in nonzeros]
    temporaries, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_t"), order="none")
    lines = [
        f"{printer.doprint(symbol)} = {printer.doprint(value)}" for symbol, value in temporaries
    ]
    constants = []
    position = 0
    for result, nonzeros in layouts:
        printed = [printer.doprint(e) for e in reduced[position : position + len(nonzeros)]]
        position += len(nonzeros)
        target = f"_{result.name}"
        if result.scalar:
            lines.append(f"{target} = {printed[0] if printed else '0.0'}")
        elif len(nonzeros) >= SPARSE_BELOW * result.size:
            dense = ["0.0"] * result.size
            for (k, _), text in zip(nonzeros, printed, strict=True):
                dense[k] = text
            lines.append(f"{target} = np.array([{', '.join(dense)}], dtype={result.dtype})")
        else:
            lines.append(f"{target} = np.zeros({result.size}, dtype={result.dtype})")
            if nonzeros:
                name = f"_NONZEROS_{result.name.upper()}"
                indices = ", ".join(str(k) for k, _ in nonzeros)
                constants.append((name, f"_frozen(np.array([{indices}], dtype=np.intp))",
                                  f"where the {result.name} is not identically zero"))  # fmt: skip
                lines.append(f"{target}[{name}] = [{', '.join(printed)}]")
    text = "\n".join(lines)
    return Emitted(tuple(lines), tuple(constants), "math." in text)
