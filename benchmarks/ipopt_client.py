"""IPOPT (cyipopt) on Luksan-Vlcek problem 1, fed by generated jax modules, sparse and dense.

Run: .venv/bin/python benchmarks/ipopt_client.py   (needs `pip install cyipopt-wheels==1.7.0.dev0`)

For each n, the constraint and Lagrangian modules are generated with --sparse (and, up to
DENSE_LIMIT, without), then examples/ipopt_driver.py solves the problem from IPOPT's starting
point with each: the same iterations and solution are checked, and the solve times compared,
side by side in one process. The table goes into README.md between `<!-- ipopt:start -->` and
`<!-- ipopt:end -->`.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
from common import ROOT, heading, markdown, write_module

from examples.ipopt_driver import DenseProblem, Solved, SparseProblem, luksan_vlcek_start, solve
from generator.api import target
from generator.measure.loader import load

SIZES = (1_000,)
DENSE_LIMIT = 1_000  # a dense Hessian of n = 10^4 is 5 * 10^7 lower-triangle entries per call


def generated(tmp: Path, function: str, name: str, **fields: object) -> tuple[ModuleType, float]:
    path = tmp / f"{name}.py"
    seconds = write_module(
        target(f"examples.sparse_functions:{function}", tests=False, **fields), path
    )
    return load(path), seconds


def modules(tmp: Path, n: int, sparse: bool) -> tuple[ModuleType, ModuleType, float]:
    c, c_seconds = generated(tmp, "luksan_vlcek_constraints", f"c_{n}_{sparse}",
                             args={"x": f"float64[{n}]"}, ops="jacobian",
                             backend="jax:forward", sparse=sparse)  # fmt: skip
    lagrangian, l_seconds = generated(
        tmp, "luksan_vlcek_lagrangian", f"l_{n}_{sparse}",
        args={"x": f"float64[{n}]", "multipliers": f"float64[{n - 2}]", "scale": "float64[]"},
        ops="gradient,hessian", backend="jax:reverse", outer="jax:forward", sparse=sparse,
    )  # fmt: skip
    return c, lagrangian, c_seconds + l_seconds


def row(n: int, kind: str, solved: Solved, c: ModuleType, seconds: float) -> list[str]:
    violation = float(np.max(np.abs(np.asarray(c.value(solved.x)))))
    return [str(n), kind, str(solved.iterations), f"{solved.objective:.10g}", f"{violation:.1e}",
            f"{solved.seconds:.3g}", f"{seconds:.1f}"]  # fmt: skip


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for n in SIZES:
            m = n - 2
            x0 = luksan_vlcek_start(n)
            c, lagrangian, seconds = modules(tmp, n, sparse=True)
            solve(SparseProblem(c, lagrangian, m), x0, m, max_iter=1)  # warm: jax's first calls
            sparse = solve(SparseProblem(c, lagrangian, m), x0, m)
            print(f"n = {n}: sparse {sparse.seconds:.2f} s", file=sys.stderr)
            rows.append(row(n, "sparse (`*_values`, ROWS/COLS)", sparse, c, seconds))
            if n <= DENSE_LIMIT:
                dense_c, dense_l, dense_seconds = modules(tmp, n, sparse=False)
                problem = DenseProblem(c, lagrangian, dense_c, dense_l, n, m)
                solve(problem, x0, m, max_iter=1)
                dense = solve(DenseProblem(c, lagrangian, dense_c, dense_l, n, m), x0, m)
                print(f"n = {n}: dense {dense.seconds:.2f} s", file=sys.stderr)
                assert dense.iterations == sparse.iterations, (dense, sparse)
                np.testing.assert_allclose(dense.x, sparse.x, rtol=1e-9, atol=1e-9)
                rows.append(row(n, "dense (`jacobian`, `hessian`)", dense, c, dense_seconds))
    how = (
        "IPOPT 3.14 from cyipopt-wheels 1.7.0.dev0 (MUMPS), exact Hessians, default options,"
        " from IPOPT's starting point; the solve time is `nlp.solve` alone, after one warm-up"
        " iteration; generation s is both modules'. The dense rows use the same `value`"
        " operators for f and c, and full structures for the derivatives."
    )
    header = ["n", "operators", "iterations", "objective", "max abs c(x)", "solve s",
              "generation s"]  # fmt: skip
    text = f"{heading('', how)}\n\n{markdown(header, rows, 'rlrrrrr')}".replace(
        "benchmarks/run.py", "benchmarks/ipopt_client.py"
    )
    readme = ROOT / "README.md"
    pattern = re.compile(r"<!-- ipopt:start -->\n.*?\n<!-- ipopt:end -->", re.DOTALL)
    new, count = pattern.subn(lambda _: f"<!-- ipopt:start -->\n{text}\n<!-- ipopt:end -->",
                              readme.read_text())  # fmt: skip
    if count != 1:
        raise SystemExit("README.md needs exactly one <!-- ipopt:start --> ... end pair")
    readme.write_text(new)
    print(text)


if __name__ == "__main__":
    main()
