"""releasekit: reusable nox sessions and invoke tasks for releasing Python packages."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from releasekit.errors import ReleaseError
from releasekit.workspace import Package, Workspace, load_workspace

try:
    __version__ = version("releasekit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["Package", "ReleaseError", "Workspace", "__version__", "load_workspace"]
