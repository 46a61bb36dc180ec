"""Sparsity patterns: which entries of a Jacobian or Hessian can be nonzero, fixed at generation.

A `Pattern` is the structure only (no values): the shape and the coordinates of the entries that
may be nonzero, sorted in row-major order, each once. It comes from one of three places, named in
`source`: the symbolic trace (`symbolic`), a jaxpr (`jaxpr`), or a scipy.sparse `.npz` file the
user passed (`user`). Detection is structural and global: an entry outside the pattern is zero at
every point, never a value that happened to vanish at a sample point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse

from ..errors import DiffgenError

#: A read-only int64 array of indices.
Indices = npt.NDArray[np.int64]
Source = Literal["symbolic", "jaxpr", "user"]


def _frozen(values: npt.ArrayLike) -> Indices:
    array = np.array(values, dtype=np.int64).reshape(-1)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Pattern:
    """The structure of an m x n sparse matrix: coordinates sorted by (row, col), each once."""

    shape: tuple[int, int]
    rows: Indices
    cols: Indices
    source: Source

    @classmethod
    def from_coo(
        cls, shape: tuple[int, int], rows: npt.ArrayLike, cols: npt.ArrayLike, source: Source
    ) -> Pattern:
        """A pattern from coordinates in any order, repeats allowed; out of range is an error."""
        m, n = (int(size) for size in shape)
        r, c = np.asarray(rows, dtype=np.int64).reshape(-1), np.asarray(cols, np.int64).reshape(-1)
        if r.shape != c.shape:
            raise ValueError(f"{r.size} row indices but {c.size} column indices")
        if r.size and (r.min() < 0 or r.max() >= m or c.min() < 0 or c.max() >= n):
            raise ValueError(f"coordinates outside a {m} x {n} matrix")
        keys = np.unique(r * n + c) if n else np.zeros(0, np.int64)
        return cls((m, n), _frozen(keys // max(n, 1)), _frozen(keys % max(n, 1)), source)

    @classmethod
    def dense(cls, shape: tuple[int, int], source: Source) -> Pattern:
        """Every entry."""
        m, n = shape
        return cls.from_coo(shape, np.repeat(np.arange(m), n), np.tile(np.arange(n), m), source)

    @classmethod
    def from_matrix(cls, matrix: Any, source: Source) -> Pattern:
        """The stored entries of a scipy.sparse matrix (explicit zeros included), or the nonzeros
        of a dense array."""
        if scipy.sparse.issparse(matrix):
            coo = scipy.sparse.coo_array(matrix)
            m, n = coo.shape
            return cls.from_coo((int(m), int(n)), coo.row, coo.col, source)
        array = np.asarray(matrix)
        if array.ndim != 2:
            raise ValueError(f"a pattern is 2-D, not of shape {array.shape}")
        rows, cols = np.nonzero(array)
        return cls.from_coo((array.shape[0], array.shape[1]), rows, cols, source)

    @property
    def nnz(self) -> int:
        """The number of entries that can be nonzero."""
        return int(self.rows.size)

    @property
    def density(self) -> float:
        """nnz / (m n); 0.0 for an empty shape."""
        m, n = self.shape
        return self.nnz / (m * n) if m * n else 0.0

    @property
    def indptr(self) -> Indices:
        """CSR row pointers: the pattern's order is CSR order, so (values, cols, indptr) is a
        scipy.sparse.csr_array (and a torch sparse CSR tensor) with no reordering."""
        return _frozen(np.searchsorted(self.rows, np.arange(self.shape[0] + 1)))

    def __eq__(self, other: object) -> bool:
        """The same shape and coordinates (wherever they came from)."""
        if not isinstance(other, Pattern):
            return NotImplemented
        return (
            self.shape == other.shape
            and np.array_equal(self.rows, other.rows)
            and np.array_equal(self.cols, other.cols)
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.rows.tobytes(), self.cols.tobytes()))

    def __repr__(self) -> str:
        return f"Pattern({self.describe()}, source={self.source!r})"

    def describe(self) -> str:
        """`10000 x 10000, 29998 nonzeros (0.030% dense)`: what a docstring or the CLI says."""
        m, n = self.shape
        return f"{m} x {n}, {self.nnz} nonzeros ({100 * self.density:.3g}% dense)"

    def to_csr(self) -> scipy.sparse.csr_array:
        """The pattern as a CSR array of ones (int8), in the coordinates' order."""
        ones = np.ones(self.nnz, dtype=np.int8)
        return scipy.sparse.csr_array((ones, (self.rows, self.cols)), shape=self.shape)

    def to_dense(self) -> npt.NDArray[np.bool_]:
        """A boolean m x n array, True where an entry can be nonzero."""
        dense = np.zeros(self.shape, dtype=bool)
        dense[self.rows, self.cols] = True
        return dense

    def transpose(self) -> Pattern:
        """The pattern of the transposed matrix."""
        return Pattern.from_coo(self.shape[::-1], self.cols, self.rows, self.source)

    def is_symmetric(self) -> bool:
        """Square and equal to its transpose."""
        return self.shape[0] == self.shape[1] and self == self.transpose()

    def symmetrized(self) -> Pattern:
        """The union with its transpose (a square pattern)."""
        rows = np.concatenate([self.rows, self.cols])
        cols = np.concatenate([self.cols, self.rows])
        return Pattern.from_coo(self.shape, rows, cols, self.source)

    def lower(self) -> Pattern:
        """The entries on and below the diagonal: what IPOPT's `hessianstructure` takes."""
        keep = self.rows >= self.cols
        return Pattern.from_coo(self.shape, self.rows[keep], self.cols[keep], self.source)

    def covers(self, other: Pattern) -> bool:
        """Every entry of `other` is in this pattern (this one is conservative for it)."""
        if self.shape != other.shape:
            return False
        n = self.shape[1]
        return bool(np.isin(other.rows * n + other.cols, self.rows * n + self.cols).all())

    def positions(self, rows: Indices, cols: Indices) -> Indices:
        """The position in (rows, cols) order of each given coordinate; -1 where it is absent."""
        n = self.shape[1]
        keys, wanted = self.rows * n + self.cols, rows * n + cols
        where = np.searchsorted(keys, wanted)
        found = where < keys.size
        found[found] = keys[where[found]] == wanted[found]
        return np.where(found, where, -1).astype(np.int64)


def load_npz(path: Path, shape: tuple[int, int], what: str, symmetric: bool = False) -> Pattern:
    """A user's pattern from a scipy.sparse `.npz` file: its stored entries, of the given shape.

    `what` names the matrix in errors ("the Jacobian of f"). A Hessian pattern (`symmetric`)
    may hold one triangle (IPOPT's convention) or both: it is symmetrized.
    """
    try:
        matrix = scipy.sparse.load_npz(path)
    except FileNotFoundError as error:
        raise DiffgenError(
            f"the sparsity pattern file {path} does not exist",
            f"--sparsity names the file that holds the pattern of {what}",
            "check the path (a relative path starts at the project root)",
        ) from error
    except (OSError, ValueError, KeyError) as error:
        raise DiffgenError(
            f"{path} is not a scipy.sparse .npz file ({error})",
            "a pattern file is what scipy.sparse.save_npz writes",
            "save the pattern with scipy.sparse.save_npz(path, scipy.sparse.csr_array(mask))",
        ) from error
    if tuple(matrix.shape) != tuple(shape):
        m, n = shape
        raise DiffgenError(
            f"the pattern in {path} is {matrix.shape[0]} x {matrix.shape[1]}, but {what} is "
            f"{m} x {n}",
            "a Jacobian has one row per output entry and one column per entry of the active "
            "argument (both flattened in C order); a Hessian is n x n",
            f"save a {m} x {n} pattern, or check the argument specs",
        )
    pattern = Pattern.from_matrix(matrix, "user")
    return pattern.symmetrized() if symmetric else pattern
