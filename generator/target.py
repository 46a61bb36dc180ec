"""What the user asks for: one target, from the command line or from `[tool.diffgen]`."""

from __future__ import annotations

import json
import keyword
import math
from dataclasses import asdict, dataclass
from typing import TypeVar

from .errors import DiffgenError
from .options import BackendOptions

Options = TypeVar("Options", bound=BackendOptions)

#: Option keys that every target's canonical text has carried at their defaults since before the
#: options moved to their backends: kept so that fingerprints and --jax-export artifacts' target
#: digests keep their values.
CANONICAL_DEFAULTS: dict[str, object] = {"jax_export": False}

#: The interval the probe and the generated tests draw points from, unless a target gives
#: its own: inside the domain of log, sqrt, asin, acos, atanh and away from the kinks of abs
#: and maximum at 0.
DEFAULT_DOMAIN = (0.1, 0.9)


def split_reference(reference: str) -> tuple[str, str]:
    """Split `package.module:qualname`, checking that both halves are dotted identifiers."""
    module, sep, qualname = reference.partition(":")
    parts = [*module.split("."), *qualname.split(".")]
    if not sep or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise DiffgenError(
            f"{reference!r} is not a function reference",
            "a function is named as MODULE:QUALNAME, both dotted Python identifiers",
            "write it as, for example, examples.rosen:rosen",
        )
    return module, qualname


def _unique(pairs: tuple[tuple[str, object], ...], option: str) -> None:
    """Refuse NAME=VALUE pairs that give one name two different values."""
    seen: dict[str, object] = {}
    for name, value in pairs:
        if name in seen and seen[name] != value:
            raise DiffgenError(
                f"{option} {name} is given twice, as {seen[name]!r} and {value!r}",
                "a parameter has one spec and a size one value, fixed at generation time",
                f"give {option} {name}=... once",
            )
        seen[name] = value


@dataclass(frozen=True)
class Target:
    """A function reference, its argument specs, the operators and the backend (pair) to use.

    `args` and `dims` keep the user's strings; they are parsed and checked by inspection.
    `output` is the module path relative to the project root (None: the default path).
    `options` are backend families' options (generator/options.py), those given, by family.
    """

    function: str
    args: tuple[tuple[str, str], ...] = ()
    dims: tuple[tuple[str, int], ...] = ()
    wrt: str | None = None
    ops: tuple[str, ...] = ("all",)
    backend: str = "finitediff"
    outer: str | None = None
    output: str | None = None
    tests: bool = True
    options: tuple[BackendOptions, ...] = ()
    batch: int = 0  # B > 0: also pushforward_batch, pullback_batch, hvp_batch for B tangents
    domain: tuple[float, float] | None = None  # where points are drawn (None: DEFAULT_DOMAIN)
    #: The operators take the active argument first, then its tangent, then the constants
    #: (the order of diffgen 0.1.0) instead of the function's own argument order.
    wrt_first: bool = False

    def __post_init__(self) -> None:
        self._check_options()
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 0:
            raise DiffgenError(
                f"--batch {self.batch!r} is not a batch size",
                "it is the number of tangents the *_batch operators take at once, fixed at"
                " generation time like every other shape",
                "pass a positive integer, e.g. --batch 8 (batch = 8), or leave it out",
            )
        self._check_wrt()
        if not isinstance(self.wrt_first, bool):
            raise DiffgenError(
                f"wrt_first {self.wrt_first!r} is not true or false",
                "it says whether the operators take the active argument first",
                "write wrt_first = true, or leave it out for the function's own order",
            )
        self._check_ops()
        _unique(self.args, "--arg")
        _unique(self.dims, "--dim")
        for name, size in self.dims:
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise DiffgenError(
                    f"--dim {name}={size!r} is not a size",
                    "a named size is the length of an axis, at least 1",
                    f"pass --dim {name}=N with a positive whole number N",
                )
        self._check_domain()

    def _check_wrt(self) -> None:
        """Refuse several active arguments (`--wrt w,b`, `wrt = ["w", "b"]`) with the way
        round it: one module differentiates one array argument."""
        wrt: object = self.wrt
        names = wrt.split(",") if isinstance(wrt, str) else wrt
        if isinstance(names, list | tuple) and len(names) > 1:
            given = ",".join(map(str, names))
            raise DiffgenError(
                f"--wrt {given} names {len(names)} active arguments",
                "a module differentiates one array argument: several active arguments (a tuple"
                " of gradients in wrt order, blocks of the Jacobian and Hessian) are not"
                " implemented yet",
                f"differentiate one of them (--wrt {names[0]}), or, for derivatives in all of"
                " them at once, pass them as one array argument that the function splits",
            )
        if isinstance(names, list | tuple):  # wrt = ["w"]: one name in a list
            object.__setattr__(self, "wrt", names[0] if names else None)
        if self.wrt is not None and not isinstance(self.wrt, str):
            raise DiffgenError(
                f"wrt {self.wrt!r} is not a parameter name",
                "wrt names the active argument",
                'write wrt = "x" (--wrt x)',
            )

    def _check_ops(self) -> None:
        if not self.ops:
            raise DiffgenError(
                "no operator is given",
                "--ops (ops) names the operators to generate",
                "pass --ops gradient,hessian (a comma-separated list) or --ops all",
            )
        if "all" in self.ops and len(self.ops) > 1:
            others = ", ".join(op for op in self.ops if op != "all")
            raise DiffgenError(
                f"--ops combines all with {others}",
                "all already means every operator that fits the function, so the others are"
                " either redundant or a mistake",
                "pass --ops all alone, or list the operators you want",
            )

    def _check_domain(self) -> None:
        if self.domain is None:
            return
        lo, hi = self.domain
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise DiffgenError(
                f"--domain {lo!r},{hi!r} is not an interval",
                "points are drawn uniformly from LO to HI, so both must be finite and LO < HI",
                "pass --domain LO,HI (domain = [LO, HI]), e.g. --domain 1.5,2.5",
            )

    def _check_options(self) -> None:
        """Keep the options given, one per family in family order, and refuse those that do not
        apply to the backend (each family checks its own values when it is made)."""
        given = sorted((o for o in self.options if o.given), key=lambda o: o.family)
        families = [o.family for o in given]
        twice = sorted({family for family in families if families.count(family) > 1})
        if twice:
            raise DiffgenError(
                f"the {twice[0]} options are given twice",
                "a target has one set of options per backend family",
                "give them once",
            )
        object.__setattr__(self, "options", tuple(given))
        for options in given:
            options.check_backend(self.backend)

    def option(self, family: type[Options]) -> Options:
        """This target's options of one backend family: those given, or the family's defaults."""
        return next((o for o in self.options if isinstance(o, family)), family())

    @property
    def func_name(self) -> str:
        return self.function.rpartition(":")[2].rpartition(".")[2]

    @property
    def points_domain(self) -> tuple[float, float]:
        """The interval points are drawn from."""
        return self.domain if self.domain is not None else DEFAULT_DOMAIN

    def default_output(self) -> str:
        """`generated/<func>_<backend>.py`; with an outer backend other than the inner one
        `generated/<func>_<outer>_over_<backend>.py`, so that it never takes the name of the
        inner backend's own module."""
        name = self.backend
        if self.outer and self.outer != self.backend:
            name = f"{self.outer}_over_{self.backend}"
        return f"generated/{self.func_name}_{name.replace(':', '_')}.py"

    def canonical(self) -> str:
        """A stable text of everything that decides the generated code, for the fingerprint."""
        fields = asdict(self)
        del fields["tests"], fields["options"]
        fields.update(CANONICAL_DEFAULTS)
        for options in self.options:  # only those that differ from their defaults
            fields.update(options.canonical())
        for name, default in (("batch", 0), ("domain", None), ("wrt_first", False)):
            if fields[name] == default:  # so that targets without them keep their fingerprints
                del fields[name]
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))
