"""Compose the backend pair and plan the module: who writes which operator, in names
no argument can meet."""

from __future__ import annotations

from dataclasses import replace

from .backends.registry import ENTRIES, check_pair, get_backend, get_outer
from .errors import DiffgenError
from .model import Inspected, ModulePlan, Names, Pair
from .operators import Operator
from .plan import masked_plan, module_docstring, public_parameters, resolve_operators, unmasked
from .render import render_private
from .sparse.plan import describe


def decide_pair(inspected: Inspected, ops: tuple[Operator, ...]) -> Pair:
    """The pair of the target, checked against what the backends declare: one family (jax over
    jax) composes itself; across families the inner writes private functions in the library
    of the outer where it can print that one, else in its own, and the outer calls them."""
    target = inspected.target
    outer = target.outer or target.backend
    second = any(op.order == 2 for op in ops)
    if target.outer is not None or second:
        check_pair(outer, target.backend)
    inner_entry, outer_entry = ENTRIES[target.backend], ENTRIES[outer]
    if not second or inner_entry.family == outer_entry.family:
        return Pair(target.backend, outer)
    own = outer_entry.flavour in inner_entry.dialects
    return Pair(target.backend, outer, outer_entry.flavour if own else inner_entry.flavour)


def composed(inspected: Inspected, module_name: str, fingerprint: str) -> ModulePlan:
    """The module's plan under placeholder names: the inner backend's plan, and a foreign
    outer's plan over the inner's private functions, rendered for it to trace or call."""
    ops = resolve_operators(inspected, get_backend(inspected.target.backend).operators)
    pair = decide_pair(inspected, ops)
    plan = masked_plan(inspected, module_name, fingerprint, ops, pair)
    if pair.foreign is None:
        return plan
    outer_plan = get_outer(pair.outer).plan_outer(
        inspected, plan.functions, pair.inner, render_private(plan)
    )
    how = f"{plan.backend_plan.description}\n\n{outer_plan.description}"
    if plan.sparse:
        how = f"{describe(plan.sparse, plan.flavour.sparse)}\n\n{how}"
    docstring = module_docstring(inspected, pair.outer, ops, how)
    return replace(plan, outer_plan=outer_plan, docstring=docstring)


def build_plan(inspected: Inspected, module_name: str, fingerprint: str) -> ModulePlan:
    """Check the backend (pair) and operators, and fix every name, type and constant.

    The backends plan with the arguments under placeholder names, so that no argument name can
    meet a name of theirs; the plan returned speaks the user's names (generator/names.py).
    """
    users = [arg.name for arg in inspected.args]
    names = Names.of(inspected.target.function, users, f"{inspected.module}\n{module_name}")
    try:
        masked = composed(names.mask(inspected), module_name, fingerprint)
    except DiffgenError as error:
        raise names.error(error) from error
    return unmasked(masked, names.with_public(public_parameters(masked, names)))
