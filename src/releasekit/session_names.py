"""The names releasekit's nox sessions go by in this project, for the commands hints show.

``releasekit.nox.install(prefix="rk-")`` registers ``rk-release``, ``rk-build``...;
every "next:" and "then run:" hint must then say ``nox -s rk-release``.  The nox
adapter records the names it registered (:func:`set_session_names`); the invoke
tasks, which run without the noxfile, read them from the project's
``noxfile.py`` (:func:`read_session_names`), without running it.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

__all__ = ["nox_command", "read_session_names", "set_session_names", "use_noxfile"]

SESSIONS = ("lint", "build", "sign", "testpypi", "publish", "verify", "release", "github-release")
_registered: dict[str, str] = {}


def set_session_names(names: Mapping[str, str]) -> None:
    """Record ``{releasekit session: registered name}`` (what ``install()`` registered)."""
    _registered.update(names)


def nox_command(session: str, args: str = "") -> str:
    """``nox -s NAME [-- ARGS]`` with the name ``session`` was registered under."""
    command = f"nox -s {_registered.get(session, session)}"
    return f"{command} -- {args}" if args.strip() else command


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _install_names(tree: ast.Module) -> set[str]:
    """How the noxfile spells ``releasekit.nox.install`` (after its imports)."""
    names = {"releasekit.nox.install"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "releasekit.nox" and alias.asname:
                    names.add(f"{alias.asname}.install")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if node.module == "releasekit" and alias.name == "nox":
                    names.add(f"{alias.asname or 'nox'}.install")
                elif node.module == "releasekit.nox" and alias.name == "install":
                    names.add(alias.asname or "install")
    return names


def read_session_names(noxfile: Path) -> dict[str, str]:
    """``{releasekit session: name}`` from the ``install(...)`` calls of ``noxfile``.

    Only literal ``prefix=`` and ``sessions=`` arguments are understood; a
    noxfile that is missing or cannot be parsed gives ``{}`` (the plain names).
    """
    try:
        tree = ast.parse(noxfile.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    spellings = _install_names(tree)
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _dotted(node.func) not in spellings:
            continue
        prefix = ""
        chosen: list[str] = list(SESSIONS)
        arguments = {k.arg: k.value for k in node.keywords if k.arg}
        if node.args:
            arguments.setdefault("sessions", node.args[0])
        value = arguments.get("prefix")
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            prefix = value.value
        listed = arguments.get("sessions")
        if isinstance(listed, (ast.List, ast.Tuple)):
            chosen = [
                item.value
                for item in listed.elts
                if isinstance(item, ast.Constant) and isinstance(item.value, str)
            ]
        found.update({name: f"{prefix}{name}" for name in chosen})
    return found


def use_noxfile(root: Path) -> None:
    """Record the session names of the noxfile in ``root`` (for the invoke tasks)."""
    set_session_names(read_session_names(root / "noxfile.py"))
