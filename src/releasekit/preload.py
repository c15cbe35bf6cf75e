"""Import the libraries later steps need while the early steps wait on their processes.

The steps import their heavy libraries when they run (``import releasekit.nox`` in
a noxfile stays light): twine for ``check`` and ``publish``, detect-secrets for
leak-lint, and releasekit's own modules for the gate, publish and verify (an index's
pages are read with the standard library and requests: :mod:`releasekit.simple_api`).
Imported one after another, on the way, they add up to a good part of a second.
:func:`preload` imports them in a background thread instead, while preflight,
lint, test and build spend their time waiting for git, the linters, the build
backend and uv: by the time ``check`` runs, they are there.  An import that
fails here is ignored: the step that needs the module imports it again and
reports the error as it always would.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Iterable

__all__ = ["STEP_MODULES", "preload"]

# the modules each stock step imports when it runs, slowest first
STEP_MODULES: dict[str, tuple[str, ...]] = {
    "check": ("twine.commands.check", "releasekit.dist_checks", "releasekit.leaks"),
    "gate": ("releasekit.index", "releasekit.publish"),
    "publish": ("twine.commands.upload", "releasekit.publish", "releasekit.record"),
    "verify": ("releasekit.verify",),
}


def _import_all(modules: Iterable[str]) -> None:
    for name in modules:
        with contextlib.suppress(Exception):  # the step itself reports a broken install
            importlib.import_module(name)


def preload(steps: Iterable[str]) -> threading.Thread | None:
    """Start importing what ``steps`` (step names) will need; None when nothing is left."""
    modules = [m for step in steps for m in STEP_MODULES.get(step, ()) if m not in sys.modules]
    if not modules:
        return None
    thread = threading.Thread(
        target=_import_all,
        args=(list(dict.fromkeys(modules)),),
        name="releasekit-preload",
        daemon=True,
    )
    thread.start()
    return thread
