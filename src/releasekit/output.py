"""Machine-readable output: the ``--json`` documents and GitHub Actions' step summary and outputs.

Every document is one JSON object with ``schema`` (:data:`SCHEMA`, the
version of its shape: fields are only ever added within one version) and
``kind`` (``release``, ``plan``, ``verify``, ``status``); the JSON Schema is
``docs/reference/json-schema.json``.  The adapters print exactly one
document on stdout (:func:`json_stdout` keeps everything else — progress,
tables, the output of lint and test commands — on stderr).

Inside GitHub Actions a release also appends a Markdown table to
``$GITHUB_STEP_SUMMARY`` and writes ``released``, ``version``, ``tag``,
``files`` (and ``prerelease``) to ``$GITHUB_OUTPUT``
(:func:`write_actions_files`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releasekit.errors import ReleaseError
from releasekit.report import format_duration

if TYPE_CHECKING:
    from releasekit.model import ReleaseOptions, ReleaseReport, ReleaseRun, Step, Target
    from releasekit.status import PackageStatus
    from releasekit.verify import VerifyReport

__all__ = [
    "SCHEMA",
    "error_document",
    "json_stdout",
    "plan_document",
    "release_document",
    "status_document",
    "step_summary",
    "verify_document",
    "write_actions_files",
]

SCHEMA = "releasekit/1"
Document = dict[str, Any]


def _error(
    exc: ReleaseError | None, *, step: str | None = None, package: str | None = None
) -> Document | None:
    if exc is None:
        return None
    return {
        "type": type(exc).__name__,
        "message": exc.message,
        "hint": exc.hint or None,
        "step": step,
        "package": package,
    }


def error_document(kind: str, exc: ReleaseError) -> Document:
    """A command that failed before it had anything else to say."""
    return {"schema": SCHEMA, "kind": kind, "ok": False, "error": _error(exc)}


def _files(paths: Sequence[Path]) -> list[Document]:
    from releasekit.index import file_sha256

    return [
        {"name": p.name, "sha256": file_sha256(p), "size": p.stat().st_size}
        for p in sorted(paths, key=lambda p: p.name)
        if p.is_file()
    ]


def _target(target: Target) -> Document:
    files: list[Path] = []
    if target.dists is not None:
        files = list(target.dists.files)
        for dist in target.dists.files:  # bundles and attestations made beside them
            files += [
                p
                for p in dist.parent.glob(f"{dist.name}.*")
                if p.name.endswith((".sigstore.json", ".attestation"))
            ]
    return {
        "name": target.package.name,
        "path": target.package.rel,
        "version": str(target.version),
        "prerelease": target.version.is_prerelease,
        "tag": target.tag,
        "files": _files(files),
        "signed": target.signed,
        "published_to": list(target.published_to),
        "skipped": target.skip_reason,
    }


def _mode(options: ReleaseOptions) -> str:
    return "rehearsal" if options.rehearse else "release"


def plan_document(
    command: str, targets: Sequence[Target], options: ReleaseOptions, steps: Sequence[Step]
) -> Document:
    """``--plan --json``: what would run, nothing run."""
    shown = [s for s in steps if s.name != "testpypi" or options.testpypi_first]
    return {
        "schema": SCHEMA,
        "kind": "plan",
        "command": command,
        "ok": True,
        "mode": _mode(options),
        "index": "local" if options.rehearse else options.index,
        "packages": [_target(t) for t in targets],
        "steps": [
            {
                "step": s.name,
                "remote": s.remote,
                "description": s.description or (s.action.__doc__ or "").strip().split("\n")[0],
            }
            for s in shown
        ],
        "left_machine": False,
        "error": None,
    }


def release_document(
    command: str, run: ReleaseRun, report: ReleaseReport, steps: Sequence[Step]
) -> Document:
    """A pipeline run: packages and files (sha256), steps, what left the machine, the error."""
    remote = {s.name for s in steps if s.remote}
    rehearsal = run.options.rehearse
    sent = [
        {"step": r.step, "package": r.package, "detail": r.detail}
        for r in report.records
        if r.step in remote and r.result == "ok" and not rehearsal
    ]
    return {
        "schema": SCHEMA,
        "kind": "release",
        "command": command,
        "ok": report.ok,
        "mode": _mode(run.options),
        "index": run.index.name,
        "packages": [_target(t) for t in run.targets],
        "steps": [
            {
                "step": r.step,
                "package": r.package,
                "result": r.result.lower(),
                "seconds": round(r.seconds, 3),
                "detail": r.detail,
            }
            for r in report.records
        ],
        "sent": sent,
        "left_machine": bool(sent) or (report.sent and not report.ok),
        "unsigned": report.unsigned,
        "error": _error(report.error, step=report.failed_step, package=report.failed_package),
        "next_command": report.next_command,
    }


def verify_document(index: str, reports: Sequence[VerifyReport]) -> Document:
    """``nox -s verify --json``: what was proved, per package."""
    return {
        "schema": SCHEMA,
        "kind": "verify",
        "ok": True,
        "index": index,
        "packages": [
            {
                "name": r.name,
                "version": r.version,
                "checked": list(r.checked),
                "proof": [line.strip() for line in r.lines if line.strip()],
            }
            for r in reports
        ],
        "error": None,
    }


def status_document(states: Sequence[PackageStatus]) -> Document:
    """``invoke status --json``: one entry per package."""
    return {
        "schema": SCHEMA,
        "kind": "status",
        "ok": True,
        "packages": [
            {
                "name": s.package.name,
                "path": s.package.rel,
                "version": s.version,
                "tag": s.tag,
                "tag_state": s.tag_state,
                "literals": list(s.literals),
                "notes": s.notes,
                "indexes": dict(s.indexes),
                "pins": s.pins,
                "marked": list(s.marked),
                "next_action": s.next_action,
            }
            for s in states
        ],
        "error": None,
    }


# --- GitHub Actions -----------------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def step_summary(doc: Document) -> str:
    """The Markdown a release appends to ``$GITHUB_STEP_SUMMARY``."""
    what = ", ".join(f"{p['name']} {p['version']}" for p in doc.get("packages", []))
    mode = doc.get("mode", "release")
    verdict = "ok" if doc.get("ok") else "FAILED"
    lines = [
        f"### releasekit {doc.get('command', doc['kind'])}: {what} ({mode}, {verdict})",
        "",
        "| step | package | result | time | detail |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in doc.get("steps", []):
        seconds = step.get("seconds")
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    step["step"],
                    step.get("package", ""),
                    step.get("result", "planned"),
                    format_duration(seconds) if seconds is not None else "",
                    step.get("detail", step.get("description", "")),
                )
            )
            + " |"
        )
    files = [(p["name"], f) for p in doc.get("packages", []) for f in p.get("files", [])]
    if files:
        lines += ["", "| package | file | sha256 |", "| --- | --- | --- |"]
        lines += [f"| {_cell(n)} | {_cell(f['name'])} | `{f['sha256']}` |" for n, f in files]
    error = doc.get("error")
    if error:
        lines += ["", f"**Failed** at `{error.get('step')}`: {_cell(error['message'])}"]
        if error.get("hint"):
            lines.append(f"hint: {_cell(error['hint'])}")
    return "\n".join(lines) + "\n"


def actions_outputs(doc: Document) -> dict[str, str]:
    """``released``, ``version``, ``tag``, ``files``, ``prerelease`` for ``$GITHUB_OUTPUT``."""
    packages = [p for p in doc.get("packages", []) if not p.get("skipped")]
    released = doc["kind"] == "release" and doc.get("mode") == "release" and bool(doc.get("ok"))
    released = released and bool(doc.get("sent"))
    return {
        "released": "true" if released else "false",
        "version": " ".join(p["version"] for p in packages),
        "tag": " ".join(p["tag"] for p in packages),
        "files": json.dumps([f["name"] for p in packages for f in p.get("files", [])]),
        "prerelease": "true" if any(p.get("prerelease") for p in packages) else "false",
    }


def write_actions_files(doc: Document, environ: Mapping[str, str] | None = None) -> bool:
    """Inside GitHub Actions: append the step summary and the outputs; False elsewhere."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") != "true":
        return False
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as stream:
            stream.write(step_summary(doc) + "\n")
    outputs = env.get("GITHUB_OUTPUT")
    if outputs:
        with Path(outputs).open("a", encoding="utf-8") as stream:
            for key, value in actions_outputs(doc).items():
                stream.write(f"{key}={value}\n")
    return True


@contextlib.contextmanager
def json_stdout(enabled: bool) -> Iterator[Callable[[Document], None]]:
    """While the block runs, stdout (fd 1, also of child processes) goes to stderr.

    Yields ``emit(doc)``, which writes one JSON document to the real stdout.
    Disabled, stdout is left alone and ``emit`` prints the document as is.
    """

    def emit_plain(doc: Document) -> None:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        sys.stdout.flush()

    if not enabled:
        yield emit_plain
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    emitted: list[Document] = []
    try:
        yield emitted.append
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        for doc in emitted[-1:]:  # exactly one document
            emit_plain(doc)
