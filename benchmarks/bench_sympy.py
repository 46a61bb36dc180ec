"""Generated sympy modules vs sympy.lambdify(cse=True) and jax.jit, side by side in one process.

Run: .venv/bin/python benchmarks/bench_sympy.py   (prints a markdown table for the README)
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import sympy

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from timing import markdown, median_us  # noqa: E402

from generator.bench import load  # noqa: E402
from generator.derivatives import symbolic_derivatives  # noqa: E402
from generator.inspect_target import inspect_target  # noqa: E402
from generator.pipeline import generate  # noqa: E402
from generator.target import Target  # noqa: E402

CASES = [("examples.rosen:rosen", {}), ("examples.dense:dense", {"A": "float64[{n},{n}]"})]
OPS = ("gradient", "hessian", "hvp")


def lambdified(target: Target) -> dict[str, Callable[..., object]]:
    """sympy.lambdify(..., cse=True) of the same exact derivatives: the hand-written baseline."""
    traced, d = symbolic_derivatives(inspect_target(target, ROOT))
    n = len(d.symbols)
    dx = [sympy.Symbol(f"dx_{k}", real=True) for k in range(n)]
    inputs = [list(array.reshape(-1)) for array in traced.inputs]
    hessian = sympy.Matrix(n, n, d.dense("hessian", dx, []))
    return {
        "gradient": sympy.lambdify(inputs, list(d.dense("gradient", dx, [])), cse=True),
        "hessian": sympy.lambdify(inputs, hessian, cse=True),
        "hvp": sympy.lambdify([*inputs, dx], list(d.dense("hvp", dx, [])), cse=True),
    }


def jax_baselines(function: Callable[..., Any]) -> dict[str, Callable[..., Any]] | None:
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    f = function
    return {
        "gradient": jax.jit(jax.grad(f)),
        "hessian": jax.jit(jax.hessian(f)),
        "hvp": jax.jit(lambda x, *c, v: jax.jvp(lambda z: jax.grad(f)(z, *c), (x,), (v,))[1]),
    }


def row(
    reference: str,
    n: int,
    op: str,
    module: ModuleType,
    baseline: dict[str, Callable[..., object]],
    jitted: dict[str, Callable[..., Any]] | None,
    x: np.ndarray,
    v: np.ndarray,
    constants: list[np.ndarray],
) -> list[str]:
    """One table row: the generated operator, then each baseline and its ratio to ours."""
    tangent = [v] if op == "hvp" else []
    ours = median_us(partial(getattr(module, op), x, *tangent, *constants))
    flat = [c.reshape(-1) for c in constants]  # lambdify unpacks any sequence
    theirs = median_us(partial(baseline[op], x, *flat, *tangent))
    cells = [reference.split(":")[1], str(n), op, f"{ours:.1f}", f"{theirs:.1f}"]
    cells.append(f"{theirs / ours:.1f}x")
    if jitted is not None:
        import jax.numpy as jnp

        call = partial(jitted[op], jnp.asarray(x), *map(jnp.asarray, constants))
        tangents = {"v": jnp.asarray(v)} if op == "hvp" else {}
        jt = median_us(lambda: call(**tangents).block_until_ready())
        cells += [f"{jt:.1f}", f"{jt / ours:.1f}x"]
    return cells


def main() -> None:
    rows = []
    out = Path(tempfile.mkdtemp())
    for n in (2, 10):
        for reference, extra in CASES:
            args = {"x": f"float64[{n}]", **{k: v.format(n=n) for k, v in extra.items()}}
            target = Target(reference, args=tuple(args.items()), ops=OPS, backend="sympy",
                            tests=False)  # fmt: skip
            symbolic_derivatives.cache_clear()
            start = time.perf_counter()
            (file,) = generate(target, ROOT)
            generation = time.perf_counter() - start
            path = out / f"{file.path.stem}_{n}.py"
            path.write_text(file.text)
            module = load(path)
            rng = np.random.default_rng(0)
            x, v = rng.uniform(0.1, 0.9, n), rng.uniform(-1, 1, n)
            constants = [rng.uniform(-1, 1, (n, n))] if extra else []
            baseline = lambdified(target)
            jitted = jax_baselines(__import__(reference.split(":")[0], fromlist=["_"]).__dict__[
                reference.split(":")[1]])  # fmt: skip
            for op in OPS:
                rows.append(row(reference, n, op, module, baseline, jitted, x, v, constants))
                rows[-1].append(f"{generation:.1f}")
    header = ["function", "n", "operator", "diffgen sympy µs", "lambdify(cse) µs", "speed-up"]
    header += ["jax.jit µs", "speed-up"] if rows and len(rows[0]) > 7 else []
    header.append("generation s")
    print(markdown(header, rows))


if __name__ == "__main__":
    main()
