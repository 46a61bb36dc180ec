"""Stage 3: render plans through the one configured Jinja environment."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from .names import check_tests, finalize
from .plan import ModulePlan
from .verify import TestPlan


def templates_dir() -> Path:
    """The templates: inside the installed wheel, else at the top of the source checkout."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "templates"


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


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


#: The private `_inner_*` functions alone, for an outer backend that traces them at generation.
PRIVATE = """{%- import "function.py.jinja" as functions -%}
{% for fn in plan.private %}


{{ functions.function(plan, fn) }}
{% endfor %}
"""


def render_private(plan: ModulePlan) -> str:
    return environment().from_string(PRIVATE).render(plan=plan)
