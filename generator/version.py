"""diffgen's version: stamped into every generated file and part of its fingerprint."""

from __future__ import annotations

__version__ = "0.1.0"
