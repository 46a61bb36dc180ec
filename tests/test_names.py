"""Argument names never meet the generator's: every name is legal in every backend and pair, or
refused with exit 2 before anything is written (generator/names.py); fuzzed with hypothesis."""

from __future__ import annotations

import ast
import builtins
import inspect
import keyword
import sys
import types
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.compose import build_plan
from generator.errors import DiffgenError
from generator.model import STEMS, Names
from generator.names import check_tests, finalize
from generator.pipeline import generate
from generator.plan import public_parameters
from generator.target import Target
from generator.templating import environment
from tests.conftest import Project

Run = Callable[..., tuple[int, str, str]]

#: Names a user plausibly gives an argument, each a name generated code used to take for itself.
PLAUSIBLE = (
    "dx",
    "dy",
    "dxs",
    "dys",
    "out",
    "t",
    "y",
    "h",
    "n",
    "p",
    "params",
    "data",
    "value",
    "gradient",
    "np",
    "math",
)
#: Names of the generator's internals, builtins and modules that generated code uses.
INTERNAL = (
    "x",
    "_z",
    "_t",
    "_f",
    "_checked",
    "_REL_STEP_1",
    "_FUNCTION",
    "_value",
    "_gradient",
    "out_gradient",
    "float",
    "tuple",
    "len",
    "jax",
    "jnp",
    "torch",
    "npt",
    "_",
)

#: Every backend and a few pairs (inner, outer): the operators below in each.
BACKENDS = (
    ("finitediff", None),
    ("sympy", None),
    ("jax:forward", None),
    ("jax:reverse", None),
    ("torch:forward", None),
    ("torch:reverse", None),
    ("sympy", "jax:forward"),
    ("jax:reverse", "finitediff"),
    ("sympy", "torch:reverse"),
)
#: Those that generate 34 arguments in a few seconds; the others (torch traces each argument
#: into its graphs: a minute and more) run with -m slow, and every one of them in the fuzzing.
FAST = {("finitediff", None), ("sympy", None), ("jax:reverse", None), ("jax:reverse", "finitediff")}
OPS = ("gradient", "pullback", "hvp")


def many_names_source(names: tuple[str, ...]) -> str:
    """A loss whose first argument is active and every other a 0-d weight: f(x, c1, c2, ...) =
    sum(sin(x) x) + sum_k k c_k sum(x^2), so that a weight read as another changes the result."""
    signature = ", ".join(names)
    terms = "".join(
        f" + {k} * {c} * xp.sum({names[0]} * {names[0]})" for k, c in enumerate(names[1:], start=1)
    )
    return (
        "from array_api_compat import array_namespace\n\n\n"
        f"def loss({signature}):\n"
        f"    xp = array_namespace({names[0]})\n"
        f"    return xp.sum(xp.sin({names[0]}) * {names[0]}){terms}\n"
    )


def load(path: Path, source: str | None = None) -> types.ModuleType:
    """Import a generated module by path (or from its source, under that path's name)."""
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    code = compile(source if source is not None else path.read_text(), str(path), "exec")
    exec(code, module.__dict__)  # the generated module under test
    return module


def exact(x: np.ndarray, weights: list[float], v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gradient and the Hessian along v of many_names_source's loss."""
    c = sum(k * w for k, w in enumerate(weights, start=1))
    gradient = np.cos(x) * x + np.sin(x) + 2.0 * c * x
    return gradient, (2.0 * np.cos(x) - np.sin(x) * x + 2.0 * c) * v


def positional(function: Callable[..., Any]) -> list[str]:
    parameters = inspect.signature(function).parameters.values()
    return [p.name for p in parameters if p.kind is not p.KEYWORD_ONLY]


def check_values(module: types.ModuleType, names: tuple[str, ...], batch: int) -> None:
    """gradient, pullback, hvp and the batches against the exact derivatives, by position and
    the tangents under whatever name the module gave them."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0.1, 0.9, 3)
    weights = [float(w) for w in rng.uniform(0.1, 0.9, len(names) - 1)]
    v, dxs = rng.uniform(-1.0, 1.0, 3), rng.uniform(-1.0, 1.0, (batch, 3))
    gradient, hvp = exact(x, weights, v)

    def numpy(result: Any) -> np.ndarray:
        return np.asarray(result.detach() if hasattr(result, "detach") else result)

    np.testing.assert_allclose(numpy(module.gradient(x, *weights)), gradient, rtol=1e-6)
    np.testing.assert_allclose(numpy(module.pullback(x, 0.5, *weights)), 0.5 * gradient, rtol=1e-6)
    np.testing.assert_allclose(numpy(module.hvp(x, v, *weights)), hvp, rtol=1e-5, atol=1e-6)
    rows = numpy(module.hvp_batch(x, dxs, *weights))
    for row, direction in zip(rows, dxs, strict=True):
        np.testing.assert_allclose(row, exact(x, weights, direction)[1], rtol=1e-5, atol=1e-6)
    tangents = positional(module.hvp)[1], positional(module.hvp_batch)[1]
    taken = set(names)
    assert tangents[0] not in taken and tangents[1] not in taken  # moved out of the way
    assert positional(module.gradient)[1:] == list(names[1:])  # the user's names, in order


@pytest.mark.parametrize(
    ("backend", "outer"),
    [pytest.param(*b, marks=() if b in FAST else pytest.mark.slow) for b in BACKENDS],
    ids=lambda b: str(b),
)
def test_plausible_and_internal_names_are_legal_in_every_backend(
    project: Project, backend: str, outer: str | None
) -> None:
    """One generation per backend with 34 arguments whose names the generator also uses (the
    active one named dx): exit 0, correct derivatives, tangents and out= renamed, tests valid."""
    names = ("dx", *(n for n in (*PLAUSIBLE, *INTERNAL) if n != "dx"))
    project.write("many.py", many_names_source(names))
    args = tuple((n, "float64[3]" if k == 0 else "float64[]") for k, n in enumerate(names))
    target = Target(
        "many:loss",
        args=args,
        ops=OPS,
        backend=backend,
        outer=outer,
        output="generated/many_names.py",
        batch=2,
    )
    module_file, test_file = generate(target, project.root)
    module = load(module_file.path, module_file.text)
    check_values(module, names, batch=2)
    assert positional(module.hvp)[1] == "dx_" and positional(module.hvp_batch)[1] == "dxs_"
    parameters = inspect.signature(module.value_and_gradient).parameters
    outs = [p.name for p in parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert outs == ([] if backend.startswith("jax") else ["out_gradient_"])  # jax: immutable
    tree = ast.parse(test_file.text)  # every argument has one entry in the tests' table
    cases = next(n for n in ast.walk(tree) if isinstance(n, ast.Dict))
    keys = [k.value for k in cases.keys if isinstance(k, ast.Constant)]
    assert len(keys) == len(set(keys)) and set(names) <= set(keys) and "dx_" in keys


def test_private_names_give_right_derivatives(diffgen: Run, project: Project) -> None:
    """Issue 12, item 1: `def f(x, _z)` under finitediff, where a generated lambda's _z
    shadowed the constant, and _REL_STEP_1 and _checked as constants under jax."""
    project.write(
        "private.py",
        """
        from array_api_compat import array_namespace

        def f(x, _z, _REL_STEP_1, _checked):
            xp = array_namespace(x)
            return xp.sum(xp.sin(x) * _z) + _REL_STEP_1 * xp.sum(x * x) + xp.sum(_checked * x)
        """,
    )
    x, z = np.array([0.3, 0.5, 0.7]), np.array([1.0, 2.0, 3.0])
    expected = np.cos(x) * z + 2.0 * 0.25 * x + np.array([4.0, 5.0, 6.0])
    for backend in ("finitediff", "jax:reverse"):
        output = f"generated/private_{backend.replace(':', '_')}.py"
        code, _, err = diffgen(
            "generate",
            "private:f",
            "--arg",
            "x=float64[3]",
            "--arg",
            "_z=float64[3]",
            "--arg",
            "_REL_STEP_1=float64[]",
            "--arg",
            "_checked=float64[3]",
            "--ops",
            "gradient",
            "--backend",
            backend,
            "-o",
            output,
        )
        assert code == 0, err
        module = load(project.root / output)
        result = np.asarray(module.gradient(x, z, 0.25, np.array([4.0, 5.0, 6.0])))
        np.testing.assert_allclose(result, expected, rtol=1e-7)


def test_out_parameters_move_out_of_the_way(diffgen: Run, project: Project) -> None:
    """`out` and `out_gradient` as argument names: the keyword-only out= parameters become
    out_ and out_gradient_, and write into the caller's array."""
    project.write(
        "outs.py",
        """
        def f(x, out, out_gradient):
            return (out * x * x).sum() + out_gradient
        """,
    )
    code, _, err = diffgen(
        "generate",
        "outs:f",
        "--arg",
        "x=float64[3]",
        "--arg",
        "out=float64[]",
        "--arg",
        "out_gradient=float64[]",
        "--ops",
        "gradient",
        "--backend",
        "finitediff",
        "-o",
        "generated/outs_finitediff.py",
    )
    assert code == 0, err
    module = load(project.root / "generated/outs_finitediff.py")
    x, buffer = np.array([0.3, 0.5, 0.7]), np.empty(3)
    assert module.gradient(x, 2.0, 1.0, out_=buffer) is buffer
    np.testing.assert_allclose(buffer, 4.0 * x, rtol=1e-8)
    _, gradient = module.value_and_gradient(x, 2.0, 1.0, out_gradient_=buffer)
    assert gradient is buffer
    with pytest.raises(ValueError, match=r"^out_: expected a writable numpy array"):
        module.gradient(x, 2.0, 1.0, out_=np.empty(4))


def test_a_torch_argument_named_torch(project: Project) -> None:
    """torch modules used to refuse the names torch, np, npt and every name starting with _."""
    names = ("torch", "np", "_x")
    project.write("shadows.py", many_names_source(names).replace("loss", "f"))
    target = Target(
        "shadows:f",
        args=(("torch", "float64[3]"), ("np", "float64[]"), ("_x", "float64[]")),
        ops=OPS,
        backend="torch:forward",
        batch=2,
        output="generated/shadows_torch.py",
    )
    module_file, _ = generate(target, project.root)
    check_values(load(module_file.path, module_file.text), names, batch=2)


# ---------------------------------------------------------------- the safety net


def test_arguments_spelled_like_every_placeholder_are_refused(
    diffgen: Run, project: Project
) -> None:
    """The one set of names diffgen cannot take: each containing one of its placeholder stems."""
    project.write(
        "stems.py",
        "def f(x, " + ", ".join(f"{s}_a" for s in STEMS) + "):\n" "    return (x * x).sum()\n",
    )
    before = project.files()
    argv = [
        "generate",
        "stems:f",
        "--arg",
        "x=float64[3]",
        "--ops",
        "gradient",
        "--backend",
        "finitediff",
    ] + [a for s in STEMS for a in ("--arg", f"{s}_a=float64[]")]
    code, out, err = diffgen(*argv)
    assert code == 2 and out == "", err
    assert err.startswith("diffgen: error: the argument names of stems:f contain diffgen's")
    assert "\n  why: diffgen renames arguments to dgarg, " in err and "\n  fix: rename" in err
    assert project.files() == before


def test_a_clash_the_renamer_misses_is_refused_and_nothing_written(
    diffgen: Run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check after rendering does not trust the renaming: with the renaming switched off
    (as a new backend that bypassed it would be), an argument named np is refused."""
    monkeypatch.setattr("generator.names.rename", lambda source, names: source)
    project.write("shadow.py", "def f(x, np):\n    return (np * x * x).sum()\n")
    before = project.files()
    code, _, err = diffgen(
        "generate",
        "shadow:f",
        "--arg",
        "x=float64[3]",
        "--arg",
        "np=float64[]",
        "--ops",
        "gradient",
        "--backend",
        "finitediff",
    )
    assert code == 2, err
    assert err.startswith(
        "diffgen: error: the argument 'np' of shadow:f clashes with a name in the generated code"
    ), err
    assert "generated code also uses 'np' (a builtin or module-level name)" in err
    assert "\n  fix: rename the argument in shadow:f" in err
    assert project.files() == before


def test_a_test_table_with_an_argument_twice_is_refused() -> None:
    names = Names("m:f", ("x", "dx"), ("dgarg0_", "dgarg1_"))
    source = 'CASES = ({"x": 1, "dx": 2, "dx": 3},)\n'
    with pytest.raises(DiffgenError, match="the argument 'dx' of m:f clashes"):
        check_tests(source, names)
    with pytest.raises(DiffgenError, match="missing from the tests' table"):
        check_tests('CASES = ({"x": 1},)\n\ndef test(c):\n    return c["dx"]\n', names)


def test_global_statements_are_refused_not_renamed() -> None:
    names = Names("m:f", ("np",), ("dgarg0_",))
    source = (
        "import numpy as np\n\n\n" "def g(dgarg0_):\n    global np\n    return np.sin(dgarg0_)\n"
    )
    with pytest.raises(DiffgenError, match="a global or nonlocal statement"):
        finalize(source, names)


def test_stems_avoid_the_arguments() -> None:
    assert Names.of("m:f", ("x", "y")).placeholders == ("dgarg0_", "dgarg1_")
    assert Names.of("m:f", ("dgarg", "y")).placeholders == ("dgparam0_", "dgparam1_")
    assert Names.of("dgarg.m:f", ("x",)).placeholders == ("dgparam0_",)


# ---------------------------------------------------------------- property-based


@cache
def rendered(
    backend: str, outer: str | None, root: str
) -> tuple[str, Names, tuple[str, ...], tuple[str, ...]]:
    """A backend's module rendered once with placeholders (the backend plans once), and its
    names; each example then only renames and imports it."""
    from generator.inspect_target import inspect_target

    target = Target(
        "fuzzed:loss",
        args=(("a0", "float64[3]"), ("a1", "float64[]"), ("a2", "float64[]")),
        ops=OPS,
        backend=backend,
        outer=outer,
        batch=2,
        output=f"generated/fuzzed_{abs(hash((backend, outer)))}.py",
    )
    inspected = inspect_target(target, Path(root))
    plan = build_plan(inspected, "fuzzed", "0" * 32)
    assert plan.masked is not None and plan.names is not None
    source = environment().get_template("module.py.jinja").render(plan=plan.masked)
    finalized = finalize(source, plan.names)
    used = {n.id for n in ast.walk(ast.parse(finalized)) if isinstance(n, ast.Name)}
    used |= {n.arg for n in ast.walk(ast.parse(finalized)) if isinstance(n, ast.arg)}
    publics = public_parameters(plan.masked, plan.names)
    return source, plan.names, tuple(sorted(used)), publics


@cache
def generator_names(root: str) -> tuple[str, ...]:
    """Every identifier the generated modules of all backends use, and the builtins."""
    found = {n for b, o in BACKENDS for n in rendered(b, o, root)[2]}
    return tuple(sorted(found | {"float", "len", "tuple", "range", "max", "isinstance"}))


IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s != "__debug__" and "dgarg" not in s
)


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "fuzzed.py").write_text(many_names_source(("a0", "a1", "a2")))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    sys.modules.pop("fuzzed", None)


def fuzz_one(root: Path, data: st.DataObject) -> None:
    """Three argument names, random or the generator's own: the module under them computes
    what it computes under plain names, or diffgen refuses them with a DiffgenError."""
    backend, outer = data.draw(st.sampled_from(BACKENDS), label="backend")
    source, plain, _, publics = rendered(backend, outer, str(root))
    pool = st.one_of(IDENTIFIERS, st.sampled_from(generator_names(str(root))))
    users = tuple(data.draw(st.lists(pool, min_size=3, max_size=3, unique=True), label="names"))
    names = Names("fuzzed:loss", users, plain.placeholders)
    try:
        renamed = finalize(source, names.with_public(publics))
    except DiffgenError as error:  # refused: a message in three parts, naming the function
        assert "fuzzed:loss" in error.what and error.why and error.fix
        return
    module = load(root / "generated" / "fuzzed_case.py", renamed)
    check_values(module, users, batch=2)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzzed_argument_names(fuzz_root: Path, data: st.DataObject) -> None:
    fuzz_one(fuzz_root, data)


@pytest.mark.fuzz
@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzzed_argument_names_at_length(fuzz_root: Path, data: st.DataObject) -> None:
    fuzz_one(fuzz_root, data)


def test_builtins_are_among_the_fuzzed_names(fuzz_root: Path) -> None:
    found = set(generator_names(str(fuzz_root)))
    assert {"np", "dx", "dxs", "out", "_f", "_checked", "float", "jax", "torch"} <= found
    assert found - set(dir(builtins))
