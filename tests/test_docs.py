"""The docs stay true: the site's nav, the reference against the code, console snippets.

Each failure says which page needs which name, so a new session, task, flag or
config key (or a renamed one) is documented in the same change.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import releasekit.nox
from releasekit.config import INDEX_KEYS, PACKAGE_KEYS, SIGNING_KEYS, WORKSPACE_KEYS
from releasekit.invoke import ns
from tests.cli import invoke
from tests.conftest import PROJECT, git

DOCS = PROJECT / "docs"
SRC = PROJECT / "src" / "releasekit"
SESSIONS_PAGE = DOCS / "reference" / "sessions.md"
TASKS_PAGE = DOCS / "reference" / "tasks.md"
CONFIG_PAGE = DOCS / "reference" / "configuration.md"
TASK_PAGES = {"rollback": DOCS / "runbooks" / "rollback.md"}  # documented in its runbook
NAV_SECTIONS = {
    "how-to": "How-to guides",
    "reference": "Reference",
    "runbooks": "Runbooks",
}


def rel(page: Path) -> str:
    return page.relative_to(PROJECT).as_posix()


def read(page: Path) -> str:
    return page.read_text(encoding="utf-8")


# --- the site ----------------------------------------------------------------------------------


def nav_pages(nav: object) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_pages(value)


def test_every_page_under_docs_is_in_the_nav() -> None:
    config = yaml.safe_load(read(PROJECT / "mkdocs.yml"))
    listed = set(nav_pages(config["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    problems = []
    for page in sorted(pages - listed):
        section = NAV_SECTIONS.get(page.split("/")[0], "the section it belongs to")
        problems.append(
            f"docs/{page} is not in the site's navigation: add a line "
            f"'      - <Title>: {page}' under '{section}' in mkdocs.yml's nav"
        )
    problems += [
        f"mkdocs.yml's nav lists {page}, which is not a file under docs/: fix or remove the line"
        for page in sorted(listed - pages)
    ]
    assert not problems, "\n".join(problems)


def test_the_strict_build_fails_on_a_broken_link_and_a_page_left_out(tmp_path: Path) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(PROJECT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    tasks = tmp_path / "docs/reference/tasks.md"
    tasks.write_text(read(tasks) + "\nSee [the gone page](gone.md).\n", encoding="utf-8")
    (tmp_path / "docs/how-to/orphan.md").write_text("# Not in the nav\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Aborted with" in output and "warnings in strict mode" in output
    assert "contains a link 'gone.md'" in output
    assert 'not included in the "nav"' in output and "how-to/orphan.md" in output


# --- the reference against the code ------------------------------------------------------------


def headings(page: Path) -> list[str]:
    return [line for line in read(page).splitlines() if line.startswith("#")]


def test_every_session_is_in_the_sessions_reference_and_no_other() -> None:
    documented = {
        m[1] for line in headings(SESSIONS_PAGE) if (m := re.match(r"^## `([a-z-]+)`", line))
    }
    problems = [
        f"{rel(SESSIONS_PAGE)}: add a section '## `{name}`' for the session {name!r}"
        for name in sorted(set(releasekit.nox.SESSIONS) - documented)
    ]
    problems += [
        f"{rel(SESSIONS_PAGE)}: '## `{name}`' documents a session releasekit.nox does not have"
        for name in sorted(documented - set(releasekit.nox.SESSIONS))
    ]
    assert not problems, "\n".join(problems)


ENVIRONMENT_PAGE = DOCS / "reference" / "environment.md"


def test_every_releasekit_variable_is_in_the_environment_reference_and_no_other() -> None:
    """Every RELEASEKIT_* name the code reads is on the page, and the page names no other."""
    in_code = set()
    for module in SRC.rglob("*.py"):
        in_code |= set(re.findall(r"RELEASEKIT_[A-Z_]+[A-Z]", read(module)))
    in_code = {name for name in in_code if not name.startswith("RELEASEKIT_INDEX_")}
    on_page = set(re.findall(r"`(RELEASEKIT_[A-Z_]+[A-Z])", read(ENVIRONMENT_PAGE)))
    on_page = {name for name in on_page if not name.startswith("RELEASEKIT_INDEX_")}
    assert "RELEASEKIT_INDEX_<NAME>_PASSWORD" in read(ENVIRONMENT_PAGE)
    problems = [f"{rel(ENVIRONMENT_PAGE)}: add {name}" for name in sorted(in_code - on_page)]
    problems += [
        f"{rel(ENVIRONMENT_PAGE)}: {name} is read nowhere in src/releasekit"
        for name in sorted(on_page - in_code)
    ]
    assert not problems, "\n".join(problems)


def session_flags() -> set[str]:
    """Every --flag a releasekit session parses (the argparse calls in releasekit/nox.py)."""
    source = read(SRC / "nox.py")
    return set(re.findall(r"add_argument\(\s*\"(--[a-z][a-z-]*)\"", source))


def test_every_session_flag_is_in_the_sessions_reference() -> None:
    flags = session_flags()
    assert {"--all", "--index", "--rehearse", "--plan"} <= flags  # the scan still works
    page = read(SESSIONS_PAGE)
    missing = sorted(flag for flag in flags if not re.search(rf"{flag}(?![a-z-])", page))
    assert not missing, "\n".join(
        f"{rel(SESSIONS_PAGE)}: document the session flag {flag} (releasekit/nox.py parses it)"
        for flag in missing
    )


def test_session_usage_lines_name_only_real_flags() -> None:
    flags = session_flags()
    problems = []
    for line in read(SESSIONS_PAGE).splitlines():
        if line.lstrip().startswith(("nox -s", "[--")):
            problems += [
                f"{rel(SESSIONS_PAGE)}: {flag} in '{line.strip()}' is not a session flag"
                for flag in re.findall(r"--[a-z][a-z-]*", line)
                if flag not in flags
            ]
    assert not problems, "\n".join(problems)


def task_flags(name: str) -> set[str]:
    return {
        "--" + arg.name.strip("_").replace("_", "-")
        for arg in ns.tasks[name].get_arguments()
        if arg.name not in ns.tasks[name].positional
    }


def test_every_task_and_flag_is_in_the_tasks_reference() -> None:
    problems = []
    for name in sorted(ns.tasks):
        page = TASK_PAGES.get(name, TASKS_PAGE)
        if not any(f"`invoke {name}`" in line for line in headings(TASKS_PAGE)):
            problems.append(f"{rel(TASKS_PAGE)}: add a section '## `invoke {name}`'")
        text = read(page)
        problems += [
            f"{rel(page)}: document the flag {flag} of `invoke {name}`"
            for flag in sorted(task_flags(name))
            if not re.search(rf"{flag}(?![a-z-])", text)
        ]
    assert not problems, "\n".join(problems)


def test_tasks_reference_documents_only_real_tasks_and_flags() -> None:
    problems = []
    for line in headings(TASKS_PAGE):
        problems += [
            f"{rel(TASKS_PAGE)}: the heading '{line}' names `invoke {name}`, which is not a task"
            for name in re.findall(r"`invoke ([a-z-]+)`", line)
            if name not in ns.tasks
        ]
    for line in read(TASKS_PAGE).splitlines():
        match = re.match(r"^invoke ([a-z-]+) ", line)
        if match and match[1] in ns.tasks:
            problems += [
                f"{rel(TASKS_PAGE)}: '{line.strip()}' shows {flag}, not a flag of `invoke "
                f"{match[1]}`"
                for flag in re.findall(r"--[a-z][a-z-]*", line)
                if flag not in task_flags(match[1])
            ]
    assert not problems, "\n".join(problems)


def table_keys(page: Path, section: str) -> set[str]:
    """The first-column keys of the first table under the '## <section>' heading."""
    text = read(page).split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    rows = text.split("\n|", 1)[1].split("\n\n", 1)[0]  # from its first row to a blank line
    return {
        m[1].split(".")[0]
        for line in ("|" + rows).splitlines()
        if (m := re.match(r"^\| `([^`]+)`", line))
    }


def test_every_config_key_is_in_the_configuration_reference_and_no_other() -> None:
    problems = []
    tables = {
        "Workspace keys": set(WORKSPACE_KEYS),
        "Per-package keys": set(PACKAGE_KEYS),
    }
    for section, keys in tables.items():
        documented = table_keys(CONFIG_PAGE, section)
        problems += [
            f"{rel(CONFIG_PAGE)}: add a row '| `{key}` | ...' to the table under '## {section}'"
            for key in sorted(keys - documented)
        ]
        problems += [
            f"{rel(CONFIG_PAGE)}: the row '`{key}`' under '## {section}' is not a key "
            "releasekit reads (releasekit/config.py)"
            for key in sorted(documented - keys)
        ]
    text = read(CONFIG_PAGE)
    problems += [
        f"{rel(CONFIG_PAGE)}: document the key `{key}` of [tool.releasekit.{table}]"
        for table, keys in (("indexes.NAME", INDEX_KEYS), ("signing", SIGNING_KEYS))
        for key in keys
        if not re.search(rf"`{key}(`| =)", text)
    ]
    assert not problems, "\n".join(problems)


# --- console snippets --------------------------------------------------------------------------


def console_blocks(page: Path) -> Iterator[list[str]]:
    lines = read(page).splitlines()
    block: list[str] | None = None
    for line in lines:
        if block is None and line.strip() == "```console":
            block = []
        elif block is not None and line.strip() == "```":
            yield block
            block = None
        elif block is not None:
            block.append(line)


def snippet(page: Path, command: str, occurrence: int = 0) -> list[str]:
    """The output lines shown after ``$ command`` in a console block of ``page``."""
    found = []
    for block in console_blocks(page):
        for i, line in enumerate(block):
            if line == f"$ {command}":
                rest = block[i + 1 :]
                end = next((j for j, out in enumerate(rest) if out.startswith("$ ")), len(rest))
                found.append(rest[:end])
    assert len(found) > occurrence, f"{rel(page)} has no console snippet '$ {command}'"
    return found[occurrence]


def source_text() -> str:
    """releasekit's source with adjacent string literals joined, as the messages read."""
    text = "\n".join(read(path) for path in sorted(SRC.glob("*.py")))
    return re.sub(r"[\"']\s*\n\s*(?:\+\s*)?f?[\"']", "", text)


_VALUE = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|\S*[0-9/_]\S*|\S*\w[.-]\w\S*|\(|\)|,|:|;")


def message_pieces(line: str) -> list[str]:
    """The fixed wording of a printed message: runs of 3+ words between values."""
    pieces = []
    for chunk in _VALUE.split(line):
        words = chunk.split()
        if len(words) >= 3:
            pieces.append(" ".join(words))
    return pieces


STABLE_PAGES = [
    DOCS / "tutorial.md",
    DOCS / "how-to" / "checks.md",
    DOCS / "reference" / "errors.md",
    TASKS_PAGE,
    CONFIG_PAGE,
    DOCS / "reference" / "release-notes.md",
    DOCS / "how-to" / "news-fragments.md",
]


@pytest.mark.parametrize("page", STABLE_PAGES, ids=[p.name for p in STABLE_PAGES])
def test_quoted_errors_and_hints_are_what_the_code_prints(page: Path) -> None:
    source = re.sub(r"\s+", " ", source_text())
    problems = []
    for block in console_blocks(page):
        for line in block:
            if not line.startswith(("error: ", "hint: ")):
                continue
            problems += [
                f"{rel(page)}: the quoted {line.split(':')[0]} '{line}' does not match the "
                f"code (no {piece!r} in src/releasekit): copy the current text from a real run"
                for piece in message_pieces(line.split(": ", 1)[1])
                if piece not in source
            ]
    assert not problems, "\n".join(problems)


def test_the_tasks_reference_error_example_is_real(oxi_repo: Path) -> None:
    result = invoke(oxi_repo, "bump", "--to", "banana")
    assert result.stderr.splitlines() == snippet(TASKS_PAGE, "invoke bump --to banana"), (
        f"{rel(TASKS_PAGE)}: the example of `invoke bump --to banana` differs from what it prints"
    )


def test_the_tasks_reference_bump_example_is_real(oxi_repo: Path) -> None:
    result = invoke(oxi_repo, "bump", "--pre", "--package", "oxi-core")
    assert result.stdout.splitlines() == snippet(
        TASKS_PAGE, "invoke bump --pre --package oxi-core"
    ), f"{rel(TASKS_PAGE)}: the `invoke bump --pre` example differs from what it prints"


def test_the_news_examples_are_real(oxi_repo: Path) -> None:
    git(oxi_repo, "tag", "-a", "-m", "released", "oxi-core-v0.1.0a1")
    news = invoke(
        oxi_repo, "news", "`oxi --version` prints the version", "--type", "fixed", "--issue", "12"
    )
    shown = 'invoke news "`oxi --version` prints the version" --type fixed --issue 12'
    assert news.stdout.splitlines() == snippet(TASKS_PAGE, shown)
    assert news.stdout.splitlines() == snippet(DOCS / "how-to" / "news-fragments.md", shown)
    assert invoke(oxi_repo, "news", "A `--json` flag for `oxi`", "--type", "added").returncode == 0
    bump = invoke(oxi_repo, "bump", "--pre", "--package", "oxi-core")
    assert bump.stdout.splitlines() == snippet(
        TASKS_PAGE, "invoke bump --pre --package oxi-core", 1
    )
    git(oxi_repo, "reset", "-q", "--hard")
    git(oxi_repo, "clean", "-qfd")
    cli = oxi_repo / "src/oxi_core/cli.py"
    cli.write_text(read(cli) + "\n# a change\n")
    check = invoke(oxi_repo, "news", "--check")
    assert check.stderr.splitlines() == snippet(TASKS_PAGE, "invoke news --check")


def test_the_configuration_reference_error_example_is_real(oxi_repo: Path) -> None:
    pyproject = oxi_repo / "pyproject.toml"
    pyproject.write_text(
        read(pyproject).replace("[tool.releasekit]\n", "[tool.releasekit]\ntag-fromat = 'x'\n")
    )
    result = invoke(oxi_repo, "status")
    assert result.stderr.splitlines() == snippet(CONFIG_PAGE, "invoke status"), (
        f"{rel(CONFIG_PAGE)}: the unknown-key example differs from what `invoke status` prints"
    )


def test_the_tutorial_preflight_failure_is_real(oxi_repo: Path) -> None:
    tutorial = DOCS / "tutorial.md"
    (oxi_repo / "src/oxi_core/__init__.py").write_text('__version__ = "0.0.0"\n')
    git(oxi_repo, "commit", "-qam", "oops")
    result = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "release", "--", "oxi-core", "--rehearse"],
        cwd=oxi_repo,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},  # the page shows an 80-column terminal
    )
    assert result.returncode != 0
    shown = [
        line for line in snippet(tutorial, "nox -s release -- oxi-core --rehearse") if line != "..."
    ]
    printed = (result.stdout + result.stderr).splitlines()
    start = printed.index(shown[0]) if shown[0] in printed else -1
    assert printed[start : start + len(shown)] == shown, (
        f"{rel(tutorial)}: the preflight failure shown differs from what the release prints:\n"
        + "\n".join(printed)
    )
