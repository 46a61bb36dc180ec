"""Stage 4: format rendered code with black, in-process."""

from __future__ import annotations

import tempfile

from black import format_str
from black.mode import Mode, TargetVersion
from black.parsing import InvalidInput

from .errors import DiffgenError

MODE = Mode(target_versions={TargetVersion.PY311}, line_length=100)


def format_source(code: str, name: str) -> str:
    """Format code with black; a failure is a bug in a template, reported with the raw code."""
    try:
        return format_str(code, mode=MODE)
    except InvalidInput as error:
        with tempfile.NamedTemporaryFile("w", suffix=f"_{name}", delete=False) as raw:
            raw.write(code)
        raise DiffgenError(
            f"the rendered {name} is not valid Python",
            f"black could not parse it ({error}); this is a bug in diffgen's templates",
            f"report it with the rendered code, saved at {raw.name}",
        ) from error
