"""Regenerate every performance table of README.md, and benchmarks/RESULTS.md, in one command.

Run: .venv/bin/python benchmarks/run.py [--only NAME ...]   (all sections: about 4 minutes on
a 2-core machine; NAME is one of main, sympy, jax, torch, sparse, torch_compiled)

Each section is rewritten between its markers, in README.md and in benchmarks/RESULTS.md (which
keeps the sections not rerun, and the longer version of a table where the README shows part):

- `main`, between `<!-- benchmarks:start -->` and `<!-- benchmarks:end -->` (## Performance):
  `diffgen bench` of three targets, every backend and pair, with the hand-written baselines;
- `sympy`, `jax`, `torch`, between `<!-- benchmarks:NAME:start -->` and `...:end -->` in the
  backends' sections: bench_sympy.py, bench_jax.py and bench_torch.py;
- `sparse`, between `<!-- benchmarks:sparse:start -->` and `...:end -->` in the README's sparse
  section: bench_sparse.py.

Every time is measured by `generator.measure.bench` (`bench`, `median_us`); common.py holds what the
sections share.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable

import bench_adbench
import bench_jax
import bench_sparse
import bench_sympy
import bench_torch
import bench_torch_compiled
from common import REPEAT, ROOT, Section, heading

from generator.backends.registry import PAIRS
from generator.measure.bench import Candidate, bench, table
from generator.target import Target

#: (title, target, candidates left out and why)
CASES = [
    ("Rosenbrock, n = 10", Target("examples.rosen:rosen", args=(("x", "float64[10]"),),
                                  ops=("gradient", "hessian", "hvp")), ()),
    ("dense (`sum(tanh(A @ x)) + x @ x / 2`, A constant), n = 10",
     Target("examples.dense:dense", dims=(("n", 10),), ops=("gradient", "hessian", "hvp")), ()),
    # at n = 1000 finite differences need 10^6 calls per Hessian and a sympy inner ~35 s to
    # generate: finitediff and every pair over sympy are left out
    ("Rosenbrock, n = 1000", Target("examples.rosen:rosen", args=(("x", "float64[1000]"),),
                                    ops=("gradient", "hvp")),
     ("finitediff", *(Candidate(inner, outer).label for outer, inner in PAIRS
                      if inner == "sympy"))),
]  # fmt: skip

TITLES = {
    "main": "Every backend and pair (README: Performance)",
    "sympy": "sympy backend",
    "jax": "jax backends (every operator and value variant)",
    "torch": "torch backends",
    "adbench": "ADBench-style objectives, jax backends (import, first call, per call)",
    "sparse": "Sparse Jacobians and Hessians (jax, torch)",
    "torch_compiled": "torch modules against torch.compile (ADBench-style objectives)",
}


def main_section() -> Section:
    how = (
        f"float64, median of {REPEAT} runs (± the interquartile range), side by side in one"
        " process; `x best` is the ratio to the fastest entry of the operator."
    )
    parts = [heading("main", how)]
    for title, target, skip in CASES:
        print(f"benchmarking {title}", file=sys.stderr)
        parts.append(f"#### {title}\n\n{table(bench(target, ROOT, skip=skip))}")
    return Section("\n\n".join(parts))


SECTIONS: dict[str, Callable[[], Section]] = {
    "main": main_section,
    "sympy": bench_sympy.section,
    "jax": bench_jax.section,
    "torch": bench_torch.section,
    "adbench": bench_adbench.section,
    "sparse": bench_sparse.section,
    "torch_compiled": bench_torch_compiled.section,
}


def markers(name: str) -> tuple[str, str]:
    if name == "main":
        return "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
    return f"<!-- benchmarks:{name}:start -->", f"<!-- benchmarks:{name}:end -->"


def pattern(name: str) -> re.Pattern[str]:
    start, end = markers(name)
    return re.compile(re.escape(start) + "\n?(.*?)\n?" + re.escape(end), re.DOTALL)


def rewrite_readme(done: dict[str, Section]) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    for name, section in done.items():
        start, end = markers(name)
        body = f"{start}\n{section.readme}\n{end}"
        text, count = pattern(name).subn(lambda _, b=body: b, text)  # type: ignore[misc]
        if count != 1:
            raise SystemExit(f"README.md needs exactly one {start} ... {end} pair (has {count})")
    readme.write_text(text)


def rewrite_results(done: dict[str, Section]) -> None:
    """All sections in a fixed order: the ones just measured, the others as they were."""
    results = ROOT / "benchmarks/RESULTS.md"
    old = results.read_text() if results.exists() else ""
    parts = [
        "# diffgen benchmark results\n\nWritten by `.venv/bin/python benchmarks/run.py`; README.md"
        " shows the same tables (the jax one without the value variants)."
    ]
    for name in SECTIONS:
        start, end = markers(name)
        if name in done:
            body = done[name].results or done[name].readme
        elif found := pattern(name).search(old):
            body = found.group(1)
        else:
            body = f"Not measured yet: `.venv/bin/python benchmarks/run.py --only {name}`."
        parts.append(f"## {TITLES[name]}\n\n{start}\n{body}\n{end}")
    results.write_text("\n\n".join(parts) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    names = parser.parse_args().only
    for name in (name for name in SECTIONS if name in names):  # each written once measured
        start = time.perf_counter()
        print(f"section {name}", file=sys.stderr)
        done = {name: SECTIONS[name]()}
        rewrite_readme(done)
        rewrite_results(done)
        print(f"section {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
