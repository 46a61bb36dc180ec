"""The torch backends' plan: kernels with their calls and, in graph mode, their printed graphs."""

from __future__ import annotations

from dataclasses import dataclass

from ..ad import ADPlan, Kernel


@dataclass(frozen=True)
class TorchKernel(Kernel):
    """A kernel, how the public function calls it and, in graph mode, its traced graph."""

    call: str = ""  # what the public function calls: the kernel, or its torch.compile'd constant
    arguments: str = ""  # what the public function passes it: "x, dx", or tensors of numpy arrays
    graph: tuple[str, ...] = ()  # graph mode: the statements of the traced graph
    summary: str = ""  # graph mode: one line on the graph, for its docstring


@dataclass(frozen=True)
class TorchPlan(ADPlan):
    """The torch backends' plan: the kernels, traced (graph mode) or composed (eager mode)."""

    eager: bool = False
    aoti: bool = False  # --torch-mode aoti: the graphs, and an AOTInductor package beside them
    kernels: tuple[TorchKernel, ...] = ()

    def kernel(self, function: str) -> TorchKernel:
        return next(k for k in self.kernels if k.function == function)
