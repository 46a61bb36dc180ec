"""An IPOPT driver (cyipopt) fed by diffgen's generated modules alone, sparse or dense.

A nonlinear program min f(x) s.t. c(x) = 0 needs, at each IPOPT iteration, f, its gradient, c,
the Jacobian of c and the Hessian of the Lagrangian L(x, lambda, sigma) = sigma f(x) +
lambda . c(x), the last two in fixed coordinate structures (`jacobianstructure`,
`hessianstructure`, the lower triangle). Two generated modules give all of it, and the driver
never imports the user's functions:

- a module of c with `--ops jacobian --sparse`: `value(x)` is c, `jacobian_values(x)` the
  Jacobian's nonzeros in the order of its constants `JACOBIAN_ROWS`, `JACOBIAN_COLS`;
- a module of L (x active, lambda and sigma constants) with `--ops gradient,hessian --sparse`:
  `value(x, 0, 1)` is f, `gradient(x, 0, 1)` its gradient, `hessian_values(x, lambda, sigma)`
  the lower triangle in the order of `HESSIAN_ROWS`, `HESSIAN_COLS`.

`DenseProblem` takes dense modules of the same targets for the derivatives (full structures,
`jacobian(x).reshape(-1)` and the Hessian's lower triangle), and the sparse modules' `value` for
f and c, so that the two differ only in how the derivatives are computed and passed. cyipopt
comes from the `cyipopt-wheels` distribution (IPOPT built in); it is never a dependency of the
generated modules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


class SparseProblem:
    """cyipopt's problem object from a sparse constraint module and a sparse Lagrangian module."""

    def __init__(self, constraints: ModuleType, lagrangian: ModuleType, m: int) -> None:
        self.c, self.lagrangian = constraints, lagrangian
        self.zeros = np.zeros(m)
        self.iterations = 0

    def objective(self, x: Array) -> float:
        return float(self.lagrangian.value(x, self.zeros, 1.0))

    def gradient(self, x: Array) -> Array:
        return np.asarray(self.lagrangian.gradient(x, self.zeros, 1.0))

    def constraints(self, x: Array) -> Array:
        return np.asarray(self.c.value(x))

    def jacobianstructure(self) -> tuple[Array, Array]:
        return self.c.JACOBIAN_ROWS, self.c.JACOBIAN_COLS

    def jacobian(self, x: Array) -> Array:
        return np.asarray(self.c.jacobian_values(x))

    def hessianstructure(self) -> tuple[Array, Array]:
        return self.lagrangian.HESSIAN_ROWS, self.lagrangian.HESSIAN_COLS

    def hessian(self, x: Array, multipliers: Array, scale: float) -> Array:
        return np.asarray(self.lagrangian.hessian_values(x, multipliers, scale))

    def intermediate(self, *args: Any) -> bool:
        self.iterations = int(args[1])  # iter_count
        return True


class DenseProblem(SparseProblem):
    """The same problem with dense derivative modules: every entry passed to IPOPT."""

    def __init__(
        self,
        constraints: ModuleType,
        lagrangian: ModuleType,
        dense_constraints: ModuleType,
        dense_lagrangian: ModuleType,
        n: int,
        m: int,
    ) -> None:
        super().__init__(constraints, lagrangian, m)
        self.dense_c, self.dense_lagrangian = dense_constraints, dense_lagrangian
        self.jacobian_structure = np.unravel_index(np.arange(m * n), (m, n))
        self.lower = np.tril_indices(n)

    def jacobianstructure(self) -> tuple[Array, Array]:
        return self.jacobian_structure  # type: ignore[return-value]

    def jacobian(self, x: Array) -> Array:
        return np.asarray(self.dense_c.jacobian(x)).reshape(-1)

    def hessianstructure(self) -> tuple[Array, Array]:
        return self.lower  # type: ignore[return-value]

    def hessian(self, x: Array, multipliers: Array, scale: float) -> Array:
        return np.asarray(self.dense_lagrangian.hessian(x, multipliers, scale))[self.lower]


@dataclass(frozen=True)
class Solved:
    """What IPOPT returned, and how long the solve took."""

    x: Array
    objective: float
    status: int
    iterations: int
    seconds: float


def solve(problem: SparseProblem, x0: Array, m: int, **options: Any) -> Solved:
    """Solve min f s.t. c(x) = 0 from x0 with IPOPT (exact Hessians), quietly."""
    import cyipopt

    n = x0.size
    nlp = cyipopt.Problem(n=n, m=m, problem_obj=problem, lb=None, ub=None,
                          cl=np.zeros(m), cu=np.zeros(m))  # fmt: skip
    for key, value in {"print_level": 0, "sb": "yes", **options}.items():
        nlp.add_option(key, value)
    start = time.perf_counter()
    x, info = nlp.solve(x0)
    seconds = time.perf_counter() - start
    return Solved(np.asarray(x), float(info["obj_val"]), int(info["status"]),
                  problem.iterations, seconds)  # fmt: skip


def luksan_vlcek_start(n: int) -> Array:
    """IPOPT's starting point of Luksan-Vlcek problem 1: -1.2 at even indices, 1 at odd."""
    return np.where(np.arange(n) % 2 == 0, -1.2, 1.0)
