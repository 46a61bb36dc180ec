"""The test tiers: the table names real files, parameters give families, -m prunes collection."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiers import FAMILIES_OF_FILE, REPO, TIERS, Pruner, families, file_markers

TESTS, GENERATED = REPO / "tests", REPO / "generated"


def test_the_tables_name_test_files_that_exist() -> None:
    """A renamed test file would silently fall into the unit tier: the tables follow renames."""
    for name in {*TIERS, *FAMILIES_OF_FILE}:
        assert (TESTS / name).is_file(), f"tests/tiers.py names {name}, which is not in tests/"


def test_families_come_from_backend_names_pairs_and_generated_modules() -> None:
    assert families(("jax:forward", "sympy")) == {"jax", "sympy"}
    assert families([("torch:reverse", "finitediff"), "x"]) == {"torch", "finitediff"}
    assert families("jax:sideways") == families("numpy") == families(3) == set()
    assert families(GENERATED / "rosen_finitediff_over_jax_reverse.py") == {"finitediff", "jax"}
    assert families(GENERATED / "rosen_torch_forward_over_sympy.py") == {"torch", "sympy"}


def test_generated_tests_are_golden_with_their_module_families() -> None:
    fixed, possible = file_markers(GENERATED / "test_curve_jax_forward.py")
    assert (fixed, possible) == ({"golden", "jax"}, set())


@pytest.mark.parametrize(
    ("expression", "path", "selected"),
    [
        ("unit", TESTS / "test_emit.py", True),
        ("unit", TESTS / "test_golden.py", False),
        ("unit", TESTS / "test_scenarios.py", False),
        ("unit", GENERATED / "test_rosen_sympy.py", False),
        ("unit and not sympy", TESTS / "test_emit.py", False),  # sympy by its file
        ("unit and not jax", TESTS / "test_emit.py", True),  # jax only from parameters
        ("e2e", TESTS / "test_guards.py", True),  # a unit file with a test marked e2e
        ("e2e", TESTS / "test_emit.py", False),
        ("not scenarios", TESTS / "test_scenarios.py", False),
        ("not scenarios", TESTS / "test_torch_corpus.py", False),
        ("not scenarios", GENERATED / "test_rosen_sympy.py", True),
        ("jax", GENERATED / "test_rosen_sympy.py", False),
        ("jax", GENERATED / "test_rosen_jax_forward_over_sympy.py", True),
        ("jax", TESTS / "test_scenarios.py", True),  # the jax pairs among its parameters
        ("torch and not scenarios", TESTS / "test_torch_backend.py", True),
        ("slow", TESTS / "test_torch_backend.py", True),
        ("golden or slow", TESTS / "test_emit.py", True),  # slow is not known before import
    ],
)
def test_minus_m_skips_collecting_files_it_cannot_select(
    expression: str, path: Path, selected: bool
) -> None:
    assert Pruner(expression).selects(path) is selected
