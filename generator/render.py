"""Render plans (the module's and its tests') through the one Jinja environment."""

from __future__ import annotations

from .model import ModulePlan
from .names import check_tests, finalize
from .templating import environment
from .testplan import TestPlan


def render_module(plan: ModulePlan) -> str:
    """The module's source: rendered from the plan in placeholder names, then with every name
    of the generator that an argument's name would shadow renamed, and the arguments' names
    back (generator/names.py refuses, with DiffgenError, what it cannot make safe)."""
    source = environment().get_template("module.py.jinja").render(plan=plan.masked or plan)
    return finalize(source, plan.names) if plan.names else source


def render_tests(plan: TestPlan) -> str:
    """The tests' source, checked: each argument (and tangent) has one entry in their table."""
    source = environment().get_template("test_module.py.jinja").render(plan=plan)
    if plan.module.names:
        check_tests(source, plan.module.names)
    return source


def render_private(plan: ModulePlan) -> str:
    """The private `_inner_*` functions alone, for a foreign outer that traces or calls them."""
    return environment().get_template("private.py.jinja").render(plan=plan)
