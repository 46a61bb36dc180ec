"""Inspect a target: load the function, read its signature and specs, probe its output."""

from __future__ import annotations

import importlib
import inspect
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import DiffgenError
from .fingerprint import function_digest
from .model import PROBE_SEED, Arg, Inspected, draw
from .operators import OPERATORS, fitting_operators
from .sparse_options import SparseOptions
from .spec import DTYPES, Dtype, Spec, SpecSyntaxError, parse_spec
from .target import DEFAULT_DOMAIN, Target, split_reference
from .x64 import precise

#: The most entries of one argument, result, batch of tangents or dense Jacobian/Hessian
#: diffgen generates code for: 10 million (80 MB in float64). The operators are specialized to
#: their shapes, and their tests write reference results into the test file, so sizes beyond
#: this are mistakes, not workloads.
MAX_ENTRIES = 10_000_000
AUTHORING = "see the README, section 'Use diffgen in your own project'"


__all__ = ["inspect_target", "split_reference"]


@contextmanager
def on_sys_path(root: Path) -> Iterator[None]:
    """Put the project root first on sys.path while importing the user's module."""
    entry = str(root)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        sys.path.remove(entry)


def load_function(reference: str, root: Path) -> tuple[str, str, Callable[..., object]]:
    module_name, qualname = split_reference(reference)
    with on_sys_path(root):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            raise DiffgenError(
                f"cannot import module {module_name!r} of {reference!r}",
                f"{error} (looked in {root} and on sys.path)",
                "run diffgen from the directory that holds the module, or check its spelling",
            ) from error
        except Exception as error:
            raise DiffgenError(
                f"importing module {module_name!r} failed",
                f"it raised {type(error).__name__}: {error}",
                "fix the module so that `import` of it succeeds",
            ) from error
        except SystemExit as error:
            raise DiffgenError(
                f"importing module {module_name!r} called sys.exit({error.code!r})",
                "diffgen imports the module to read the function, and the import ended the"
                " process instead of defining it",
                'put the module\'s script code under `if __name__ == "__main__":`',
            ) from error
    obj: object = module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise DiffgenError(
                f"module {module_name!r} has no function {qualname!r}",
                f"{part!r} is not an attribute of {getattr(obj, '__name__', obj)!r}",
                "check the name after the colon in MODULE:QUALNAME",
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise DiffgenError(
            f"{reference!r} is not callable",
            f"it is a {type(obj).__name__}",
            "name a function defined with def",
        )
    return module_name, qualname, obj


def spec_from_annotation(name: str, annotation: object, dims: dict[str, int]) -> Spec | None:
    """Read a spec from a jaxtyping annotation such as `Float64[np.ndarray, "n 3"]`."""
    dim_str = getattr(annotation, "dim_str", None)
    dtypes = getattr(annotation, "dtypes", None)
    if not isinstance(dim_str, str) or not isinstance(dtypes, (tuple, list)):
        return None
    dtype = next((d for d in reversed(DTYPES) if d in dtypes), None)
    if dtype is None:
        raise DiffgenError(
            f"the annotation of {name!r} allows no floating dtype diffgen supports",
            f"it allows {', '.join(map(str, dtypes))}",
            f"annotate it with Float32 or Float64, or pass --arg {name}=float64[...]",
        )
    shape = []
    for token in dim_str.split():
        if token.isdigit():
            shape.append(int(token))
        elif token.isidentifier() and token in dims:
            shape.append(dims[token])
        elif token.isidentifier():
            raise DiffgenError(
                f"the size {token!r} in the annotation of {name!r} is not given",
                f"{name} is annotated {dim_str!r} and no --dim fixes {token!r}",
                f"pass --dim {token}=SIZE, or --arg {name}=SPEC",
            )
        else:
            raise DiffgenError(
                f"the dimension {token!r} in the annotation of {name!r} cannot be fixed",
                "only whole numbers and named sizes make a fixed shape",
                f"pass --arg {name}=SPEC",
            )
    text = f"{dtype}[{','.join(map(str, shape))}]"
    try:
        return parse_spec(text)
    except SpecSyntaxError as error:
        raise DiffgenError(
            f"the annotation of {name!r} gives no valid spec",
            str(error),
            f"fix the annotation, or pass --arg {name}=float64[...]",
        ) from error


def evaluated(annotation: object, function: Callable[..., object]) -> object:
    """An annotation as an object: strings (postponed annotations) evaluated one by one.

    One by one, not with typing.get_type_hints, which also tries to resolve jaxtyping's
    shape strings such as "n" as names and fails.
    """
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, getattr(function, "__globals__", {}))
    except Exception:  # an annotation we cannot read is no spec
        return None


def read_specs(target: Target, function: Callable[..., object]) -> tuple[Arg, ...]:
    """Map the target's specs (or jaxtyping annotations) onto the function's parameters."""
    signature = inspect.signature(function)
    params = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    names = [p.name for p in params]
    given = dict(target.args)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise DiffgenError(
            f"--arg names {', '.join(map(repr, unknown))}, which {target.function} does not take",
            f"its positional parameters are {', '.join(names) or '(none)'}",
            "give specs only for those parameters",
        )
    hints = {p.name: evaluated(p.annotation, function) for p in params}
    dims = dict(target.dims)
    args: list[Arg] = []
    wrt = target.wrt or (names[0] if names else None)
    if wrt not in names:
        raise DiffgenError(
            f"--wrt {wrt!r} is not a parameter of {target.function}",
            f"its positional parameters are {', '.join(names) or '(none)'}",
            "name one of them with --wrt",
        )
    for position, param in enumerate(params):
        if param.name in given:
            try:
                spec = parse_spec(given[param.name])
            except SpecSyntaxError as error:
                raise DiffgenError(
                    f"the spec of {param.name!r} does not parse",
                    str(error),
                    f"write it as --arg {param.name}=float64[10] (dtype, then the shape)",
                ) from error
        else:
            found = spec_from_annotation(param.name, hints.get(param.name), dims)
            if found is None:
                later = [p.name for p in params[position:] if p.name in given]
                if param.default is not param.empty and not later:
                    break  # this and every later parameter keep their defaults
                raise DiffgenError(
                    f"no spec for parameter {param.name!r} of {target.function}",
                    "it has no --arg and no jaxtyping annotation (such as Float64[np.ndarray, 'n'])"
                    " to read its shape and dtype from",
                    f"pass --arg {param.name}=float64[...] with its shape",
                )
            spec = found
        check_size(f"argument {param.name!r}", spec.size, str(spec))
        args.append(Arg(param.name, spec, param.name == wrt))
    if not any(arg.active for arg in args):
        raise DiffgenError(
            f"--wrt {wrt} names a parameter that has no spec",
            f"{wrt} has a default value and no --arg, so diffgen leaves it (and every later"
            " parameter without a spec) at its default, but the active argument needs a spec",
            f"pass --arg {wrt}=float64[] (or its shape), or differentiate another parameter",
        )
    return tuple(args)


def check_size(what: str, entries: int, detail: str) -> None:
    """Refuse sizes beyond MAX_ENTRIES before anything of that size is allocated."""
    if entries > MAX_ENTRIES:
        raise DiffgenError(
            f"{what} would have {entries:,} entries ({detail})",
            f"diffgen generates code and tests for at most {MAX_ENTRIES:,} entries per argument,"
            " result, batch of tangents or dense Jacobian/Hessian (80 MB in float64)",
            "use a smaller size; for a large x prefer pushforward, pullback or hvp (with --batch)"
            " to a dense jacobian or hessian",
        )


def check_result_sizes(target: Target, x: Spec, y: Spec) -> None:
    """Refuse a batch or a dense Jacobian/Hessian too large to generate, given the specs."""
    ops = set(fitting_operators(x, y) if "all" in target.ops else target.ops)
    if target.batch:
        check_size("a batch of tangents", target.batch * max(x.size, y.size),
                   f"--batch {target.batch} of {x} / {y}")  # fmt: skip
    for op in (OPERATORS[name] for name in OPERATORS if name in ops):
        shape = op.result.shape
        if shape.matrix and not target.option(SparseOptions).on:  # sparse: nnz entries
            check_size(shape.matrix, shape.spec(x, y).size, shape.dims.format(x=x, y=y))


def probe_output(
    reference: str,
    function: Callable[..., object],
    args: tuple[Arg, ...],
    domain: tuple[float, float] = DEFAULT_DOMAIN,
) -> Spec:
    """Evaluate the function once at a seeded point and read the spec of its output."""
    rng = np.random.default_rng(PROBE_SEED)
    values = [draw(arg.spec, rng, domain) for arg in args]
    point = ", ".join(f"{arg.name}: {arg.spec}" for arg in args)
    where = f"uniform in ({domain[0]:g}, {domain[1]:g})"
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), precise():
            warnings.simplefilter("ignore")  # a NaN is reported below, with its cause
            result = np.asarray(function(*values))
    except Exception as error:
        raise DiffgenError(
            f"{reference} raised {type(error).__name__} at the probe point",
            f"called with seeded random arguments ({point}) {where} it said: {error}",
            f"make the function accept arrays of these specs ({AUTHORING}); if it is defined"
            " only on another interval, pass --domain LO,HI (domain = [LO, HI])",
        ) from error
    except SystemExit as error:
        raise DiffgenError(
            f"{reference} called sys.exit({error.code!r}) at the probe point",
            f"diffgen called it with seeded random arguments ({point}) {where}, and the call"
            " ended the process instead of returning",
            "raise an exception instead of calling sys.exit inside the function",
        ) from error
    if result.dtype.name not in DTYPES:
        raise DiffgenError(
            f"{reference} returned dtype {result.dtype.name} at the probe point",
            f"derivatives are taken of floating results ({', '.join(DTYPES)})",
            "return a floating array or scalar",
        )
    if not np.all(np.isfinite(result)):
        raise DiffgenError(
            f"{reference} returned NaN or infinity at the probe point",
            f"called with seeded random arguments ({point}) {where}",
            "make the function finite there, or pass --domain LO,HI (domain = [LO, HI]) with an"
            " interval where it is defined",
        )
    dtype: Dtype = result.dtype.name
    return Spec(dtype, result.shape)


def inspect_target(target: Target, root: Path) -> Inspected:
    """From a target to an Inspected function with every spec fixed."""
    module, qualname, function = load_function(target.function, root)
    args = read_specs(target, function)
    active = next(arg for arg in args if arg.active)
    if target.batch:  # before the probe: the tangents' size, as far as x decides it
        check_size("a batch of tangents", target.batch * active.spec.size,
                   f"--batch {target.batch} of {active.spec}")  # fmt: skip
    output = probe_output(target.function, function, args, target.points_domain)
    check_size("the result f(x)", output.size, str(output))
    check_result_sizes(target, active.spec, output)
    digest = function_digest(target.function, root)
    return Inspected(target, module, qualname, args, output, function, digest, root)
