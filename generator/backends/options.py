"""Every backend family's options, one entry per family: what the command line and config read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..options import BackendOptions
from ..sparse_options import SparseOptions
from .jax_options import JaxOptions
from .torch_options import TorchOptions

#: The options of each backend family that has any: flags, config keys and checks come from them.
OPTIONS: tuple[type[BackendOptions], ...] = (JaxOptions, TorchOptions, SparseOptions)


def options_from(values: Mapping[str, Any], where: str) -> tuple[BackendOptions, ...]:
    """Every family's options among `values` (config keys or argparse dests), types checked;
    `where` names the config entry in an error."""
    return tuple(family.from_values(values, where) for family in OPTIONS)
