"""The operator table and each backend family's rules: every operator has its rule everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from generator.backends import differences
from generator.backends.finitediff import MATRIX_CHEAPER
from generator.expected import SCIPY
from generator.operators import (
    BATCHED,
    INNER_QUANTITIES,
    OPERATORS,
    QUANTITIES,
    TANGENT_PARAMETERS,
    TANGENTS,
    Rules,
    fitting_operators,
    order_of,
    tangent_spec,
)
from generator.spec import parse_spec
from generator.symbolic.derivatives import SYMBOLIC

#: Every family's rules: a new operator without a rule in one of them fails here.
RULES: list[Rules[Any]] = [
    SYMBOLIC,
    SCIPY,
    differences.NESTED,
    differences.OUTER,
    differences.BATCH,
    MATRIX_CHEAPER,
]


@pytest.mark.parametrize("rules", RULES, ids=lambda r: r.family)
def test_every_family_has_a_rule_for_what_it_covers(rules: Rules[Any]) -> None:
    assert rules.covers and rules.missing() == ()
    assert set(rules) <= set(QUANTITIES)  # no rule for a name the table does not know


def test_the_rules_cover_the_whole_table() -> None:
    assert set(SYMBOLIC.covers) == set(SCIPY.covers) == set(QUANTITIES)
    assert set(differences.BATCH.covers) == set(MATRIX_CHEAPER.covers) == set(BATCHED)
    second = {q for op in OPERATORS.values() if op.order == 2 for q in op.variant_results}
    assert set(differences.OUTER.covers) == second


def test_a_missing_or_doubled_rule_is_named() -> None:
    rules: Rules[int] = Rules("a family", ("hvp", "hessian"), {"hvp": 1})
    assert rules.missing() == ("hessian",) and rules["hvp"] == 1 and "hessian" not in rules
    with pytest.raises(KeyError, match="a family has no rule for 'hessian'"):
        rules["hessian"]
    with pytest.raises(ValueError, match="a family has two rules for 'hvp'"):
        rules.register("hvp")(2)


def test_the_table_is_consistent() -> None:
    for name, op in OPERATORS.items():
        assert op.variant is not None and op.result.name == name and name in op.variant_results
        assert all(q in QUANTITIES for q in op.variant_results)
        assert op.functions == ((name, (name,)), (op.variant, op.variant_results))
        assert (op.inner is not None) == (op.order == 2)
        assert op.inner is None or (op.inner in INNER_QUANTITIES and op.inner in OPERATORS)
        assert (op.batched == f"{name}_batch") == (op.tangent is not None)
        assert op.tangent is None or op.tangent in TANGENTS
    assert BATCHED == ("pushforward", "pullback", "hvp")
    assert TANGENT_PARAMETERS == ("dx", "dy", "dxs", "dys")
    assert order_of(()) == 0 and order_of(("value", "pullback_batch")) == 1
    assert order_of(("gradient", "hvp_batch")) == 2


@pytest.mark.parametrize(
    ("x", "y", "shapes"),
    [
        ("float64[10]", "float64[]", {"gradient": (10,), "hessian": (10, 10), "hvp": (10,)}),
        ("float32[2,3]", "float64[4]", {"jacobian": (4, 6), "pullback": (2, 3)}),
        ("float32[]", "float32[3]", {"derivative": (3,), "second_derivative": (3,)}),
    ],
)
def test_results_are_shaped_by_the_table(x: str, y: str, shapes: dict[str, Any]) -> None:
    """jacobian (y.size, x.size) and hessian (x.size, x.size) in the coarser dtype."""
    xs, ys = parse_spec(x), parse_spec(y)
    coarser = xs.dtype if xs.eps >= ys.eps else ys.dtype
    for name, shape in shapes.items():
        spec = QUANTITIES[name].spec(xs, ys)
        assert spec.shape == shape
        assert spec.dtype == (coarser if len(shape) == 2 else spec.dtype)
    assert tangent_spec("dx", xs, ys) == xs and tangent_spec("dy", xs, ys) == ys
    assert set(shapes) <= set(fitting_operators(xs, ys))
