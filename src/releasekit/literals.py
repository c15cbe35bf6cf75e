"""Hardcoded ``__version__ = "..."`` literals: found, so they can be reported with the fix.

A literal goes stale at the next bump; :func:`find_version_literals` finds
them in a package's own modules and :data:`LITERAL_FIX_HINT` says what to
write instead (``importlib.metadata.version``).
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from releasekit.errors import ConfigError
from releasekit.version_source import find_version_source, package_version_files
from releasekit.workspace import Package

__all__ = ["LITERAL_FIX_HINT", "VersionLiteral", "find_version_literals", "literal_fix_hint"]

log = logging.getLogger("releasekit")

LITERAL_FIX_HINT = (
    "read the version from the installed metadata instead: "
    '`from importlib.metadata import version; __version__ = version("DIST-NAME")`'
)
"""The fix for a hardcoded ``__version__`` literal; :func:`literal_fix_hint` names the package."""


def literal_fix_hint(name: str) -> str:
    """:data:`LITERAL_FIX_HINT` with the package's distribution name filled in."""
    return LITERAL_FIX_HINT.replace("DIST-NAME", name)


_SKIP_DIRS = frozenset(
    {"tests", "test", "testing", "build", "dist", "docs", "venv", "node_modules", "__pycache__"}
)
_ROOT_SCRIPTS = frozenset(
    {"setup.py", "noxfile.py", "tasks.py", "conftest.py", "fabfile.py", "manage.py"}
)


@dataclass(frozen=True)
class VersionLiteral:
    """A hardcoded ``__version__ = "..."`` at ``path`` (absolute) line ``line``."""

    path: Path
    line: int
    value: str


def _python_files(package: Package) -> Iterator[Path]:
    """The package's own modules: under src/, top-level packages, top-level modules."""
    root = package.root
    starts: list[Path] = []
    if (root / "src").is_dir():
        starts.append(root / "src")
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or child.name in _SKIP_DIRS:
            continue
        if child.is_dir() and child.name != "src" and (child / "__init__.py").is_file():
            starts.append(child)
        elif child.is_file() and child.suffix == ".py" and child.name not in _ROOT_SCRIPTS:
            yield child
    for start in starts:
        for directory, subdirs, files in os.walk(start):
            here = Path(directory)
            subdirs[:] = sorted(
                d
                for d in subdirs
                if not d.startswith(".")
                and d not in _SKIP_DIRS
                and not d.endswith(".egg-info")
                and not (here / d / "pyproject.toml").exists()  # another package's root
            )
            for name in sorted(files):
                if name.endswith(".py"):
                    yield here / name


def _is_version_name(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "__version__"


def _text_of(node: ast.expr | None) -> Iterator[tuple[int, str]]:
    """(line, text) when ``node`` is a string constant; nothing for calls and names."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.lineno, node.value


def _literal_assignments(body: Sequence[ast.stmt]) -> Iterator[tuple[int, str]]:
    """Module-level ``__version__`` string assignments, not those in ``except`` handlers."""
    for node in body:
        if isinstance(node, ast.Assign):
            if any(_is_version_name(t) for t in node.targets):
                yield from _text_of(node.value)
        elif isinstance(node, ast.AnnAssign):
            if _is_version_name(node.target):
                yield from _text_of(node.value)
        elif isinstance(node, ast.If):
            yield from _literal_assignments(node.body)
            yield from _literal_assignments(node.orelse)
        elif isinstance(node, ast.Try):
            # the handlers' fallback (`except PackageNotFoundError: __version__ = "0+unknown"`)
            # is not a literal that goes stale: the metadata lookup in the body is the source
            yield from _literal_assignments(node.body)
            yield from _literal_assignments(node.orelse)
            yield from _literal_assignments(node.finalbody)
        elif isinstance(node, ast.With):
            yield from _literal_assignments(node.body)


def find_version_literals(package: Package) -> list[VersionLiteral]:
    """Hardcoded ``__version__`` strings in the package's modules (tests, venvs, builds skipped).

    Left out: the file that *is* the version's configured source (hatch
    ``path``, flit's module, setuptools ``attr``, pdm ``file``), files the
    build backend generates (a setuptools-scm ``version_file``) and the
    ``version-files`` (bump writes them, preflight checks them).  Report
    each literal found with :data:`LITERAL_FIX_HINT`.
    """
    exclude: set[Path] = set()
    with contextlib.suppress(ConfigError):
        source = find_version_source(package)
        if source.kind == "file" and source.path is not None:
            exclude.add(source.path.resolve())
        exclude.update(p.resolve() for p in source.generated)
    with contextlib.suppress(ConfigError):
        exclude.update(entry.path.resolve() for entry in package_version_files(package))
    found: list[VersionLiteral] = []
    for path in _python_files(package):
        if path.resolve() in exclude:
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError) as exc:
            log.debug("skipping %s while looking for __version__ literals: %s", path, exc)
            continue
        found.extend(
            VersionLiteral(path, line, value) for line, value in _literal_assignments(tree.body)
        )
    return found
