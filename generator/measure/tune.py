"""`diffgen tune`: benchmark one `[tool.diffgen]` target and write the fastest backend (pair) back.

The choice is made by measurement (bench.py) and written into pyproject.toml with tomlkit, which
keeps the file's comments, order and formatting, so that `diffgen build` stays deterministic:
the numbers decide once, at tune time, never at build time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from ..config import output_path, read_config
from ..errors import DiffgenError
from ..inspect_target import inspect_target
from ..operators import OPERATORS
from ..plan import resolve_operators
from ..target import Target
from .baselines import INPUTS
from .bench import Candidate, Measured, bench, candidates, flavour


def find_target(targets: Sequence[Target], name: str, root: Path) -> int:
    """The index of the target whose module is `name` (its output file's stem)."""
    stems = [output_path(t, root).stem for t in targets]
    if name not in stems:
        raise DiffgenError(
            f"no [tool.diffgen] target generates a module named {name!r}",
            f"the targets' modules are {', '.join(stems)}",
            "pass one of those names (the output file's name without .py)",
        )
    return stems.index(name)


def winner(results: Sequence[Measured]) -> str:
    """The candidate with the smallest geometric mean of its time relative to each op's best,
    called with numpy arguments (x64 off for jax), which every module takes."""
    timed = [
        r
        for r in results
        if not r.baseline and r.error is None and r.calls_us and r.inputs == INPUTS["numpy"]
    ]
    if not timed:
        raise DiffgenError("no backend could generate this target", "every candidate was refused",
                           "run `diffgen bench` on it to see why")  # fmt: skip
    ops = list(timed[0].calls_us)
    best = {op: min(r.calls_us[op][0] for r in timed) for op in ops}

    def score(r: Measured) -> float:
        return sum(math.log(r.calls_us[op][0] / best[op]) for op in ops) / len(ops)

    return min(timed, key=lambda r: (score(r), r.label)).label


#: What the operators of a module of each flavour return, and whether they take `out=`.
RETURNS = {
    "numpy": "numpy arrays (numpy scalars for 0-d results) and take out=",
    "jax": "jax.Array and take no out=",
    "torch": "torch.Tensor and take out=",
}


@dataclass(frozen=True)
class Tuned:
    """What tune chose for a target, and what that changes for the code that calls it."""

    module: str
    config: Path
    before: Candidate
    after: Candidate

    @property
    def backend(self) -> str:
        return self.after.backend

    @property
    def outer(self) -> str | None:
        return self.after.outer

    def __str__(self) -> str:
        written = f"written to {self.config}"
        if self.after.label == self.before.label:
            return f"{self.module}: {self.after.label} is the fastest, kept; {written}"
        text = f"{self.module}: {self.before.label} -> {self.after.label}, {written}"
        old, new = flavour(self.before), flavour(self.after)
        if old != new:
            text += f"; its operators now return {RETURNS[new]} (before: {RETURNS[old]})"
        return text


def tune(name: str, config: Path, repeat: int = 15, any_flavour: bool = False) -> Tuned:
    """Measure the target's candidates and rewrite its backend keys; return the choice.

    Only candidates whose operators return the same array type as the target's current backend
    are considered (a numpy module's callers would break on jax arrays, which also take no
    out=), unless `any_flavour`; the result states what changes either way.
    """
    root = config.resolve().parent
    targets = read_config(config)
    index = find_target(targets, name, root)
    target = targets[index]
    inspected = inspect_target(target, root)
    ops = [op.name for op in resolve_operators(inspected, tuple(OPERATORS))]
    before = Candidate(target.backend, target.outer)
    found = candidates(inspected, ops)
    other = [c.label for c in found if flavour(c) != flavour(before) and not any_flavour]
    results = bench(target, root, repeat=repeat, with_baselines=False, skip=other)
    label = winner(results)
    chosen = next(c for c in found if c.label == label)
    document = tomlkit.parse(config.read_text())
    table = document["tool"]["diffgen"]["targets"][index]
    if "output" not in table:  # pin the module's path, so that imports of it keep working
        table["output"] = str(output_path(target, root).relative_to(root))
    table["backend"] = chosen.backend
    if chosen.outer is not None:
        table["outer"] = chosen.outer
    elif "outer" in table:
        del table["outer"]
    config.write_text(tomlkit.dumps(document))
    return Tuned(name, config, before, chosen)
