"""Array flavours of generated modules: how numpy, jax and torch modules type their arrays."""

from __future__ import annotations

from dataclasses import dataclass

from .imports import import_block
from .spec import Spec

#: What every generated test file imports, beside its flavour's test_imports.
TEST_IMPORTS = (
    "import importlib.util",
    "import pytest",
    "from pathlib import Path",
    "from types import ModuleType",
    "from typing import Any, Final",
)


@dataclass(frozen=True)
class Flavour:
    """The array library of a module: its template of helpers and how it spells types."""

    name: str
    template: str  # macros helpers(plan), final(r), empty(...), test_imports(), test_helpers()
    dtype_module: str  # where dtypes live in generated code: "np", "jnp", "torch"
    array: str  # the checked-array annotation; {dtype} is replaced by the dtype expression
    accepted: str  # what else a parameter accepts, "" for nothing: "npt.NDArray[{dtype}]"
    checked: str  # what an argument is once checked (jax passes numpy arrays on as they are)
    scalar_results: bool  # 0-d results as scalars of the dtype (numpy) rather than 0-d arrays
    writes_out: bool  # operators write array results into the caller's `out=` (not jax: immutable)
    imports: tuple[str, ...]  # the import lines of its helpers
    stdlib: tuple[tuple[str, str], ...]  # (module, name) of standard-library names its helpers use
    test_imports: tuple[str, ...]  # the import lines of its test helpers
    #: a sparse matrix result (--sparse): its annotation, and the import lines it needs
    sparse: str = ""
    sparse_imports: tuple[str, ...] = ()

    @property
    def test_import_block(self) -> tuple[str, ...]:
        """The sorted import lines of a generated test file of this flavour."""
        return import_block((*TEST_IMPORTS, *self.test_imports), ())

    def dtype(self, spec: Spec) -> str:
        return f"{self.dtype_module}.{spec.dtype}"

    def array_annotation(self, spec: Spec) -> str:
        return self.array.format(dtype=self.dtype(spec))

    def checked_annotation(self, spec: Spec) -> str:
        return self.checked.format(dtype=self.dtype(spec))

    def parameter_annotation(self, spec: Spec) -> str:
        """A parameter: the flavour's array, other arrays it converts, floats for 0-d specs."""
        options = [self.array_annotation(spec)]
        if self.accepted:
            options.append(self.accepted.format(dtype=f"np.{spec.dtype}"))
        if spec.is_scalar:
            options.insert(0, "float")
        return " | ".join(dict.fromkeys(options))

    def result_annotation(self, spec: Spec) -> str:
        return (
            self.dtype(spec)
            if spec.is_scalar and self.scalar_results
            else (self.array_annotation(spec))
        )


FLAVOURS: dict[str, Flavour] = {
    "numpy": Flavour(
        name="numpy",
        template="flavour_numpy.py.jinja",
        dtype_module="np",
        array="npt.NDArray[{dtype}]",
        accepted="",
        checked="npt.NDArray[{dtype}]",
        scalar_results=True,
        writes_out=True,
        imports=("import numpy as np", "import numpy.typing as npt"),
        stdlib=(
            ("typing", "Any"),
            ("typing", "Generic"),
            ("typing", "NamedTuple"),
            ("typing", "TypeVar"),
        ),
        test_imports=("import numpy as np", "import numpy.typing as npt"),
        sparse="scipy.sparse.csr_array",
        sparse_imports=("import scipy.sparse",),
    ),
    "jax": Flavour(
        name="jax",
        template="flavour_jax.py.jinja",
        dtype_module="np",  # jax arrays' dtypes are numpy's
        array="jax.Array",
        accepted="npt.NDArray[{dtype}]",
        checked="jax.Array | npt.NDArray[{dtype}]",
        scalar_results=False,  # 0-d results are 0-d jax.Arrays: one return type
        writes_out=False,
        imports=("import jax", "import numpy as np", "import numpy.typing as npt"),
        stdlib=(
            ("collections.abc", "Callable"),
            ("collections.abc", "Sequence"),
            ("typing", "Any"),
            ("typing", "Generic"),
            ("typing", "NamedTuple"),
            ("typing", "TypeVar"),
            ("typing", "cast"),
        ),
        test_imports=(
            "import jax",
            "import numpy as np",
            "import numpy.typing as npt",
            "from collections.abc import Iterator",
        ),
        sparse="jax.experimental.sparse.BCOO",
        sparse_imports=("import jax.experimental.sparse",),
    ),
    "torch": Flavour(
        name="torch",
        template="flavour_torch.py.jinja",
        dtype_module="torch",
        array="torch.Tensor",
        accepted="npt.NDArray[{dtype}]",  # shared with torch.as_tensor
        checked="torch.Tensor",
        scalar_results=False,  # 0-d results are 0-d tensors: one return type
        writes_out=True,
        imports=("import numpy as np", "import numpy.typing as npt", "import torch"),
        stdlib=(("typing", "NamedTuple"),),
        test_imports=("import numpy as np", "import numpy.typing as npt", "import torch"),
        sparse="torch.Tensor",  # a sparse CSR tensor (layout torch.sparse_csr)
        sparse_imports=("import warnings",),
    ),
}
