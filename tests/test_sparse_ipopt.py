"""A real client of the sparse operators: IPOPT (cyipopt) on Luksan-Vlcek problem 1.

The driver (examples/ipopt_driver.py) takes everything from two generated jax modules: the
constraints' `value`, `jacobian_values` and JACOBIAN_ROWS/COLS, and the Lagrangian's `value`,
`gradient`, `hessian_values` and HESSIAN_ROWS/COLS; then the same problem with dense derivative
modules and full structures. Both solves must take the same iterations to the same solution.
Skipped where cyipopt (the `cyipopt-wheels` distribution) is not installed.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from examples.ipopt_driver import DenseProblem, SparseProblem, luksan_vlcek_start, solve
from generator.api import target
from generator.measure.loader import load
from generator.pipeline import generate as files_of

cyipopt = pytest.importorskip("cyipopt", reason="IPOPT comes with the cyipopt-wheels package")

ROOT = Path(__file__).resolve().parent.parent
N = 120


def generated(tmp_path: Path, function: str, name: str, **fields: object) -> ModuleType:
    """Generate a module of examples/sparse_functions.py (without tests) and import it."""
    (file,) = files_of(target(f"examples.sparse_functions:{function}", tests=False, **fields),
                       ROOT)  # fmt: skip
    written = tmp_path / f"{name}.py"
    written.write_text(file.text)
    return load(written)


def modules(tmp_path: Path, sparse: bool) -> tuple[ModuleType, ModuleType]:
    m = N - 2
    constraints = generated(tmp_path, "luksan_vlcek_constraints", f"c_{sparse}",
                            args={"x": f"float64[{N}]"}, ops="jacobian", backend="jax:forward",
                            sparse=sparse)  # fmt: skip
    lagrangian = generated(tmp_path, "luksan_vlcek_lagrangian", f"l_{sparse}",
                           args={"x": f"float64[{N}]", "multipliers": f"float64[{m}]",
                                 "scale": "float64[]"},
                           ops="gradient,hessian", backend="jax:reverse", outer="jax:forward",
                           sparse=sparse)  # fmt: skip
    return constraints, lagrangian


def test_ipopt_solves_luksan_vlcek_alike_with_sparse_and_dense_operators(tmp_path: Path) -> None:
    m = N - 2
    constraints, lagrangian = modules(tmp_path, sparse=True)
    dense_constraints, dense_lagrangian = modules(tmp_path, sparse=False)
    assert constraints.JACOBIAN_ROWS.size == 3 * m  # each constraint couples three variables
    assert lagrangian.HESSIAN_ROWS.size == 2 * N - 1  # tridiagonal: the lower triangle
    x0 = luksan_vlcek_start(N)
    sparse = solve(SparseProblem(constraints, lagrangian, m), x0, m)
    dense = solve(
        DenseProblem(constraints, lagrangian, dense_constraints, dense_lagrangian, N, m), x0, m
    )
    assert sparse.status == dense.status == 0  # Solve_Succeeded
    assert sparse.iterations == dense.iterations > 0
    np.testing.assert_allclose(sparse.x, dense.x, rtol=1e-9, atol=1e-9)
    assert abs(sparse.objective - dense.objective) <= 1e-9 * max(1.0, abs(dense.objective))
    np.testing.assert_allclose(np.asarray(constraints.value(sparse.x)), 0.0, atol=1e-7)
