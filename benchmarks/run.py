"""Regenerate the README's performance section with `diffgen bench`'s own machinery.

Run: .venv/bin/python benchmarks/run.py   (about two minutes; rewrites README.md between the
`<!-- benchmarks -->` markers and benchmarks/RESULTS.md)
"""

from __future__ import annotations

import platform
import re
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.bench import bench, table  # noqa: E402
from generator.target import Target  # noqa: E402

#: (title, target, candidates left out and why)
CASES = [
    ("Rosenbrock, n = 10", Target("examples.rosen:rosen", args=(("x", "float64[10]"),),
                                  ops=("gradient", "hessian", "hvp")), ()),
    ("dense (`sum(tanh(A @ x)) + x @ x / 2`, A constant), n = 10",
     Target("examples.dense:dense", dims=(("n", 10),), ops=("gradient", "hessian", "hvp")), ()),
    # at n = 1000 finite differences need 10^6 calls per Hessian and sympy's module ~35 s to
    # generate: both are left out
    ("Rosenbrock, n = 1000", Target("examples.rosen:rosen", args=(("x", "float64[1000]"),),
                                    ops=("gradient", "hvp")),
     ("finitediff", "sympy", "finitediff over sympy")),
]  # fmt: skip

START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def machine() -> str:
    libraries = ", ".join(
        f"{name} {version(name)}" for name in ("numpy", "sympy", "jax", "torch") if found(name)
    )
    return (
        f"Measured on {platform.machine()} Linux, {platform.processor() or 'CPU'},"
        f" Python {platform.python_version()}, {libraries}; float64, median of 15 runs"
        " (± the interquartile range), side by side in one process; `x best` is the ratio to the"
        " fastest entry of the operator."
    )


def found(name: str) -> bool:
    try:
        version(name)
    except Exception:  # not installed
        return False
    return True


def main() -> None:
    sections = [machine()]
    for title, target, skip in CASES:
        print(f"benchmarking {title}", file=sys.stderr)
        sections.append(f"#### {title}\n\n{table(bench(target, ROOT, skip=skip))}")
    text = "\n\n".join(sections)
    (ROOT / "benchmarks/RESULTS.md").write_text(f"# diffgen bench results\n\n{text}\n")
    readme = ROOT / "README.md"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    readme.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", readme.read_text()))


if __name__ == "__main__":
    main()
