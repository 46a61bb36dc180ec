"""`diffgen tune`: benchmark one `[tool.diffgen]` target and write the fastest backend (pair) back.

The choice is made by measurement (bench.py) and written into pyproject.toml with tomlkit, which
keeps the file's comments, order and formatting, so that `diffgen build` stays deterministic:
the numbers decide once, at tune time, never at build time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import tomlkit

from .bench import Measured, bench, candidates
from .config import output_path, read_config
from .errors import DiffgenError
from .inspect_target import inspect_target
from .operators import OPERATORS
from .plan import resolve_operators
from .target import Target


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
    """The candidate with the smallest geometric mean of its time relative to each op's best."""
    timed = [r for r in results if not r.baseline and r.error is None and r.calls_us]
    if not timed:
        raise DiffgenError("no backend could generate this target", "every candidate was refused",
                           "run `diffgen bench` on it to see why")  # fmt: skip
    ops = list(timed[0].calls_us)
    best = {op: min(r.calls_us[op][0] for r in timed) for op in ops}

    def score(r: Measured) -> float:
        return sum(math.log(r.calls_us[op][0] / best[op]) for op in ops) / len(ops)

    return min(timed, key=lambda r: (score(r), r.label)).label


def tune(name: str, config: Path, repeat: int = 15) -> tuple[str, str | None]:
    """Measure the target's candidates and rewrite its backend keys; return the choice."""
    root = config.resolve().parent
    targets = read_config(config)
    index = find_target(targets, name, root)
    target = targets[index]
    results = bench(target, root, repeat=repeat, with_baselines=False)
    label = winner(results)
    inspected = inspect_target(target, root)
    ops = [op.name for op in resolve_operators(inspected, tuple(OPERATORS))]
    chosen = next(c for c in candidates(inspected, ops) if c.label == label)
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
    return chosen.backend, chosen.outer
