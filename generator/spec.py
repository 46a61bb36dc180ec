"""Argument specs: the `float64[3,4]` strings that fix the dtype and shape of an argument."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast, get_args

Dtype = Literal["float32", "float64"]
DTYPES: tuple[Dtype, ...] = get_args(Dtype)

_SPEC = re.compile(r"(?P<dtype>[A-Za-z_][A-Za-z0-9_]*)\[(?P<dims>[^\[\]]*)\]")
_DIM = re.compile(r"[1-9][0-9]*")

#: Unit roundoff of each dtype (numpy.finfo(dtype).eps), fixed here so plans need no numpy.
EPS: dict[Dtype, float] = {"float32": 2.0**-23, "float64": 2.0**-52}


@dataclass(frozen=True, order=True)
class Spec:
    """The dtype and shape of one array argument or result; `shape == ()` is a 0-d scalar."""

    dtype: Dtype
    shape: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        size = 1
        for dim in self.shape:
            size *= dim
        return size

    @property
    def is_scalar(self) -> bool:
        return self.shape == ()

    @property
    def eps(self) -> float:
        return EPS[self.dtype]

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join(str(dim) for dim in self.shape)}]"


class SpecSyntaxError(ValueError):
    """A spec string that does not parse; the message says what is wrong with it."""


def parse_spec(text: str) -> Spec:
    """Parse `float64[10]`, `float32[3,4]` or `float64[]`; raise SpecSyntaxError otherwise."""
    match = _SPEC.fullmatch(text.replace(" ", ""))
    if match is None:
        raise SpecSyntaxError(
            f"{text!r} is not of the form DTYPE[DIM,...] (for example float64[10], "
            "float32[3,4], or float64[] for a 0-d scalar)"
        )
    dtype = match["dtype"]
    if dtype not in DTYPES:
        raise SpecSyntaxError(
            f"dtype {dtype!r} in {text!r} is not supported; derivatives need a floating dtype, "
            f"one of {', '.join(DTYPES)}"
        )
    dims = match["dims"]
    shape: list[int] = []
    if dims:
        for dim in dims.split(","):
            if not _DIM.fullmatch(dim):
                raise SpecSyntaxError(
                    f"dimension {dim!r} in {text!r} is not a positive whole number"
                )
            shape.append(int(dim))
    return Spec(cast(Dtype, dtype), tuple(shape))
