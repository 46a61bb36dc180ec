"""Property-based fuzzing of the command line: specs, --dim/--arg/--ops/... and config tables.

Whatever the input, diffgen exits 0 (and what it wrote compiles and checks clean), 1 (check
found differences) or 2 with one `diffgen: error:` message and nothing written: never a
traceback, never its internal-error safety net. The default run tries a few examples of each;
`-m fuzz` tries many.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cli import main

SMALL = settings(max_examples=12, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip
LARGE = settings(max_examples=400, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip

FUNCTIONS = """
import numpy as np
from array_api_compat import array_namespace

def f(x, c=1.0):
    xp = array_namespace(x)
    return xp.sum(c * x ** 2)

def g(x, A):
    return A @ x
"""


class Sandbox:
    """One throwaway project for one example, entered for each call of diffgen; a context
    manager that removes its folder on exit (hypothesis runs hundreds of examples)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="diffgen-fuzz-"))
        self.module = f"fuzzfns_{uuid.uuid4().hex[:10]}"
        (self.root / f"{self.module}.py").write_text(FUNCTIONS)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        sys.modules.pop(self.module, None)

    def files(self) -> dict[str, bytes]:
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        cwd = os.getcwd()
        os.chdir(self.root)
        sys.path.insert(0, str(self.root))
        try:
            yield
        finally:
            sys.path.remove(str(self.root))
            os.chdir(cwd)

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with self.entered(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
        return code, out.getvalue(), err.getvalue()


def outcome_is_clean(box: Sandbox, argv: list[str], allowed: tuple[int, ...] = (0, 2)) -> None:
    before = box.files()
    code, out, err = box.run(*argv)
    assert code in allowed, (argv, code, out, err)
    assert "internal error" not in err and "Traceback" not in err, (argv, err)
    if code == 2:
        assert err.startswith(("diffgen: error: ", "usage: ")), (argv, err)
        assert box.files() == before, (argv, "a refused command wrote files")
    elif argv[0] != "check":
        for line in out.splitlines():
            path = box.root / line.split(" ", 1)[1]
            compile(path.read_text(), str(path), "exec")  # never a broken module


# ------------------------------------------------------------------------- spec strings
DTYPES = st.sampled_from(["float64", "float32", "int8", "float16", "Float64", "", "f8", "float"])
DIM = st.one_of(
    st.integers(min_value=-3, max_value=6).map(str),
    st.sampled_from(["100000000000", "99999999999999999999", "0", "01", "1e3", "n", " 2", ""]),
)
CLOSE = st.sampled_from(["]", "", "]]", ",]"])
BUILT = st.builds(
    lambda d, dims, end: f"{d}[{','.join(dims)}{end}", DTYPES, st.lists(DIM, max_size=3), CLOSE
)
SPECS = st.one_of(BUILT, st.text(alphabet="float64[],3 \t-x", max_size=14))


def check_spec(spec: str) -> None:
    with Sandbox() as box:
        argv = ["generate", f"{box.module}:f", "--arg", f"x={spec}", "--ops", "gradient",
                "--backend", "finitediff", "--no-tests"]  # fmt: skip
        outcome_is_clean(box, argv)


@SMALL
@given(spec=SPECS)
def test_spec_strings(spec: str) -> None:
    check_spec(spec)


@pytest.mark.fuzz
@LARGE
@given(spec=SPECS)
def test_spec_strings_many(spec: str) -> None:
    check_spec(spec)


# ------------------------------------------------------------------------- command lines
NAMES = st.sampled_from(["x", "c", "A", "n", "y", "", "x x", "out", "_z", "dx"])
OPS = st.lists(
    st.sampled_from(["gradient", "hvp", "jacobian", "all", "bogus", "pullback", "", " "]),
    min_size=0,
    max_size=3,
).map(",".join)
ARG_SPECS = st.sampled_from(["float64[2]", "float32[]", "float64[2,2]", "bogus"])
OUTPUTS = st.sampled_from(
    ["numpy.py", "gen/m.py", "gen/1x.py", "../x.py", "gen/m.txt", "gen/ok.py"]
)
OPTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("--arg"), st.builds(lambda n, s: f"{n}={s}", NAMES, ARG_SPECS)),
        st.tuples(
            st.just("--dim"),
            st.builds(lambda n, v: f"{n}={v}", NAMES, st.sampled_from(["0", "2", "-1", "x", ""])),
        ),
        st.tuples(st.just("--wrt"), NAMES),
        st.tuples(st.just("--outer"), st.sampled_from(["finitediff", "sympy", "nope"])),
        st.tuples(st.just("--batch"), st.sampled_from(["0", "2", "-1", "99999999999999999999"])),
        st.tuples(st.just("--domain"), st.sampled_from(["1,2", "2,1", "a,b", "0.1", "inf,1"])),
        st.tuples(st.just("-o"), OUTPUTS),
    ),
    max_size=4,
)


def check_command_line(function: str, ops: str, options: list[tuple[str, str]]) -> None:
    with Sandbox() as box:
        argv = ["generate", f"{box.module}:{function}", "--ops", ops, "--backend", "finitediff",
                "--no-tests", "--arg", "x=float64[2]"]  # fmt: skip
        for option, value in options:
            argv += [f"{option}={value}"]
        outcome_is_clean(box, argv)


@SMALL
@given(function=st.sampled_from(["f", "g", "h"]), ops=OPS, options=OPTIONS)
def test_command_lines(function: str, ops: str, options: list[tuple[str, str]]) -> None:
    check_command_line(function, ops, options)


@pytest.mark.fuzz
@LARGE
@given(function=st.sampled_from(["f", "g", "h"]), ops=OPS, options=OPTIONS)
def test_command_lines_many(function: str, ops: str, options: list[tuple[str, str]]) -> None:
    check_command_line(function, ops, options)


# ------------------------------------------------------------------------- config tables
SCALARS = st.one_of(
    st.integers(min_value=-2, max_value=10**20),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["all", "gradient", "finitediff", "sympy", "float64[2]", "gen/m.py", "x"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(NAMES.filter(bool), inner, max_size=2)
    ),
    max_leaves=6,
)
KEYS = st.sampled_from(
    ["function", "args", "dims", "wrt", "ops", "backend", "outer", "output", "tests", "batch",
     "domain", "colour"]
)  # fmt: skip


def check_config(tables: list[dict[str, object]], command: str) -> None:
    with Sandbox() as box:
        for table in tables:
            table.setdefault("function", f"{box.module}:f")
            table.setdefault("args", {"x": "float64[2]"})
            table["tests"] = False  # keep each example fast; the tests' writing is fuzzed above
        document = {"tool": {"diffgen": {"targets": tables}}}
        (box.root / "pyproject.toml").write_text(tomlkit.dumps(document))
        outcome_is_clean(box, [command], allowed=(0, 1, 2) if command == "check" else (0, 2))


TABLES = st.lists(st.dictionaries(KEYS, VALUES, max_size=3), min_size=1, max_size=2)


@SMALL
@given(tables=TABLES, command=st.sampled_from(["build", "check"]))
def test_config_tables(tables: list[dict[str, object]], command: str) -> None:
    check_config(tables, command)


@pytest.mark.fuzz
@LARGE
@given(tables=TABLES, command=st.sampled_from(["build", "check"]))
def test_config_tables_many(tables: list[dict[str, object]], command: str) -> None:
    check_config(tables, command)


def test_the_sandbox_sees_a_refusal() -> None:
    """The harness itself: a known refusal is seen as exit 2 with nothing written."""
    with Sandbox() as box:
        code, out, err = box.run("generate", f"{box.module}:f", "--ops", "all,bogus", "--backend",
                                 "finitediff")  # fmt: skip
        assert (code, out) == (2, "") and err.startswith("diffgen: error: --ops combines all")
