"""A scalar-to-vector curve in float32: a helix of a given radius."""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace


def curve(t: Any, radius: Any) -> Any:
    """(radius cos t, radius sin t, t / 2); radius is a constant."""
    xp = array_namespace(t, radius)
    return xp.stack([radius * xp.cos(t), radius * xp.sin(t), t / 2.0])
