"""Sparse numpy modules against scipy: the finitediff sparse Jacobian of the 2-D Brusselator's
right-hand side (examples/sparse_problems.py) against scipy's own colored differences,
`scipy.optimize._numdiff.approx_derivative(f, y, method="3-point", sparsity=...)`, given the
same pattern, with its column groups computed per call (what a user writes) and prepared once;
and the generation time of the sympy sparse Rosenbrock Hessian. Interleaved medians in one
process; a table on stdout. Run: PYTHONPATH=. python benchmarks/bench_sparse_numpy.py [N ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse
from scipy.optimize._numdiff import approx_derivative, group_columns

from examples.sparse_problems import brusselator
from generator.api import generate
from generator.measure.bench import median_us
from generator.measure.loader import load

ROOT = Path(__file__).resolve().parents[1]


def brusselator_row(n: int, folder: Path) -> str:
    args = {"y": f"float64[2,{n},{n}]", "a": "float64[]", "b": "float64[]", "alpha": "float64[]"}
    start = time.perf_counter()
    (path,) = generate("examples.sparse_problems:brusselator", root=ROOT, args=args,
                       ops="jacobian", backend="finitediff", sparse=True, tests=False,
                       output=str((folder / f"bru{n}.py").relative_to(ROOT)))  # fmt: skip
    seconds = time.perf_counter() - start
    module = load(path)
    rng = np.random.default_rng(0)
    y = rng.uniform(0.1, 0.9, (2, n, n))
    a, b, alpha = np.float64(3.4), np.float64(1.0), np.float64(0.002)
    pattern = scipy.sparse.csr_array(
        (np.ones(module.JACOBIAN_COLS.size), module.JACOBIAN_COLS, module._JACOBIAN_INDPTR),
        shape=(2 * n * n, 2 * n * n),
    )
    groups = group_columns(pattern)

    def f(flat: np.ndarray) -> np.ndarray:
        return np.asarray(brusselator(flat.reshape(2, n, n), a, b, alpha)).reshape(-1)

    ours = module.jacobian(y, a, b, alpha)
    theirs = approx_derivative(f, y.reshape(-1), method="3-point", sparsity=(pattern, groups))
    error = abs(ours - scipy.sparse.csr_array(theirs)).max()
    times = {"diffgen": [], "scipy": [], "scipy prepared": []}
    for _ in range(5):  # interleaved
        times["diffgen"].append(median_us(lambda: module.jacobian(y, a, b, alpha), 5)[0])
        times["scipy"].append(median_us(lambda: approx_derivative(
            f, y.reshape(-1), method="3-point", sparsity=pattern), 5)[0])  # fmt: skip
        times["scipy prepared"].append(median_us(lambda: approx_derivative(
            f, y.reshape(-1), method="3-point", sparsity=(pattern, groups)), 5)[0])  # fmt: skip
    ms = {k: float(np.median(v)) / 1000 for k, v in times.items()}
    colors = module.DIFFGEN["sparse"]["jacobian"]["colors"]
    return (
        f"| Brusselator N = {n} (n = {2 * n * n}) | {colors} (scipy {int(groups.max()) + 1}) |"
        f" {ms['diffgen']:.2f} | {ms['scipy']:.2f} | {ms['scipy prepared']:.2f} |"
        f" {ms['scipy prepared'] / ms['diffgen']:.2f}x | {error:.1e} | {seconds:.0f} s |"
    )


def main(sizes: list[int]) -> None:
    print(
        "| finitediff sparse Jacobian | colors | diffgen ms | scipy ms | scipy prepared ms"
        " | speedup vs prepared | max difference | generation |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(dir=ROOT / "scratch") as folder:
        for n in sizes:
            print(brusselator_row(n, Path(folder)), flush=True)


if __name__ == "__main__":
    (ROOT / "scratch").mkdir(exist_ok=True)
    main([int(a) for a in sys.argv[1:]] or [32])
