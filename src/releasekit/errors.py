"""The one exception tree of releasekit.

Every problem a user can cause or fix is a :class:`ReleaseError`: a one-line
``message`` saying what went wrong and a one-line ``hint`` saying what to do
next.  Adapters (nox sessions, invoke tasks) print the two lines and exit
non-zero; they show a traceback only with ``--debug``.  Other libraries'
errors are wrapped where they enter releasekit.
"""

from __future__ import annotations

from collections.abc import Sequence

from releasekit._secrets import redact

__all__ = [
    "BuildFailed",
    "CommandFailed",
    "ConfigError",
    "CredentialsError",
    "DeadlineExceeded",
    "DependencyConfusion",
    "DigestMismatch",
    "DirtyWorkingTree",
    "DistCheckFailed",
    "EditFailed",
    "GateRefused",
    "GitError",
    "IndexError_",
    "IndexFailure",
    "IndexTimeout",
    "IndexUnreachable",
    "InstallFailed",
    "Interrupted",
    "InvalidVersion",
    "LeakFound",
    "NewsError",
    "NotConfirmed",
    "NotReproducible",
    "NotesError",
    "PackageNotFound",
    "PreflightFailed",
    "ReleaseError",
    "RollbackRefused",
    "SessionClash",
    "SignatureInvalid",
    "SigningError",
    "SmokeFailed",
    "TagError",
    "ToolNotFound",
    "UnknownSession",
    "UploadRejected",
    "VerifyFailed",
    "VersionBurnt",
    "VersionError",
    "VersionExists",
    "VersionNotOnIndex",
    "WorkspaceError",
]


class ReleaseError(Exception):
    """A problem the user can fix: what went wrong, and what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        # a known credential never reaches the user, whoever wrote the message
        message, hint = redact(message), redact(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def render(self) -> str:
        """The two lines an adapter prints: the error, then the hint."""
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message


# --- configuration and workspace -------------------------------------------------


class ConfigError(ReleaseError):
    """``[tool.releasekit]`` (or a pyproject it reads) is missing or wrong."""


class SessionClash(ConfigError):
    """``releasekit.nox.install()`` would replace a session the noxfile defines."""


class UnknownSession(ConfigError):
    """``releasekit.nox.install(sessions=...)`` names a session releasekit does not have."""


class WorkspaceError(ReleaseError):
    """The package layout cannot be worked out (a cycle, a bad glob)."""


class PackageNotFound(WorkspaceError):
    """A package was asked for by a name or path the workspace does not have."""


# --- versions, notes, git ----------------------------------------------------------


class VersionError(ReleaseError):
    """A bump or version change that the rules refuse."""


class InvalidVersion(VersionError):
    """A string that is not a PEP 440 version."""


class NotesError(ReleaseError):
    """A release-notes entry is missing, untouched or malformed."""


class NewsError(NotesError):
    """A news fragment is malformed, or a changed package has none (``invoke news --check``)."""


class GitError(ReleaseError):
    """git refused, or the repository is not in the state a step needs."""


class DirtyWorkingTree(GitError):
    """Uncommitted or untracked files where a clean tree is required."""


class TagError(GitError):
    """A tag is taken, missing, or must not be touched."""


# --- processes ---------------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: raised where the program was, so every ``with`` unwinds.

    A :class:`KeyboardInterrupt` (as SIGINT gives), not a :class:`ReleaseError`:
    nothing may catch it as an ordinary failure; ``signum`` is the signal.
    """

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(f"interrupted by {name}")
        self.signum = signum
        self.name = name


class CommandFailed(ReleaseError):
    """A command releasekit ran exited non-zero."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        command: Sequence[str] = (),
        returncode: int = 1,
        output: str = "",
    ) -> None:
        super().__init__(message, hint)
        self.command = list(command)
        self.returncode = returncode
        self.output = redact(output)


class ToolNotFound(CommandFailed):
    """A command names a program (a lint or test tool) that is not installed."""


class InstallFailed(CommandFailed):
    """An install into a fresh venv failed; ``missing`` is the requirement not found."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        command: Sequence[str] = (),
        returncode: int = 1,
        output: str = "",
        missing: str | None = None,
        looked_in: str = "",
    ) -> None:
        super().__init__(message, hint, command=command, returncode=returncode, output=output)
        self.missing = missing
        self.looked_in = looked_in


class DependencyConfusion(ReleaseError):
    """A package of the workspace would be installed from an index other than its own."""


# --- preflight, build and check ----------------------------------------------------


class PreflightFailed(ReleaseError):
    """One or more preflight checks failed; ``findings`` holds all of them."""

    def __init__(self, message: str, hint: str = "", *, findings: Sequence[object] = ()) -> None:
        super().__init__(message, hint)
        self.findings = list(findings)


class GateRefused(ReleaseError):
    """The gate before the first upload found problems; ``findings`` holds all of them."""

    def __init__(self, message: str, hint: str = "", *, findings: Sequence[object] = ()) -> None:
        super().__init__(message, hint)
        self.findings = list(findings)


class BuildFailed(ReleaseError):
    """The build backend failed or produced the wrong files."""


class DistCheckFailed(ReleaseError):
    """A built distribution fails ``twine check`` or the metadata checks."""


class LeakFound(ReleaseError):
    """A secret or stray file was found inside a distribution."""

    def __init__(self, message: str, hint: str = "", *, findings: Sequence[object] = ()) -> None:
        super().__init__(message, hint)
        self.findings = list(findings)


class SmokeFailed(ReleaseError):
    """The installed package does not prove its version."""


# --- indexes, publish, verify ------------------------------------------------------


class IndexFailure(ReleaseError):
    """A package index failed: it answered something releasekit cannot work with."""


IndexError_ = IndexFailure  # its earlier name, kept: it is public (in __all__)


class IndexUnreachable(IndexFailure):
    """The package index could not be reached."""


class IndexTimeout(IndexUnreachable):
    """The index accepted the connection but did not answer within the read timeout."""


class DeadlineExceeded(ReleaseError):
    """A total deadline (``verify --timeout``) ran out before the work finished."""


class CredentialsError(ReleaseError):
    """No credentials, or credentials the index refused."""


class NotConfirmed(ReleaseError):
    """An upload that needs a yes (to PyPI, without --yes or CI) did not get one."""


class UploadRejected(IndexFailure):
    """The index refused an upload."""


class VersionExists(UploadRejected):
    """The index already has this version's file."""


class VersionBurnt(IndexFailure):
    """The index holds a file of this version with different content."""


class VersionNotOnIndex(IndexFailure):
    """The version did not appear on the index in time."""


class VerifyFailed(ReleaseError):
    """The published version does not install or prove itself."""


class DigestMismatch(VerifyFailed):
    """The index serves a file whose sha256 is not the one built and published."""


class NotReproducible(VerifyFailed):
    """The wheel rebuilt from the published sdist differs from the published wheel."""


# --- signing -----------------------------------------------------------------------


class SigningError(ReleaseError):
    """A bundle could not be made (no identity token, signing service refused)."""


class SignatureInvalid(ReleaseError):
    """A bundle does not verify for this artifact, identity and issuer."""


# --- rollback ----------------------------------------------------------------------


class RollbackRefused(ReleaseError):
    """A rollback step that would delete, reuse or move what must not change."""


# --- file edits --------------------------------------------------------------------


class EditFailed(ReleaseError):
    """Planned file edits could not be applied; every file was left as it was."""
