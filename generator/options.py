"""Backend options: the base of each backend family's frozen options, read and checked once.

A family (jax, torch) declares its options as a frozen dataclass beside its backends
(backends/jax_options.py, ...), listed in backends/options.py. Each field is one option: field
`mode` of family `torch` is the config key `torch_mode` and the flag `--torch-mode`; a bool field
is a switch, a str field takes one of the `choices` in its metadata. A Target holds the options
given (backends read them with `target.option(TorchOptions)`), and checks them where it is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Self

from .errors import DiffgenError


@dataclass(frozen=True)
class Option:
    """One option as the command line and `[tool.diffgen]` spell it."""

    key: str  # the config key and argparse dest: "torch_mode"
    field: str  # the attribute of the family's options: "mode"
    default: bool | str
    choices: tuple[str, ...]  # the values a str option takes; () for a switch
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def kind(self) -> str:
        """What its config value must be, in words."""
        return "true or false" if isinstance(self.default, bool) else "a string"


@dataclass(frozen=True)
class BackendOptions:
    """The options of one backend family; each subclass is a frozen dataclass of them."""

    family: ClassVar[str]  # "jax": the options of the backends named jax:<mode>
    type_fix: ClassVar[str]  # what to do about a config value of the wrong type

    @classmethod
    def declared(cls) -> tuple[Option, ...]:
        """The family's options, from its fields and their metadata (help, choices)."""
        found = []
        for f in fields(cls):
            assert f.default is not MISSING, f"{cls.__name__}.{f.name} needs a default"
            default: bool | str = f.default
            choices = tuple(f.metadata.get("choices", ()))
            found.append(Option(f"{cls.family}_{f.name}", f.name, default, choices,
                                f.metadata["help"]))  # fmt: skip
        return tuple(found)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], where: str) -> Self:
        """The options among `values` (config keys or argparse dests), their types checked."""
        options = cls.declared()
        given = {o.key: values.get(o.key, o.default) for o in options}
        wrong = [o for o in options if type(given[o.key]) is not type(o.default)]
        if wrong:
            first, *rest = options
            what = f"{first.key} must be {first.kind}" + "".join(
                f" and {o.key} {o.kind}" for o in rest
            )
            found = (
                f"found {given[first.key]!r}"
                if not rest
                else "found " + ", ".join(f"{o.key} = {given[o.key]!r}" for o in options)
            )
            raise DiffgenError(f"{where}: {what}", found, cls.type_fix)
        return cls(**{o.field: given[o.key] for o in options})

    @property
    def given(self) -> bool:
        """Whether any option differs from its default."""
        return self != type(self)()

    def canonical(self) -> dict[str, object]:
        """The options that differ from their defaults, by key, for the target's fingerprint."""
        return {
            o.key: getattr(self, o.field)
            for o in self.declared()
            if getattr(self, o.field) != o.default
        }

    def check_backend(self, backend: str) -> None:
        """Refuse options given for a backend of another family."""
        if self.given and not backend.startswith(f"{self.family}:"):
            raise self.misplaced(backend)

    def misplaced(self, backend: str) -> DiffgenError:
        """The error for these options given with `--backend backend` of another family."""
        raise NotImplementedError
