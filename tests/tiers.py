"""The test tiers: each test's tier and backend families, from its file and its parameters."""

from __future__ import annotations

import functools
import itertools
import re
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression  # pytest's own parser of -m

REPO = Path(__file__).resolve().parent.parent

#: The tier of each test file outside the unit tier (the default; generated/'s test files are
#: golden). Every test gets exactly one tier marker, so that the tiers partition the suite: its
#: file's, or its own where a test is marked with another (@pytest.mark.e2e in a unit file).
TIERS = {
    "test_ad.py": "backend",  # plans and runs jax and torch kernels side by side
    "test_jax_backend.py": "backend",
    "test_jax_numpy_and_transforms.py": "backend",
    "test_torch_backend.py": "backend",
    "test_torch_aoti.py": "backend",  # C++ compiles: tens of seconds each
    "test_sympy_backend.py": "backend",
    "test_finitediff_robust.py": "backend",
    "test_sparse_ad.py": "backend",  # jax and torch sparse modules at a user's size
    "test_sparse_ipopt.py": "e2e",  # IPOPT (cyipopt) driven by generated sparse modules
    "test_build_and_check.py": "e2e",
    "test_sparse_modules.py": "e2e",  # generates sparse numpy modules and runs their tests
    "test_api.py": "e2e",  # generates and builds through the Python API
    "test_bench_and_tune.py": "e2e",
    "test_inputs.py": "e2e",  # generates a numpy, a jax and a torch module, then calls them
    "test_kinds.py": "e2e",
    "test_names.py": "e2e",  # every name through every backend and pair
    "test_pairs.py": "e2e",
    "test_references.py": "e2e",  # references of user-sized functions, the sympy budget
    "test_state.py": "e2e",
    "test_user_project.py": "e2e",
    "test_wrt.py": "e2e",  # every backend and pair with the active argument after a constant
    "test_wheel.py": "e2e",
    "test_golden.py": "golden",
    "test_scenarios.py": "scenarios",
    "test_torch_corpus.py": "scenarios",
}
#: The backend families a test file is about, whatever its parameters.
FAMILIES_OF_FILE = {
    "test_ad.py": ("jax", "torch"),
    "test_jax_backend.py": ("jax",),
    "test_jax_numpy_and_transforms.py": ("jax",),
    "test_torch_backend.py": ("torch",),
    "test_torch_aoti.py": ("torch",),
    "test_torch_corpus.py": ("torch", "jax"),  # jax computes the references
    "test_sympy_backend.py": ("sympy",),
    "test_symbolic.py": ("sympy",),
    "test_emit.py": ("sympy",),
    "test_finitediff_robust.py": ("finitediff",),
    "test_sparse_ad.py": ("jax", "torch"),
    "test_sparse_ipopt.py": ("jax",),
    "test_sparse_pattern.py": ("sympy", "jax"),  # the symbolic and the jaxpr (asdex) routes
}
FAMILIES = ("finitediff", "sympy", "jax", "torch")
TIER_MARKERS = ("unit", "backend", "e2e", "golden", "scenarios")
TIER_NAMES = frozenset({*TIER_MARKERS, *FAMILIES})
#: Tests left out unless the -m expression names their marker (pytest's own -m would replace
#: the default expression, and `-m unit` would then run them).
OPT_IN = ("slow", "fuzz")


@functools.cache
def module_families(path: Path) -> frozenset[str]:
    """The backend families of a generated module (its DIFFGEN backend and outer)."""
    if not path.is_file():
        return frozenset()
    text = path.read_text()
    found = re.findall(r'^ +"(?:backend|outer)": "([a-z]+)', text, re.M)
    return frozenset(f for f in found if f in FAMILIES)


def families(value: object) -> set[str]:
    """The backend families named in a test's parameter: a backend or pair name, a generated
    module's path, or a tuple holding them."""
    if isinstance(value, str):
        family, _, mode = value.partition(":")
        named = family in FAMILIES and mode in ("", "forward", "reverse")
        return {family} if named else set()
    if isinstance(value, Path):
        return set(module_families(value)) if value.parent == REPO / "generated" else set()
    if isinstance(value, tuple | list):
        return set().union(*map(families, value))
    return set()


def tier_markers(item: pytest.Item) -> tuple[str, ...]:
    """The markers of a test: its tier (its file's, unless the test is marked with another),
    then the backend families it exercises."""
    path = Path(item.path)
    if path.parent == REPO / "generated":
        module = path.with_name(path.name.removeprefix("test_"))
        return ("golden", *sorted(module_families(module)))
    found = set(FAMILIES_OF_FILE.get(path.name, ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        found |= families(tuple(callspec.params.values()))
    marked = any(item.get_closest_marker(tier) for tier in TIER_MARKERS)
    return (*(() if marked else (TIERS.get(path.name, "unit"),)), *sorted(found))


def file_markers(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(markers every test of the file has, markers some of its tests may have)."""
    if path.parent == REPO / "generated":
        module = path.with_name(path.name.removeprefix("test_"))
        return frozenset({"golden", *module_families(module)}), frozenset()
    tier, own = TIERS.get(path.name, "unit"), set(FAMILIES_OF_FILE.get(path.name, ()))
    text = path.read_text()
    marked = {t for t in TIER_MARKERS if f"pytest.mark.{t}" in text}  # a test's own tier
    fixed = own if marked else {tier, *own}
    return frozenset(fixed), frozenset(FAMILIES) - own | (marked | {tier} if marked else set())


class Pruner:
    """A plugin that skips collecting test files none of whose tests an -m expression selects."""

    def __init__(self, expression: str) -> None:
        self.expression = Expression.compile(expression)
        self.names = set(re.findall(r"[\w.]+", expression)) - {"and", "or", "not"}

    def selects(self, path: Path) -> bool:
        """Whether some test of the file may match: its fixed markers hold, and any other name
        in the expression (a family from parameters, slow, skipif, ...) may or may not."""
        fixed, possible = file_markers(path)
        free = sorted((self.names - fixed) & (possible | (self.names - TIER_NAMES)))
        for values in itertools.product((False, True), repeat=len(free)):
            chosen = fixed | {n for n, v in zip(free, values, strict=True) if v}
            if self.expression.evaluate(lambda name, /, **_: name in chosen):  # noqa: B023
                return True
        return False

    @pytest.hookimpl
    def pytest_ignore_collect(self, collection_path: Path) -> bool | None:
        path = Path(collection_path)
        if path.suffix != ".py" or not path.name.startswith("test_"):
            return None
        if path.parent not in (REPO / "tests", REPO / "generated"):
            return None
        return None if self.selects(path) else True
