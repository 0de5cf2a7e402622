"""This orch's version, from the installed package's metadata."""

from __future__ import annotations

from importlib import metadata


def version() -> str:
    """The installed version (``0+unknown`` when run from a bare source tree)."""
    try:
        return metadata.version("orch")
    except metadata.PackageNotFoundError:
        return "0+unknown"
