"""Backend options: declared by each family, read from the command line and the config, checked
once, with the messages and fingerprints they had as fields of Target."""

from __future__ import annotations

from typing import Any

import pytest

from generator.backends.jax_options import JaxOptions
from generator.backends.options import OPTIONS
from generator.backends.torch_options import TorchOptions
from generator.cli import parser
from generator.config import target_from_table
from generator.errors import DiffgenError
from generator.target import Target

WHERE = "pyproject.toml, target 1"
TORCH_FIX = 'write torch_mode = "graph", "eager" or "aoti", torch_compile = true or false'
TORCH_WHY = "it is an option of the torch backends"


def test_each_family_declares_its_flags_and_keys() -> None:
    declared = {o.key: (o.flag, o.default, o.choices) for f in OPTIONS for o in f.declared()}
    assert declared == {
        "jax_export": ("--jax-export", False, ()),
        "torch_mode": ("--torch-mode", "graph", ("graph", "eager", "aoti")),
        "torch_compile": ("--torch-compile", False, ()),
        "sparse": ("--sparse", False, ()),
        "sparsity": ("--sparsity", "", ()),
        "sparse_mode": ("--sparse-mode", "auto", ("auto", "forward", "reverse")),
    }
    args = parser().parse_args(["generate", "m:f", "--ops", "all", "--backend", "torch:forward",
                                "--torch-mode", "eager", "--torch-compile"])  # fmt: skip
    assert (args.jax_export, args.torch_mode, args.torch_compile) == (False, "eager", True)
    args = parser().parse_args(["generate", "m:f", "--ops", "all", "--backend", "sympy",
                                "--sparsity", "p.npz", "--sparse-mode", "reverse"])  # fmt: skip
    assert (args.sparse, args.sparsity, args.sparse_mode) == (False, "p.npz", "reverse")


def test_sparse_options_enter_the_digest_and_a_path_implies_sparse() -> None:
    from generator.sparse_options import SparseOptions

    dense = target_from_table({"function": "m:f", "backend": "sympy"}, WHERE)
    sparse = target_from_table({"function": "m:f", "backend": "sympy", "sparse": True}, WHERE)
    path = target_from_table({"function": "m:f", "sparsity": "p.npz"}, WHERE)
    assert '"sparse":true' in sparse.canonical() and "sparse" not in dense.canonical()
    assert '"sparsity":"p.npz"' in path.canonical()
    assert path.option(SparseOptions).on and not dense.option(SparseOptions).on
    with pytest.raises(DiffgenError, match="--sparse-mode reverse is given without --sparse"):
        target_from_table({"function": "m:f", "sparse_mode": "reverse"}, WHERE)


@pytest.mark.parametrize(
    ("entry", "what", "why", "fix"),
    [
        ({"jax_export": 1}, f"{WHERE}: jax_export must be true or false", "found 1", "fix it"),
        (
            {"torch_mode": 3},
            f"{WHERE}: torch_mode must be a string and torch_compile true or false",
            "found torch_mode = 3, torch_compile = False",
            TORCH_FIX,
        ),
        (
            {"torch_compile": "yes"},
            f"{WHERE}: torch_mode must be a string and torch_compile true or false",
            "found torch_mode = 'graph', torch_compile = 'yes'",
            TORCH_FIX,
        ),
        (
            {"backend": "torch:reverse", "torch_mode": "lazy"},
            "--torch-mode 'lazy' is not a torch mode",
            "graph writes the traced derivative graphs into the module; eager imports the"
            " function and runs torch.func on every call; aoti compiles the graphs ahead of"
            " time into a package beside the module",
            "pass --torch-mode graph, eager or aoti",
        ),
        (
            {"backend": "torch:reverse", "torch_mode": "aoti", "torch_compile": True},
            "--torch-compile does not apply to --torch-mode aoti",
            "an aoti module runs graphs compiled at generation time; torch.compile would"
            " compile them again at run time",
            "drop --torch-compile (torch_compile = true), or use --torch-mode graph",
        ),
        (
            {"backend": "sympy", "torch_compile": True},
            "--torch-compile does not apply to --backend sympy",
            TORCH_WHY,
            "drop --torch-compile, or use --backend torch:forward or torch:reverse",
        ),
        (
            {"backend": "sympy", "torch_mode": "eager"},
            "--torch-mode eager does not apply to --backend sympy",
            TORCH_WHY,
            "drop --torch-mode eager, or use --backend torch:forward or torch:reverse",
        ),
        (
            {"backend": "torch:forward", "jax_export": True},
            "--jax-export does not apply to --backend torch:forward",
            "it embeds jax.export artifacts, which only the jax backends make",
            "drop --jax-export (jax_export = true), or use --backend jax:forward or jax:reverse",
        ),
        (
            {"wrong": 1},
            f"{WHERE}: unknown keys wrong",
            "the keys are args, backend, batch, dims, domain, function, jax_export, ops, outer,"
            " output, sparse, sparse_mode, sparsity, tests, torch_compile, torch_mode, wrt,"
            " wrt_first",
            "fix them",
        ),
    ],
)
def test_config_errors_are_those_of_before(
    entry: dict[str, Any], what: str, why: str, fix: str
) -> None:
    with pytest.raises(DiffgenError) as refused:
        target_from_table({"function": "m:f", **entry}, WHERE)
    assert (refused.value.what, refused.value.why, refused.value.fix) == (what, why, fix)


def test_targets_keep_the_options_given_and_their_fingerprints() -> None:
    """The canonical texts (fingerprints, jax artifact digests) are those of the fields that
    Target had before (literals computed then)."""
    assert Target("m:f").canonical() == (
        '{"args":[],"backend":"finitediff","dims":[],"function":"m:f","jax_export":false,'
        '"ops":["all"],"outer":null,"output":null,"wrt":null}'
    )
    exported = Target("m:f", args=(("x", "float64[3]"),), backend="jax:reverse",
                      options=(JaxOptions(export=True), TorchOptions()))  # fmt: skip
    assert exported.canonical() == (
        '{"args":[["x","float64[3]"]],"backend":"jax:reverse","dims":[],"function":"m:f",'
        '"jax_export":true,"ops":["all"],"outer":null,"output":null,"wrt":null}'
    )
    torch = target_from_table({"function": "m:f", "backend": "torch:forward", "batch": 3,
                               "torch_mode": "eager", "torch_compile": True}, WHERE)  # fmt: skip
    assert torch.canonical() == (
        '{"args":[],"backend":"torch:forward","batch":3,"dims":[],"function":"m:f",'
        '"jax_export":false,"ops":["all"],"outer":null,"output":null,"torch_compile":true,'
        '"torch_mode":"eager","wrt":null}'
    )
    assert exported.options == (JaxOptions(export=True),)  # defaults are not kept
    assert exported.option(TorchOptions) == TorchOptions()  # but read as such
    assert torch.option(TorchOptions) == TorchOptions(mode="eager", compile=True)
    with pytest.raises(DiffgenError, match="the torch options are given twice"):
        Target("m:f", backend="torch:forward",
               options=(TorchOptions(mode="eager"), TorchOptions(compile=True)))  # fmt: skip


def test_the_api_takes_options_as_the_config_spells_them() -> None:
    from generator import api

    made = api.target("m:f", backend="torch:forward", torch_mode="eager", torch_compile=True)
    assert made.option(TorchOptions) == TorchOptions(mode="eager", compile=True)
    assert made == Target("m:f", backend="torch:forward",
                          options=(TorchOptions(mode="eager", compile=True),))  # fmt: skip
    with pytest.raises(DiffgenError, match="the keywords: jax_export must be true or false"):
        api.target("m:f", backend="jax:reverse", jax_export="yes")
