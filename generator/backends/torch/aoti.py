"""`--torch-mode aoti`: compile each kernel's printed graph with AOTInductor into one package.

Each kernel's graph, printed and checked as in graph mode (trace.py), is exported with
torch.export and compiled ahead of time by AOTInductor (C++ through the system's compiler) into
a shared library; the libraries of a module's kernels are packaged into one `.pt2` archive,
written beside the module, which loads it at import: nothing is compiled at run time. The
archive lists only the libraries and their metadata (not the C++ sources, which name the
compile's temporary folders), in sorted order, so that the same libraries give the same bytes;
torch names each record's folder and the archive's serialization id from their contents.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import DiffgenError

if TYPE_CHECKING:
    import torch
    from torch.export.pt2_archive._package_weights import Weights

    from ...spec import Spec
    from .plan import TorchPlan

#: The files of a compiled model that the package keeps: the library and its metadata.
KEPT = (".so", "_metadata.json")

#: The suffix of the package beside the module: `rosen_torch_reverse.pt2`.
SUFFIX = ".pt2"

#: Inductor settings of the compile: no line tables (they name the compile's folders, and
#: make the libraries 4x larger); AOTInductor's own files kept for packaging; and one thread
#: in the generated loops, whose OpenMP thread count inductor would otherwise bake in from the
#: generating process's torch.get_num_threads() (the library calls torch makes, matrix
#: products, still use torch's intra-op threads at run time).
CONFIGS: dict[str, object] = {
    "cpp.threads": 1,
    "aot_inductor.enable_line_tables": False,
    "aot_inductor.debug_compile": False,
    "aot_inductor.package": True,
}


def find_compiler() -> str | None:
    """The C++ compiler AOTInductor would call ($CXX, else g++), if it is on the PATH."""
    return shutil.which(os.environ.get("CXX", "g++"))


def require_compiler(function: str) -> None:
    """Refuse `--torch-mode aoti` on a machine without a C++ compiler, before any work."""
    if find_compiler() is None:
        wanted = os.environ.get("CXX", "g++")
        raise DiffgenError(
            f"--torch-mode aoti cannot compile {function}: no C++ compiler",
            f"AOTInductor compiles each operator's graph to C++ and calls {wanted!r} ($CXX, else"
            " g++) to build it, and that is not on the PATH",
            "install a C++ compiler (apt-get install g++, or set CXX to one), or use"
            " --torch-mode graph (the default), which writes the graphs as Python and needs"
            " no compiler",
        )


def compiled(
    kernels: Sequence[tuple[str, Callable[..., Any], Sequence[torch.Tensor]]],
) -> bytes:
    """The package of these kernels ((name, printed graph, example arguments) each): one
    AOTInductor model per kernel, under the kernel's name, compiled for this machine's CPU."""
    from torch._inductor.package.package import package_aoti

    files: dict[str, list[str | Weights]] = {}
    with warnings.catch_warnings():  # torch 2.13's own use of its deprecated LeafSpec
        warnings.filterwarnings("ignore", message=".*LeafSpec", category=FutureWarning)
        for name, function, arguments in kernels:
            files[name] = _compiled(function, arguments)
    archive = io.BytesIO()
    package_aoti(archive, dict(sorted(files.items())))
    return archive.getvalue()


def _compiled(
    function: Callable[..., Any], arguments: Sequence[torch.Tensor]
) -> list[str | Weights]:
    """The library and metadata files of one kernel's AOTInductor model."""
    import torch

    class Kernel(torch.nn.Module):
        def forward(self, *args: torch.Tensor) -> Any:
            return function(*args)

    exported = torch.export.export(Kernel(), tuple(arguments), strict=False)
    made = torch._inductor.aot_compile(exported.module(), tuple(arguments), options=CONFIGS)
    listed = made if isinstance(made, list) else []
    return [f for f in sorted(f for f in listed if isinstance(f, str)) if f.endswith(KEPT)]


def loaded(package: bytes, names: Sequence[str]) -> dict[str, Callable[..., Any]]:
    """Each kernel's model of a package, loaded as the module will load it."""
    from torch._C._aoti import AOTIModelPackageLoader

    with tempfile.TemporaryDirectory(prefix="diffgen-aoti-") as folder:
        path = Path(folder) / f"package{SUFFIX}"
        path.write_bytes(package)
        models = {name: AOTIModelPackageLoader(str(path), name, False, 1, -1) for name in names}
    return {name: (lambda *args, m=m: tuple(m.run(list(args)))) for name, m in models.items()}


def digest(package: bytes) -> str:
    """The SHA-256 of a package, which its module checks at import."""
    return hashlib.sha256(package).hexdigest()


def packaged(
    plan: TorchPlan,
    constants: Sequence[tuple[str, str, str]],
    specs: dict[str, Spec],
    function: str,
) -> bytes:
    """The package of a plan's printed graphs, each model checked against its graph at the
    example point (to the tolerance of a reordered sum: inductor fuses and vectorizes)."""
    import torch

    from .trace import examples, printed_function, results

    kernels = [
        (k.name, printed_function(k, k.graph, constants), examples(specs, k.params))
        for k in plan.kernels
    ]
    try:
        package = compiled(kernels)
        models = loaded(package, [name for name, _, _ in kernels])
    except Exception as error:  # whatever torch.export, inductor or the compiler raised
        said = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DiffgenError(
            f"AOTInductor could not compile the graphs of {function}",
            f"torch.export or AOTInductor raised {type(error).__name__}: {said}",
            "use --torch-mode graph (the default), whose module runs the same graphs as"
            " Python, and please report the function",
        ) from error
    for name, graph, arguments in kernels:
        found, expected = results(models[name](*arguments)), results(graph(*arguments))
        for a, b in zip(found, expected, strict=True):
            if a.shape != b.shape or a.dtype != b.dtype or not b.numel():
                far, scale = 0.0 if a.shape == b.shape and a.dtype == b.dtype else 1.0, 0.0
            else:
                scale = max(1.0, float(b.abs().nan_to_num(0.0, 0.0, 0.0).max()))
                far = float((a - b).abs().nan_to_num(0.0, 0.0, 0.0).max())
            if far > float(torch.finfo(b.dtype).eps) ** 0.5 * scale:
                raise DiffgenError(
                    f"the AOTInductor model of {name.strip('_')} of {function} differs from its"
                    " graph",
                    f"at the probe point it is {far:.3g} from the graph's result (scale"
                    f" {scale:.3g}), {a.dtype}{list(a.shape)} against {b.dtype}{list(b.shape)}",
                    "use --torch-mode graph (the default), and please report the function",
                )
    return package
