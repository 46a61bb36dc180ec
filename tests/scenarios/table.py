"""The scenario table: specs, and the Jacobian and second derivatives written out by hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
C3 = np.array([0.5, -1.0, 2.0])
C4 = np.array([0.5, -1.0, 2.0, 1.5])
C23 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


@dataclass(frozen=True)
class Scenario:
    """A function of DI's families: specs, a point, and closed-form derivatives there."""

    name: str
    x: Array
    constant: Array | None
    jacobian: Callable[[Array], Array]  # (y.size, x.size)
    second: Callable[[Array], Array] | None = None  # Hessian (x.size, x.size) or d2y (y.size,)
    more: tuple[Array, ...] = ()  # further constants, named d, e, ... after c
    dtype: str = "float64"  # of x and the constants
    function: str = ""  # the function in functions.py, if not `name`
    position: int = 0  # where x is among the function's parameters (the constants around it)

    @property
    def point(self) -> Array:
        """x in the scenario's dtype: where the module is called and the references taken."""
        return np.asarray(self.x, dtype=self.dtype)

    @property
    def constants(self) -> tuple[Array, ...]:
        """The constant arguments in signature order (after x), in the scenario's dtype."""
        found = () if self.constant is None else (self.constant, *self.more)
        return tuple(np.asarray(c, dtype=self.dtype) for c in found)

    @property
    def args(self) -> tuple[tuple[str, str], ...]:
        """(name, spec) of each parameter in the function's order."""
        names = "cdefg"[: len(self.constants)]
        found = list(zip(names, map(spec, self.constants), strict=True))
        return (*found[: self.position], ("x", spec(self.point)), *found[self.position :])

    def call(self, x: Array, *tangents: Array) -> tuple[Array, ...]:
        """The arguments of an operator, as the generated modules take them: the function's
        own order, the tangent (if any) right after x."""
        found = self.constants
        return (*found[: self.position], x, *tangents, *found[self.position :])


def spec(a: Array) -> str:
    return f"{np.asarray(a).dtype}[{','.join(map(str, np.shape(a)))}]"


def sech2(x: Array) -> Array:
    return 1.0 - np.tanh(x) ** 2


def col(*entries: Array) -> Array:
    return np.array([np.ravel(e)[0] for e in entries]).reshape(-1, 1)


A4 = np.array([[0.5, -1.0, 2.0, 1.5], [1.5, 0.25, -0.75, 0.3], [-0.2, 0.6, 0.1, -1.1]])
X0 = np.array(0.7)
V = np.array([0.3, -0.5, 0.8, 1.1])
M = np.array([[0.3, -0.5, 0.8], [1.1, -0.2, 0.6]])
M32 = M.T.copy()
Q = np.array([[2.0, -0.5, 0.25, 1.0], [0.5, 1.5, -1.0, 0.0], [0.75, 0.3, -2.0, 0.4],
              [-1.0, 0.2, 0.6, 1.2]])  # fmt: skip
LAM = np.array([0.7, -1.3])


def lagrangian_gradient(x: Array) -> Array:
    """Of 0.5 |x|^2 + x0 x3 + l0 (|x|^2 - 1) + l1 (x0 x1 + exp(x2))."""
    l0, l1 = LAM
    return (1 + 2 * l0) * x + np.array([x[3] + l1 * x[1], l1 * x[0], l1 * np.exp(x[2]), x[0]])


def lagrangian_hessian(x: Array) -> Array:
    l0, l1 = LAM
    hessian = (1 + 2 * l0) * np.eye(4)
    hessian[0, 3] = hessian[3, 0] = 1.0
    hessian[0, 1] = hessian[1, 0] = l1
    hessian[2, 2] += l1 * np.exp(x[2])
    return hessian


SCENARIOS = [
    Scenario("scalar_scalar", X0, None,
             lambda x: col(np.cos(x) * x**2 + 2 * x * np.sin(x)),
             lambda x: np.array([(2 - x**2) * np.sin(x) + 4 * x * np.cos(x)])),
    Scenario("scalar_scalar_c", X0, np.array(1.5),
             lambda x: col(1.5 * np.exp(x)), lambda x: np.array([1.5 * np.exp(x)])),
    Scenario("scalar_vector", X0, None,
             lambda x: col(np.cos(x), -np.sin(x), 3 * x**2),
             lambda x: np.array([-np.sin(x), -np.cos(x), 6 * x])),
    Scenario("scalar_vector_c", X0, C3,
             lambda x: (2 * C3 * x).reshape(-1, 1), lambda x: 2 * C3),
    Scenario("scalar_matrix", X0, None,
             lambda x: col(1.0, 2 * x, 3 * x**2, np.cos(x)),
             lambda x: np.array([0.0, 2.0, 6 * x, -np.sin(x)])),
    Scenario("vector_scalar", V, None,
             lambda x: (np.sin(x) + x * np.cos(x) + np.r_[0, x[:-1]] + np.r_[x[1:], 0])[None],
             lambda x: np.diag(2 * np.cos(x) - x * np.sin(x)) + np.eye(4, k=1) + np.eye(4, k=-1)),
    Scenario("vector_scalar_c", V, C4,
             lambda x: (3 * C4 * x**2).reshape(1, -1), lambda x: np.diag(6 * C4 * x)),
    # two constants, a matrix and a 0-d scalar: s * sum(tanh(A x))
    Scenario("vector_scalar_cc", V, A4,
             lambda x: (1.5 * A4.T @ sech2(A4 @ x)).reshape(1, -1),
             lambda x: 1.5 * A4.T @ np.diag(-2 * np.tanh(A4 @ x) * sech2(A4 @ x)) @ A4,
             more=(np.array(1.5),)),
    # 1-D `@` on both sides of a constant: x^T Q x
    Scenario("quadratic_form", V, Q,
             lambda x: ((Q + Q.T) @ x).reshape(1, -1), lambda x: Q + Q.T),
    # a Lagrangian: an objective plus constant multipliers @ constraints
    Scenario("lagrangian", V, LAM,
             lambda x: lagrangian_gradient(x).reshape(1, -1), lagrangian_hessian),
    # float32: x and the constant (exact in float32) rounded, references in float64 there
    Scenario("vector_scalar_c_float32", V, C4,
             lambda x: (3 * C4 * x**2).reshape(1, -1), lambda x: np.diag(6 * C4 * x),
             dtype="float32", function="vector_scalar_c"),
    Scenario("matrix_scalar", M, None,
             lambda x: (np.tanh(x) + x * sech2(x)).reshape(1, -1),
             lambda x: np.diag((2 * sech2(x) * (1 - x * np.tanh(x))).reshape(-1))),
    Scenario("vector_vector", V, None,
             lambda x: np.diag(2 * x) + 2 * np.fliplr(np.eye(4))),
    Scenario("vector_vector_c", V, C4, lambda x: np.diag(np.exp(x) * C4)),
    Scenario("vector_matrix", V, None,
             lambda x: np.einsum("ik,j->ijk", np.eye(4), x).reshape(16, 4)
             + np.einsum("i,jk->ijk", x, np.eye(4)).reshape(16, 4)),
    Scenario("matrix_vector", M32, None,
             lambda x: np.einsum("ik,kl->ikl", np.eye(3), 2 * x).reshape(3, 6)),
    Scenario("matrix_matrix", M, None, lambda x: np.diag((2 * x + 1).reshape(-1))),
    Scenario("matrix_matrix_c", M, C23, lambda x: np.diag(C23.reshape(-1))),
    # the active argument after a constant, as in a solver's f(t, y): operators take (c, x)
    Scenario("ode_rhs", V, np.array(1.5), lambda x: np.diag(3.0 * x + np.cos(x)), position=1),
    # the active argument between two constants: operators take (c, x, d)
    Scenario("weighted_cubes", V, C4, lambda x: (4.5 * C4 * x**2).reshape(1, -1),
             lambda x: np.diag(9.0 * C4 * x), more=(np.array(1.5),), position=1),
]  # fmt: skip
