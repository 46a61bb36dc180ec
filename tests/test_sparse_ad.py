"""jax and torch modules with --sparse at a user's size, called as users call them.

A chained Rosenbrock objective (n = 1000), the 2-D Brusselator right-hand side (an ODE system on
a periodic grid) and an NLP Lagrangian with constants: the sparse results against the dense
derivatives of jax and torch themselves, with numpy inputs and jax's default x64 off; every pair
whose outer is jax or torch, over a foreign sympy inner too.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from generator.api import generate
from generator.measure.loader import load
from tests.conftest import Project

FUNCTIONS = """
from array_api_compat import array_namespace


def rosenbrock(x):
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _shift(u, axis, up):
    xp = array_namespace(u)
    if axis == 0:
        return xp.concat([u[1:, :], u[:1, :]] if up else [u[-1:, :], u[:-1, :]], axis=0)
    return xp.concat([u[:, 1:], u[:, :1]] if up else [u[:, -1:], u[:, :-1]], axis=1)


def laplacian(u):
    around = _shift(u, 0, True) + _shift(u, 0, False) + _shift(u, 1, True) + _shift(u, 1, False)
    return around - 4.0 * u


def brusselator(y, alpha):
    xp = array_namespace(y)
    u, v = y[0, :, :], y[1, :, :]
    uuv = u * u * v
    return xp.stack([1.0 + uuv - 4.4 * u + alpha * laplacian(u),
                     3.4 * u - uuv + alpha * laplacian(v)], axis=0)


def lagrangian(x, multipliers, scale):
    xp = array_namespace(x)
    a, b, c = x[:-2], x[1:-1], x[2:]
    constraints = 3.0 * b**3 + 2.0 * c - xp.sin(b - c) * xp.sin(b + c) - a * xp.exp(a - b)
    objective = xp.sum(100.0 * (x[:-1] ** 2 - x[1:]) ** 2 + (x[:-1] - 1.0) ** 2)
    return scale * objective + xp.sum(multipliers * constraints)
"""


def module(project: Project, function: str, name: str, **fields: Any) -> ModuleType:
    """Generate (without tests) and import a module of one of FUNCTIONS."""
    project.write("sparse_user.py", FUNCTIONS)
    (path,) = generate(f"sparse_user:{function}", root=project.root, output=f"{name}.py",
                       tests=False, **fields)  # fmt: skip
    return load(project.root / Path(path))


def as_numpy(matrix: Any) -> np.ndarray[Any, Any]:
    """A BCOO result as a dense numpy array, as a numpy program reads it with x64 off (jax's own
    todense would compute in float32): through scipy.sparse, from its data and indices."""
    import scipy.sparse

    rows, cols = np.asarray(matrix.indices).T
    coo = scipy.sparse.coo_array((np.asarray(matrix.data), (rows, cols)), shape=matrix.shape)
    return np.asarray(coo.toarray())


def rosenbrock_hessian(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The dense Hessian of the chained Rosenbrock function, by hand (tridiagonal)."""
    n = x.size
    hessian = np.zeros((n, n))
    i = np.arange(n - 1)
    hessian[i, i] += 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    hessian[i + 1, i + 1] += 200.0
    hessian[i, i + 1] = hessian[i + 1, i] = -400.0 * x[:-1]
    return hessian


def test_jax_rosenbrock_hessian_at_n_1000_from_numpy(project: Project) -> None:
    """jax:forward over jax:reverse at n = 1000: 3 HVPs, a BCOO whose indices are the same
    array at every call, hessian_values in IPOPT's lower-triangle order, from numpy float64
    arrays with x64 off."""
    import jax
    import jax.experimental.sparse

    assert not jax.config.jax_enable_x64  # jax's default: what a numpy program runs with
    n = 1000
    m = module(project, "rosenbrock", "rosen_jax", args={"x": f"float64[{n}]"},
               ops="gradient,hessian", backend="jax:reverse", outer="jax:forward",
               sparse=True)  # fmt: skip
    assert m.DIFFGEN["sparse"]["hessian"]["colors"] == 3
    assert m.DIFFGEN["sparse"]["hessian"]["nnz"] == 3 * n - 2
    x = np.linspace(-1.5, 1.5, n)
    hessian = m.hessian(x)
    assert type(hessian) is jax.experimental.sparse.BCOO
    assert hessian.dtype == np.float64 and hessian.shape == (n, n) and hessian.nse == 3 * n - 2
    np.testing.assert_allclose(as_numpy(hessian), rosenbrock_hessian(x),
                               rtol=1e-14, atol=1e-12)  # fmt: skip
    assert m.hessian(x + 1.0).indices is hessian.indices  # the structure is a module constant
    values = m.hessian_values(x)
    assert isinstance(values, jax.Array) and values.dtype == np.float64
    assert m.HESSIAN_ROWS.dtype == np.int32 and np.all(m.HESSIAN_ROWS >= m.HESSIAN_COLS)
    np.testing.assert_array_equal(
        np.asarray(values), as_numpy(hessian)[m.HESSIAN_ROWS, m.HESSIAN_COLS]
    )
    value, _, again = m.value_gradient_and_hessian(x)
    np.testing.assert_array_equal(np.asarray(again.data), np.asarray(hessian.data))
    assert float(m.value(x)) == float(value)


def test_jax_brusselator_jacobian_columns_and_rows(project: Project) -> None:
    """The Brusselator Jacobian on a 16 x 16 grid (n = 512), column-colored (JVPs) and
    row-colored (VJPs), each equal to jax.jacfwd's dense Jacobian, with a constant alpha."""
    import jax

    size = 16
    args = {"y": f"float64[2,{size},{size}]", "alpha": "float64[]"}
    y = np.random.default_rng(3).uniform(0.0, 1.0, (2, size, size))
    alpha = np.float64(0.25)
    namespace: dict[str, Any] = {}
    exec(FUNCTIONS, namespace)
    with jax.enable_x64(True):
        dense = np.asarray(jax.jacfwd(namespace["brusselator"])(y, alpha)).reshape(512, 512)
    for mode, backend in (("forward", "jax:forward"), ("reverse", "jax:reverse")):
        m = module(project, "brusselator", f"bruss_{mode}", args=args, ops="jacobian",
                   backend=backend, sparse=True, sparse_mode=mode)  # fmt: skip
        record = m.DIFFGEN["sparse"]["jacobian"]
        assert record["mode"] == {"forward": "column", "reverse": "row"}[mode]
        assert record["nnz"] == 6 * 2 * size * size and record["colors"] <= 14
        jacobian = m.jacobian(y, alpha)
        np.testing.assert_allclose(as_numpy(jacobian), dense, rtol=1e-14, atol=1e-13)
        values = np.asarray(m.jacobian_values(y, alpha))
        np.testing.assert_array_equal(values, np.asarray(jacobian.data))
        np.testing.assert_allclose(values, dense[m.JACOBIAN_ROWS, m.JACOBIAN_COLS], atol=1e-13)


def test_torch_rosenbrock_hessian_at_n_1000(project: Project) -> None:
    """torch:forward over torch:reverse (graph mode) at n = 1000: a sparse CSR tensor sharing
    the module's structure; out= fills the values of a result of the same pattern."""
    import torch

    n = 1000
    m = module(project, "rosenbrock", "rosen_torch", args={"x": f"float64[{n}]"},
               ops="hessian", backend="torch:reverse", outer="torch:forward",
               sparse=True)  # fmt: skip
    x = np.linspace(-1.5, 1.5, n)
    hessian = m.hessian(x)
    assert hessian.layout == torch.sparse_csr and hessian.dtype == torch.float64
    assert hessian.col_indices().data_ptr() == m._HESSIAN_COL.data_ptr()  # shared, not copied
    np.testing.assert_allclose(hessian.to_dense().numpy(), rosenbrock_hessian(x), rtol=1e-14,
                               atol=1e-12)  # fmt: skip
    out = m.hessian(np.zeros(n))
    assert m.hessian(x, out=out) is out
    np.testing.assert_array_equal(out.values().numpy(), hessian.values().numpy())
    with pytest.raises(ValueError, match="expected a sparse CSR tensor float64"):
        m.hessian(x, out=torch.zeros(n, n, dtype=torch.float64))
    lower = m.hessian_values(torch.as_tensor(x))
    np.testing.assert_array_equal(
        lower.numpy(), hessian.to_dense().numpy()[m.HESSIAN_ROWS, m.HESSIAN_COLS]
    )


PAIRS = [
    ("jax:reverse", "jax:forward", {}),
    ("jax:forward", "jax:reverse", {}),
    ("torch:reverse", "torch:forward", {}),
    ("torch:forward", "torch:reverse", {"torch_mode": "eager"}),
    ("sympy", "jax:forward", {}),
    ("sympy", "torch:reverse", {}),
]


@pytest.mark.parametrize(("inner", "outer", "options"), PAIRS)
def test_every_jax_and_torch_outer_takes_sparse(
    project: Project, inner: str, outer: str, options: dict[str, Any]
) -> None:
    """The Hessian of a Lagrangian with constants (multipliers, scale) at n = 40, by every kind
    of pair with a jax or torch outer: the sparse Hessian equals the module's own dense one."""
    n = 40
    args = {"x": f"float64[{n}]", "multipliers": f"float64[{n - 2}]", "scale": "float64[]"}
    fields = dict(args=args, ops="hessian", backend=inner, outer=outer, **options)
    sparse = module(project, "lagrangian", "lagrangian_sparse", sparse=True, **fields)
    dense = module(project, "lagrangian", "lagrangian_dense", **fields)
    rng = np.random.default_rng(7)
    point = (rng.uniform(-1, 1, n), rng.uniform(-1, 1, n - 2), np.float64(0.5))
    found = sparse.hessian(*point)
    if hasattr(found, "toarray"):  # numpy modules (over sympy): a scipy.sparse.csr_array
        as_dense = found.toarray()
    elif hasattr(found, "to_dense"):  # torch: a sparse CSR tensor
        as_dense = found.to_dense().numpy()
    else:  # jax: a BCOO
        as_dense = as_numpy(found)
    np.testing.assert_allclose(np.asarray(as_dense), np.asarray(dense.hessian(*point)),
                               rtol=1e-12, atol=1e-10)  # fmt: skip
    assert sparse.DIFFGEN["sparse"]["hessian"]["colors"] == 3
    values = np.asarray(sparse.hessian_values(*point))
    np.testing.assert_allclose(
        values, np.asarray(as_dense)[sparse.HESSIAN_ROWS, sparse.HESSIAN_COLS], atol=1e-10
    )
