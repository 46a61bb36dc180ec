"""The import block of a generated module, computed once and sorted as ruff's isort rule (I001)
sorts it: standard library, third party, then the user's own package, each section with its
plain imports before its `from` imports, in module order."""

from __future__ import annotations

import sys
from collections.abc import Iterable


def section(module: str, first_party: str) -> int:
    """0 for the standard library, 1 for third-party packages, 2 for the user's package."""
    top = module.partition(".")[0]
    if top == first_party:
        return 2
    return 0 if top in sys.stdlib_module_names else 1


def import_block(
    lines: Iterable[str], names: Iterable[tuple[str, str]], first_party: str = ""
) -> tuple[str, ...]:
    """The sorted import lines, sections separated by an empty string.

    `lines` are whole statements (`import numpy as np`, `from math import fsum`); `names` are
    (module, name) pairs merged into one `from module import a, b` statement per module.
    `first_party` is the top-level package of the user's function, which sorts last.
    """
    plain: set[str] = set()
    merged: dict[str, set[str]] = {}
    for line in lines:
        if line.startswith("from "):
            module, _, imported = line.removeprefix("from ").partition(" import ")
            merged.setdefault(module, set()).update(n.strip() for n in imported.split(","))
        else:
            plain.add(line)
    for module, name in names:
        merged.setdefault(module, set()).add(name)
    sections: list[list[str]] = [[], [], []]
    for line in sorted(plain, key=lambda text: (text.split()[1].lower(), text)):
        sections[section(line.split()[1], first_party)].append(line)
    for module in sorted(merged, key=str.lower):
        listed = ", ".join(sorted(merged[module], key=member_order))
        sections[section(module, first_party)].append(f"from {module} import {listed}")
    block: list[str] = []
    for lines_of_section in sections:
        if lines_of_section:
            block += [*([""] if block else []), *lines_of_section]
    return tuple(block)


def member_order(name: str) -> tuple[int, str]:
    """isort's order-by-type within one `from` import: CONSTANTS, Classes, then functions."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower()
