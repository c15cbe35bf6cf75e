"""The shape of ``src/releasekit/``, read from its syntax trees (no imports, no processes).

Rules (docs/testing.md, "The shape of the code"):

- ``core-imports-adapter``: only the adapters (``nox.py``, ``invoke.py``) import nox or invoke;
- ``starts-process``: only ``_process.py`` starts processes (subprocess, ``os.system``,
  ``os.exec*``, ``os.spawn*``, ``os.popen``, ``os.fork``, asyncio subprocesses,
  multiprocessing, process pools, ``pty``).  One deliberate exception, in
  :data:`PROGRAMS`: ``_hook_server.py`` is not part of releasekit's process but a
  separate program that ``_process.py`` starts inside a build environment, and forking a
  child per build-backend hook is its whole purpose;
- ``git-command``: only ``git.py`` builds git commands (a list or tuple whose first item is
  ``"git"``, a string command line starting with ``git``, a call of git.py's generic runner
  that takes the arguments from its caller);
- ``module-lines``: no module over :data:`MAX_MODULE_LINES` lines;
- ``function-lines``: no function over :data:`MAX_FUNCTION_LINES` lines.

Each rule is also run against a small source that breaks it, so these tests can fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT / "src" / "releasekit"

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100

ADAPTERS = frozenset({"nox.py", "invoke.py"})
PROCESS_MODULE = "_process.py"
# Programs shipped in the package and run as processes of their own (never imported by
# releasekit), which may start processes: the PEP 517 hook server forks a child per hook.
PROGRAMS = frozenset({"_hook_server.py"})
GIT_MODULE = "git.py"

# Today's offenders, each with the engineer who owns the module.  Whoever fixes one
# deletes its line; a line that no longer matches a violation fails the suite, so the
# list only shrinks.  A key is (rule, module, where): ``where`` is the function's
# qualified name, or "" for a rule about the whole module.
KNOWN_VIOLATIONS: frozenset[tuple[str, str, str]] = frozenset({})


@dataclass(frozen=True)
class Violation:
    rule: str
    module: str  # the path relative to src/releasekit/, with "/" separators
    where: str  # the enclosing function's qualified name, "" at module level
    line: int
    detail: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.module, self.where)

    def __str__(self) -> str:
        where = f" in {self.where}" if self.where else ""
        return f"src/releasekit/{self.module}:{self.line}{where}: [{self.rule}] {self.detail}"


# Names (after import aliases are resolved) whose call starts a process.
_PROCESS_CALLS = frozenset(
    {
        "subprocess.run",
        "subprocess.Popen",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "os.system",
        "os.popen",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.posix_spawnp",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
        "asyncio.subprocess.create_subprocess_exec",
        "asyncio.subprocess.create_subprocess_shell",
        "concurrent.futures.ProcessPoolExecutor",
        "concurrent.futures.process.ProcessPoolExecutor",
        "pty.spawn",
        "pty.fork",
    }
)
_PROCESS_PREFIXES = ("os.exec", "os.spawn", "multiprocessing.")
# methods that start a process whatever object they are called on (an event loop's)
_PROCESS_METHODS = frozenset({"subprocess_exec", "subprocess_shell"})
_ADAPTER_PACKAGES = frozenset({"nox", "invoke"})


def _imported_names(tree: ast.Module, module: str) -> dict[str, str]:
    """Local name -> dotted name it stands for, from every import in the module."""
    package = ["releasekit", *module.split("/")[:-1]]
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                names[alias.asname or alias.name] = f"{source}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class _Checker(ast.NodeVisitor):
    """One module's violations of the process and git rules."""

    def __init__(self, module: str, tree: ast.Module, git_runners: frozenset[str]) -> None:
        self.module = module
        self.names = _imported_names(tree, module)
        self.git_runners = git_runners
        self.git_names: set[str] = set()  # variables holding "git" or the path to git
        self.scope: list[str] = []
        self.found: list[Violation] = []

    # -- bookkeeping ---------------------------------------------------------------

    def _report(self, rule: str, node: ast.AST, detail: str) -> None:
        line = getattr(node, "lineno", 0)
        self.found.append(Violation(rule, self.module, ".".join(self.scope), line, detail))

    def _resolve(self, node: ast.expr) -> str | None:
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        head = self.names.get(head, head)
        return f"{head}.{rest}" if rest else head

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = _scoped
    visit_AsyncFunctionDef = _scoped
    visit_ClassDef = _scoped

    # -- aliases: ``runner = subprocess.run``, ``GIT = "git"``, ``git = shutil.which("git")``

    def visit_Assign(self, node: ast.Assign) -> None:
        targets = [target.id for target in node.targets if isinstance(target, ast.Name)]
        resolved = self._resolve(node.value)
        if resolved is not None:
            for target in targets:
                self.names[target] = resolved
        if self._is_git(node.value):
            self.git_names.update(targets)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name) and node.value is not None:
            resolved = self._resolve(node.value)
            if resolved is not None:
                self.names[node.target.id] = resolved
            if self._is_git(node.value):
                self.git_names.add(node.target.id)
        self.generic_visit(node)

    def _is_git(self, node: ast.expr | None) -> bool:
        """Is ``node`` the git program: ``"git"``, a variable holding it, ``which("git")``?"""
        if isinstance(node, ast.Constant):
            return node.value == "git"
        if isinstance(node, ast.Name):
            return node.id in self.git_names
        if isinstance(node, ast.Call) and self._resolve(node.func) == "shutil.which":
            return bool(node.args) and self._is_git(node.args[0])
        if isinstance(node, ast.Call) and _dotted(node.func) in {"str", "os.fspath"}:
            return bool(node.args) and self._is_git(node.args[0])
        return False

    # -- the rules -------------------------------------------------------------------

    def visit_List(self, node: ast.List) -> None:
        self._sequence(node)

    def visit_Tuple(self, node: ast.Tuple) -> None:
        self._sequence(node)

    def _sequence(self, node: ast.List | ast.Tuple) -> None:
        if self.module != GIT_MODULE and node.elts and self._is_git(node.elts[0]):
            self._report("git-command", node, "a command list starting with git")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self._resolve(node.func)
        if self.module != PROCESS_MODULE and self.module not in PROGRAMS:
            if name is not None and (name in _PROCESS_CALLS or name.startswith(_PROCESS_PREFIXES)):
                self._report("starts-process", node, f"calls {name}()")
            elif isinstance(node.func, ast.Attribute) and node.func.attr in _PROCESS_METHODS:
                self._report("starts-process", node, f"calls .{node.func.attr}()")
        if self.module != GIT_MODULE:
            if name is not None and name in self.git_runners:
                self._report("git-command", node, f"passes git arguments to {name}()")
            elif self._git_command_line(node):
                self._report("git-command", node, "splits a git command line")
        self.generic_visit(node)

    def _git_command_line(self, node: ast.Call) -> bool:
        """``"git tag --list".split()`` or ``shlex.split("git ...")``."""
        if self._resolve(node.func) == "shlex.split" and node.args:
            text = node.args[0]
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "split":
            text = node.func.value
        else:
            return False
        return (
            isinstance(text, ast.Constant)
            and isinstance(text.value, str)
            and text.value.split()[:1] == ["git"]
        )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._adapter_import(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.level and node.module:
            self._adapter_import(node, node.module)

    def _adapter_import(self, node: ast.stmt, name: str) -> None:
        if Path(self.module).name not in ADAPTERS or "/" in self.module:
            top = name.split(".", maxsplit=1)[0]
            if top in _ADAPTER_PACKAGES:
                self._report("core-imports-adapter", node, f"imports {name}")


def _functions(
    body: Iterable[ast.stmt], prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node
            yield from _functions(node.body, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node.body, f"{prefix}{node.name}.")


def git_runners(git_source: str) -> frozenset[str]:
    """git.py's functions that run whatever git arguments their caller passes (``*args``)."""
    tree = ast.parse(git_source)
    return frozenset(
        f"releasekit.git.{node.name}"
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.args.vararg is not None
    )


def check_module(
    module: str, source: str, runners: frozenset[str] = frozenset()
) -> list[Violation]:
    """Every violation in one module's ``source``; ``module`` is its path under releasekit/."""
    tree = ast.parse(source, filename=module)
    checker = _Checker(module, tree, runners)
    checker.visit(tree)
    found = checker.found
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(
            Violation("module-lines", module, "", lines, f"{lines} lines > {MAX_MODULE_LINES}")
        )
    for name, node in _functions(tree.body):
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        length = (node.end_lineno or node.lineno) - start + 1
        if length > MAX_FUNCTION_LINES:
            detail = f"{length} lines > {MAX_FUNCTION_LINES}"
            found.append(Violation("function-lines", module, name, node.lineno, detail))
    return found


def check_package(package: Path = PACKAGE) -> list[Violation]:
    git_py = package / GIT_MODULE
    runners = git_runners(git_py.read_text(encoding="utf-8")) if git_py.exists() else frozenset()
    found: list[Violation] = []
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        found += check_module(module, path.read_text(encoding="utf-8"), runners)
    return found


# -- the package -----------------------------------------------------------------------


def test_the_package_keeps_its_layers() -> None:
    new = [str(v) for v in check_package() if v.key not in KNOWN_VIOLATIONS]
    assert not new, "\n".join(["layering broken (docs/testing.md, The shape of the code):", *new])


def test_every_known_violation_is_still_there() -> None:
    """A fixed violation's line goes from KNOWN_VIOLATIONS, so the list only shrinks."""
    still = {v.key for v in check_package()}
    fixed = sorted(KNOWN_VIOLATIONS - still)
    assert not fixed, f"fixed: delete these lines from KNOWN_VIOLATIONS: {fixed}"


# -- each rule against a source that breaks it -----------------------------------------

_BREAKING: list[tuple[str, str, tuple[str, str]]] = [
    ("pipeline.py", "import nox\n", ("core-imports-adapter", "")),
    ("status.py", "from invoke.tasks import task\n", ("core-imports-adapter", "")),
    ("signing/bundles.py", "import invoke.context as ctx\n", ("core-imports-adapter", "")),
    ("dists.py", "import subprocess\nsubprocess.run(['uv'])\n", ("starts-process", "")),
    ("_hook_runner.py", "import os\nos.fork()\n", ("starts-process", "")),
    (
        "dists.py",
        "from subprocess import check_output as out\ndef f():\n    out(['uv'])\n",
        ("starts-process", "f"),
    ),
    ("venvs.py", "import os\nos.system('ls')\n", ("starts-process", "")),
    ("venvs.py", "import os\nos.execvp('uv', ['uv'])\n", ("starts-process", "")),
    ("venvs.py", "from os import spawnlp\nspawnlp(0, 'uv', 'uv')\n", ("starts-process", "")),
    ("venvs.py", "import os\nos.popen('ls').read()\n", ("starts-process", "")),
    (
        "verify.py",
        "import asyncio\nasync def f():\n    await asyncio.create_subprocess_exec('uv')\n",
        ("starts-process", "f"),
    ),
    (
        "verify.py",
        "async def f(loop):\n    await loop.subprocess_exec(object, 'uv')\n",
        ("starts-process", "f"),
    ),
    (
        "index.py",
        "import multiprocessing as mp\nclass S:\n    def go(self):\n        mp.Process().start()\n",
        ("starts-process", "S.go"),
    ),
    (
        "index.py",
        "from concurrent.futures import ProcessPoolExecutor\nProcessPoolExecutor()\n",
        ("starts-process", ""),
    ),
    (
        "index.py",
        "import subprocess as sp\nrunner = sp.Popen\nrunner(['x'])\n",
        ("starts-process", ""),
    ),
    (
        "pipeline.py",
        "from releasekit._process import run\ndef tag():\n    run(['git', 'tag', 'v1'])\n",
        ("git-command", "tag"),
    ),
    ("pipeline.py", "COMMAND = ('git', 'status')\n", ("git-command", "")),
    ("rollback.py", "def f(args):\n    return ['git', *args]\n", ("git-command", "f")),
    ("rollback.py", "GIT = 'git'\ndef f():\n    return [GIT, 'log']\n", ("git-command", "f")),
    (
        "rollback.py",
        "import shutil\ndef f():\n    exe = shutil.which('git')\n    return [exe, 'log']\n",
        ("git-command", "f"),
    ),
    ("notes.py", "import shlex\nshlex.split('git log -1')\n", ("git-command", "")),
    ("notes.py", "'git tag --list'.split()\n", ("git-command", "")),
    (
        "versions.py",
        "from releasekit import git\ndef tags(root):\n    return git.run_git(root, 'tag')\n",
        ("git-command", "tags"),
    ),
    (
        "versions.py",
        "from .git import run_git\ndef tags(root):\n    return run_git(root, 'tag')\n",
        ("git-command", "tags"),
    ),
    ("big.py", "x = 1\n" * (MAX_MODULE_LINES + 1), ("module-lines", "")),
    (
        "steps.py",
        "class Step:\n    def run(self):\n" + "        x = 1\n" * MAX_FUNCTION_LINES,
        ("function-lines", "Step.run"),
    ),
]


@pytest.mark.parametrize(("module", "source", "expected"), _BREAKING)
def test_a_source_that_breaks_a_rule_is_reported(
    module: str, source: str, expected: tuple[str, str]
) -> None:
    runners = frozenset({"releasekit.git.run_git"})
    found = check_module(module, source, runners)
    assert [(v.rule, v.where) for v in found] == [expected]
    assert str(found[0]).startswith(f"src/releasekit/{module}:")


_ALLOWED: list[tuple[str, str]] = [
    ("nox.py", "import nox\nfrom nox.command import CommandFailed\n"),
    ("invoke.py", "from invoke.tasks import task\n"),
    ("_process.py", "import subprocess\nsubprocess.Popen(['x']).wait()\n"),
    ("_hook_server.py", "import os\npid = os.fork()\n"),
    ("git.py", "from releasekit._process import run\nrun(['git', 'status'])\n"),
    ("git.py", "def run_git(repo, *args):\n    return ['git', *args]\nrun_git('.', 'tag')\n"),
    ("index.py", "import subprocess\ndef stop(proc: subprocess.Popen[bytes]) -> None: ...\n"),
    ("pipeline.py", "from releasekit import git\ngit.create_tag(root, 'v1', 'Release')\n"),
    ("notes.py", "x = ['github', 'git tags']\n'gitlab x'.split()\n"),
    ("news.py", "from releasekit.session_names import nox_command\n"),
    ("ok.py", "x = 1\n" * MAX_MODULE_LINES),
    ("ok.py", "def f():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1)),
]


@pytest.mark.parametrize(("module", "source"), _ALLOWED)
def test_a_source_within_the_rules_is_not_reported(module: str, source: str) -> None:
    runners = frozenset({"releasekit.git.run_git"})
    assert check_module(module, source, runners) == []


def test_git_runners_are_the_functions_taking_any_arguments() -> None:
    source = (
        "def _git(repo, *args, what='git'): ...\n"
        "def run_git(repo, *args): ...\n"
        "def head(repo): ...\n"
    )
    assert git_runners(source) == {"releasekit.git._git", "releasekit.git.run_git"}
