"""The import block of generated modules: sorted as ruff's isort rule (I001) sorts it."""

from __future__ import annotations

from generator.flavour import FLAVOURS
from generator.imports import import_block


def test_sections_plain_before_from_and_merged_names() -> None:
    lines = ("import torch", "import jax.numpy as jnp", "import examples.rosen as _user_module",
             "import math", "import jax", "from typing import TypeVar")  # fmt: skip
    names = (("typing", "Final"), ("collections.abc", "Mapping"), ("typing", "Any"),
             ("base64", "b64decode"))  # fmt: skip
    assert import_block(lines, names, "examples") == (
        "import math",
        "from base64 import b64decode",
        "from collections.abc import Mapping",
        "from typing import Any, Final, TypeVar",
        "",
        "import jax",
        "import jax.numpy as jnp",
        "import torch",
        "",
        "import examples.rosen as _user_module",
    )


def test_constants_then_classes_then_functions_within_one_from_import() -> None:
    block = import_block((), (("m", "helper"), ("m", "Klass"), ("m", "CONSTANT")), "")
    assert block == ("from m import CONSTANT, Klass, helper",)


def test_a_user_package_named_like_a_standard_module_sorts_last() -> None:
    block = import_block(("import numpy as np", "import json.tools as _user_module"), (), "json")
    assert block == ("import numpy as np", "", "import json.tools as _user_module")


def test_test_files_import_pytest_among_the_third_party_packages() -> None:
    assert FLAVOURS["jax"].test_import_block == (
        "import importlib.util",
        "from collections.abc import Iterator",
        "from pathlib import Path",
        "from types import ModuleType",
        "from typing import Any, Final",
        "",
        "import jax",
        "import numpy as np",
        "import numpy.typing as npt",
        "import pytest",
    )
