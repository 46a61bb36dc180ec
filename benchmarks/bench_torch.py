"""Generated torch modules vs the same torch.func transforms called eagerly, side by side.

Float64 on the CPU, one thread, n = 10 and 1000: the generated operators (graph mode, and with
--torch-compile) against torch.func's grad, hessian, jvp of grad (hvp), jacrev and jacfwd.

Run: .venv/bin/python benchmarks/bench_torch.py [--no-compile]   (prints markdown tables)
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from timing import markdown, median_us  # noqa: E402

from examples.dense import dense  # noqa: E402
from examples.residual import residual  # noqa: E402
from examples.rosen import rosen  # noqa: E402
from generator.bench import load  # noqa: E402
from generator.pipeline import generate  # noqa: E402
from generator.target import Target  # noqa: E402

SIZES = (10, 1000)
#: (function, its reference, operators, inner backend, outer backend)
CASES = [
    ("rosen", "examples.rosen:rosen", ("gradient", "hvp", "hessian"), "reverse", "forward"),
    ("dense", "examples.dense:dense", ("gradient", "hvp", "hessian"), "reverse", "forward"),
    ("residual", "examples.residual:residual", ("jacobian",), "reverse", "reverse"),
    ("residual", "examples.residual:residual", ("jacobian",), "forward", "forward"),
]
FUNCTIONS: dict[str, Callable[..., Any]] = {"rosen": rosen, "dense": dense, "residual": residual}


def baseline(name: str, op: str, inner: str) -> Callable[..., Any]:
    """The torch.func equivalent of one generated operator, called eagerly."""
    f = FUNCTIONS[name]
    func = torch.func
    if op == "gradient":
        return lambda x, *c: func.grad(f)(x, *c)
    if op == "hessian":
        return lambda x, *c: func.hessian(f)(x, *c)  # jacfwd(jacrev(f)): forward over reverse
    if op == "hvp":
        return lambda x, v, *c: func.jvp(lambda z: func.grad(f)(z, *c), (x,), (v,))[1]
    jacobian = func.jacrev if inner == "reverse" else func.jacfwd
    return lambda x, *c: jacobian(f)(x, *c)


def generated(
    reference: str, n: int, ops: tuple[str, ...], inner: str, outer: str, compiled: bool, out: Path
) -> tuple[ModuleType, float]:
    args = {"x": f"float64[{n}]"} | ({"A": f"float64[{n},{n}]"} if "dense" in reference else {})
    target = Target(reference, args=tuple(args.items()), ops=ops, backend=f"torch:{inner}",
                    outer=f"torch:{outer}", torch_compile=compiled, tests=False)  # fmt: skip
    start = time.perf_counter()
    (file,) = generate(target, ROOT)
    seconds = time.perf_counter() - start
    path = out / f"{file.path.stem}_{n}_{inner}{'_compiled' * compiled}.py"
    path.write_text(file.text)
    return load(path), seconds


def main(compile_too: bool) -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="`torch.jit.script", category=DeprecationWarning)
    out = Path(tempfile.mkdtemp())
    rows, compiled_rows = [], []
    for n in SIZES:
        generator = torch.Generator().manual_seed(0)
        x = 0.1 + 0.8 * torch.rand(n, generator=generator, dtype=torch.float64)
        v = torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1
        A = torch.rand((n, n), generator=generator, dtype=torch.float64) * 2 - 1
        for name, reference, ops, inner, outer in CASES:
            module, seconds = generated(reference, n, ops, inner, outer, False, out)
            fast = generated(reference, n, ops, inner, outer, True, out)[0] if compile_too else None
            constants = [A] if name == "dense" else []
            for op in ops:
                args = [x, v, *constants] if op == "hvp" else [x, *constants]
                ours = median_us(partial(getattr(module, op), *args))
                theirs = median_us(partial(baseline(name, op, inner), *args))
                pair = f"torch:{outer} over torch:{inner}" if op != "jacobian" else f"torch:{inner}"
                rows.append([name, str(n), op, pair, f"{ours:.1f}", f"{theirs:.1f}",
                             f"{theirs / ours:.2f}x", f"{seconds:.1f}"])  # fmt: skip
                if fast is not None:
                    call = getattr(fast, op)
                    start = time.perf_counter()
                    call(*args)
                    first = time.perf_counter() - start
                    compiled = median_us(partial(call, *args))
                    compiled_rows.append([name, str(n), op, f"{ours:.1f}", f"{compiled:.1f}",
                                          f"{ours / compiled:.2f}x", f"{first:.1f}"])  # fmt: skip
    header = ["function", "n", "operator", "backend", "diffgen µs", "torch.func µs", "speed-up",
              "generation s"]  # fmt: skip
    print(markdown(header, rows))
    if compiled_rows:
        print()
        header = ["function", "n", "operator", "graph µs", "--torch-compile µs", "speed-up",
                  "first call s"]  # fmt: skip
        print(markdown(header, compiled_rows))


if __name__ == "__main__":
    main(compile_too="--no-compile" not in sys.argv)
