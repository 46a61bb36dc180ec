"""Sparse Jacobians and Hessians: patterns detected and colored at generation time."""

from __future__ import annotations

from .coloring import Coloring, color_hessian, color_jacobian
from .pattern import Pattern, load_npz

__all__ = ["Coloring", "Pattern", "color_hessian", "color_jacobian", "load_npz"]
