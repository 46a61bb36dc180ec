"""Format rendered code with black, in-process."""

from __future__ import annotations

import sys
import tempfile
import time

from black import format_str
from black.mode import Mode, TargetVersion
from black.parsing import InvalidInput

from .errors import DiffgenError

MODE = Mode(target_versions={TargetVersion.PY311}, line_length=100)
#: Files longer than this many lines are announced on stderr before black runs (seconds).
ANNOUNCE_LINES = 5_000


def format_source(code: str, name: str) -> str:
    """Format code with black; a failure is a bug in a template, reported with the raw code."""
    lines = code.count("\n")
    start = time.monotonic()
    if lines > ANNOUNCE_LINES:
        print(f"diffgen: black: formatting {name} ({lines:,} lines)", file=sys.stderr, flush=True)
    try:
        formatted = format_str(code, mode=MODE)
        if lines > ANNOUNCE_LINES:
            elapsed = time.monotonic() - start
            print(f"diffgen: black: {name} done ({elapsed:.0f} s)", file=sys.stderr, flush=True)
        return formatted
    except InvalidInput as error:
        with tempfile.NamedTemporaryFile("w", suffix=f"_{name}", delete=False) as raw:
            raw.write(code)
        raise DiffgenError(
            f"the rendered {name} is not valid Python",
            f"black could not parse it ({error}); this is a bug in diffgen's templates",
            f"report it with the rendered code, saved at {raw.name}",
        ) from error
