"""Generated jax operators against the jax code an expert would write by hand, side by side.

    .venv/bin/python benchmarks/bench_jax.py [--sizes 10 1000] [--rounds 25] [--out FILE]

For each size the script generates modules for the Rosenbrock function (every operator,
forward-over-reverse; hvp and hessian also reverse-over-reverse) and for Broyden's residual
(jacobian in both modes) into a temporary project, timing generation; measures, each in a fresh
process, the import time of every module (which compiles each operator) and what one operator's
compilation costs (the first call of a compile-at-first-call design); then times, in one process
with x64 on and jax arrays as inputs, each generated operator (input checks included) and its
hand-written counterpart (jax.jit(jax.grad(f)), jax.jit(jax.hessian(f)), ...), interleaved over
`rounds` rounds. Reported: the median time per call of each and the median of the per-round
ratios. Results are a table for the README, never an assertion.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generator.bench import load  # noqa: E402

# (module stem, function, args, ops, backend, outer)
MODULES = [
    ("rosen_fr", "examples.rosen:rosen", "x", "all", "jax:reverse", "jax:forward"),
    ("rosen_rr", "examples.rosen:rosen", "x", "hvp,hessian", "jax:reverse", "jax:reverse"),
    ("residual_f", "examples.residual:residual", "x", "jacobian", "jax:forward", "jax:forward"),
    ("residual_r", "examples.residual:residual", "x", "jacobian", "jax:reverse", "jax:reverse"),
]


def generate(root: Path, n: int) -> dict[str, float]:
    """Write every module for size n under root/generated; the seconds each took."""
    from generator.pipeline import generate_and_write
    from generator.target import Target

    seconds = {}
    for stem, function, arg, ops, backend, outer in MODULES:
        target = Target(
            function=function,
            args=((arg, f"float64[{n}]"),),
            ops=tuple(ops.split(",")),
            backend=backend,
            outer=outer,
            output=f"generated/{stem}_{n}.py",
            tests=False,
        )
        start = time.perf_counter()
        generate_and_write(target, root, force=True)
        seconds[f"{stem}_{n}"] = time.perf_counter() - start
    return seconds


IMPORT = """
import json, sys, time
start = time.perf_counter()
import jax
from jax import monitoring
durations = []
monitoring.register_event_duration_secs_listener(lambda name, seconds, **_: durations.append(
    (name, seconds)))
jax_done = time.perf_counter()
sys.path.insert(0, ".")
import importlib
module = importlib.import_module("generated.{name}")
done = time.perf_counter()
stages = ("jaxpr_trace_duration", "jaxpr_to_mlir_module_duration", "backend_compile_duration")
compiling = sum(s for n, s in durations if n.rsplit("/", 1)[-1] in stages)
count = len(module.__all__)
print(json.dumps({{"jax": jax_done - start, "module": done - jax_done,
                  "compile_one": compiling / count, "operators": count}}))
"""


def import_times(root: Path, name: str) -> dict[str, float]:
    run = subprocess.run(
        [sys.executable, "-c", IMPORT.format(name=name)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(run.stdout))


def baselines(f: Callable[..., Any], mode: str, outer: str) -> dict[str, Callable[..., Any]]:
    """What a jax expert writes for each operator (and value variant), jitted."""
    import jax
    import jax.numpy as jnp

    grad = jax.grad(f)
    jac = jax.jacfwd if mode == "forward" else jax.jacrev
    # jax.hessian is jacfwd(jacrev(f)), forward over reverse; reverse over reverse is this:
    hessian = jax.hessian(f) if outer == "forward" else jax.jacrev(grad)
    hvp: Callable[..., Any] = (
        (lambda x, v: jax.jvp(grad, (x,), (v,))[1])
        if outer == "forward"
        else (lambda x, v: jax.grad(lambda z: jnp.vdot(grad(z), v))(x))
    )
    gradient_and_hvp: Callable[..., Any] = (
        (lambda x, v: jax.jvp(grad, (x,), (v,)))
        if outer == "forward"
        else (lambda x, v: (grad(x), hvp(x, v)))
    )

    def value_and_pullback(x: Any, w: Any) -> Any:
        y, pull = jax.vjp(f, x)
        return y, pull(w)[0]

    table: dict[str, Callable[..., Any]] = {
        "pushforward": lambda x, v: jax.jvp(f, (x,), (v,))[1],
        "value_and_pushforward": lambda x, v: jax.jvp(f, (x,), (v,)),
        "pullback": lambda x, w: jax.vjp(f, x)[1](w)[0],
        "value_and_pullback": value_and_pullback,
        "gradient": grad,
        "value_and_gradient": jax.value_and_grad(f),
        "jacobian": jac(f),
        "value_and_jacobian": lambda x: (f(x), jac(f)(x)),
        "hvp": hvp,
        "gradient_and_hvp": gradient_and_hvp,
        "hessian": hessian,
        "value_gradient_and_hessian": lambda x: (f(x), grad(x), hessian(x)),
    }
    return {name: jax.jit(fn) for name, fn in table.items()}


def per_call(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def time_module(
    module: ModuleType, mode: str, outer: str, n: int, rounds: int
) -> list[dict[str, Any]]:
    import jax.numpy as jnp
    import numpy as np

    from examples.residual import residual
    from examples.rosen import rosen

    f = rosen if "rosen" in module.__name__ else residual
    hand = baselines(f, mode, outer)
    x = jnp.asarray(np.linspace(0.1, 0.9, n))
    v = jnp.asarray(np.cos(np.arange(n, dtype=np.float64)))
    y = f(x)
    w = jnp.ones_like(y)
    rows = []
    for name in module.__all__:
        args = (
            (x, v)
            if "pushforward" in name or "hvp" in name
            else (x, w) if "pullback" in name else (x,)
        )
        ours, theirs = getattr(module, name), hand[name]
        ours(*args), theirs(*args)
        np.testing.assert_allclose(
            np.asarray(ours(*args)[-1] if isinstance(ours(*args), tuple) else ours(*args)),
            np.asarray(theirs(*args)[-1] if isinstance(theirs(*args), tuple) else theirs(*args)),
            rtol=1e-10,
            atol=1e-10,
        )  # same numbers, else the comparison is meaningless
        probe = per_call(lambda f=theirs, a=args: f(*a), 200)
        number = max(50, int(20_000 / max(probe, 1.0)))
        a, b = [], []
        for _ in range(rounds):
            a.append(per_call(lambda f=ours, a=args: f(*a), number))
            b.append(per_call(lambda f=theirs, a=args: f(*a), number))
        ratios = [p / q for p, q in zip(a, b, strict=True)]
        rows.append(
            {
                "operator": name,
                "n": n,
                "ours": statistics.median(a),
                "hand": statistics.median(b),
                "ratio": statistics.median(ratios),
                "q1": statistics.quantiles(ratios, n=4)[0],
                "q3": statistics.quantiles(ratios, n=4)[2],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/jax_results.md")
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    lines = [
        f"jax {jax.__version__}, Python {platform.python_version()}, {platform.machine()},"
        f" {len(jax.devices())} {jax.devices()[0].platform} device(s), float64, x64 on,"
        f" jax.Array inputs; {args.rounds} interleaved rounds, medians.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "examples", root / "examples")
        results, generation, imports = [], {}, {}
        for n in args.sizes:
            generation.update(generate(root, n))
            for stem, _, _, _, backend, outer in MODULES:
                name = f"{stem}_{n}"
                imports[name] = import_times(root, name)
                module = load(root / f"generated/{name}.py")
                for row in time_module(module, backend[4:], outer[4:], n, args.rounds):
                    pair = f"{outer} over {backend}" if row["operator"] in SECOND else backend
                    results.append({**row, "backend": pair})
    lines += [
        "| operator | backend (pair) | n | generated µs | hand-written µs | ratio (IQR) |",
        "|---|---|---:|---:|---:|---|",
    ]
    seen = set()
    for r in results:
        key = (r["operator"], r["backend"], r["n"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(
            f"| `{r['operator']}` | {r['backend']} | {r['n']} | {r['ours']:.1f} |"
            f" {r['hand']:.1f} | {r['ratio']:.3f} ({r['q1']:.2f} to {r['q3']:.2f}) |"
        )
    lines += [
        "",
        "| module | operators | generation s | import s (jax itself) | one operator's"
        " trace + lower + compile ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, seconds in generation.items():
        t = imports[name]
        lines.append(
            f"| {name} | {t['operators']} | {seconds:.2f} | {t['module']:.2f}"
            f" ({t['jax']:.2f}) | {1000 * t['compile_one']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


SECOND = {"hvp", "gradient_and_hvp", "hessian", "value_gradient_and_hessian"}

if __name__ == "__main__":
    main()
