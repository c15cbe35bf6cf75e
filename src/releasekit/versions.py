"""PEP 440 version arithmetic: parsing, comparing, the bump rules, final or not.

:func:`plan_bump` is pure version arithmetic (the rules of DESIGN §5, every
rule listed in ``docs/reference/bump-rules.md``).  Nothing here reads or
writes a file or runs a process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import packaging.version
from packaging.version import Version

from releasekit.errors import InvalidVersion, VersionError

__all__ = [
    "PHASES",
    "BumpRequest",
    "is_final",
    "parse_version",
    "plan_bump",
    "same_version",
]

PHASES = ("a", "b", "rc")
"""Pre-release phases in the order a release moves through them."""

_PHASE_SPELLINGS = {
    "a": "a",
    "alpha": "a",
    "b": "b",
    "beta": "b",
    "rc": "rc",
    "c": "rc",
    "pre": "rc",
    "preview": "rc",
}
_LEVELS = ("major", "minor", "patch")

_VERSION_EXAMPLES = "write it like '1.2.0', '1.2.0rc1', '1.2.0.post1' or '1.2.0.dev1'"


# --- parsing and the bump rules --------------------------------------------------------


def parse_version(text: object, *, where: str | None = None) -> Version:
    """``text`` as a normalized PEP 440 version (``1.0.0-rc1`` -> ``1.0.0rc1``).

    ``where`` names the place the text was read from (a file, a TOML key) in
    the error; without it the error quotes the text as the user typed it.
    """
    try:
        return Version(str(text).strip())
    except packaging.version.InvalidVersion:
        message = (
            f"invalid version {text!r}: not a PEP 440 version"
            if where is None
            else f"{where}: {text!r} is not a PEP 440 version"
        )
        raise InvalidVersion(message, _VERSION_EXAMPLES) from None


def same_version(text: str | None, version: Version) -> bool:
    """True when ``text`` spells ``version`` (``v1.0``, ``1.0.0-rc1``...); False for no version."""
    if text is None:
        return False
    try:
        return Version(text.strip()) == version
    except packaging.version.InvalidVersion:
        return False


def is_final(version: Version | str) -> bool:
    """True for a final release (no a/b/rc/dev part), whose tag is never deleted or moved.

    A post-release of a final release is final.  Text that is no version
    counts as final: the safe side for a question that guards deletions.
    """
    if isinstance(version, str):
        try:
            version = Version(version)
        except packaging.version.InvalidVersion:
            return True
    return not (version.is_prerelease or version.is_devrelease)


@dataclass(frozen=True)
class BumpRequest:
    """What the user asked ``invoke bump`` for; contradictory flags are refused on creation.

    ``pre``: ``None`` when ``--pre`` was not given, ``""`` for ``--pre`` with
    no phase, else ``"a"``, ``"b"`` or ``"rc"`` (``alpha``, ``beta``, ``c``
    are accepted and normalized).  ``--dev`` combines with a level, ``--pre``
    or ``--post`` (the first dev release towards that version); ``--pre``
    combines with a level; ``--final`` and ``--to`` stand alone.
    """

    major: bool = False
    minor: bool = False
    patch: bool = False
    pre: str | None = None
    post: bool = False
    dev: bool = False
    final: bool = False
    to: str | None = None

    def __post_init__(self) -> None:
        if self.pre is not None:
            phase = self.pre.strip().lower()
            if phase and phase not in _PHASE_SPELLINGS:
                raise VersionError(
                    f"--pre {self.pre!r} is not a pre-release phase",
                    "use --pre a, --pre b or --pre rc, or --pre alone for the next number",
                )
            object.__setattr__(self, "pre", _PHASE_SPELLINGS.get(phase, ""))
        flags = self.flags
        levels = [f for f in flags if f.lstrip("-") in _LEVELS]
        if not flags:
            raise VersionError(
                "nothing to bump: no --major, --minor, --patch, --pre, --post, --dev, "
                "--final or --to was given",
                "pass one, e.g. `invoke bump --pre` or `invoke bump --to 1.2.0`",
            )
        if self.to is not None and len(flags) > 1:
            others = " ".join(f for f in flags if not f.startswith("--to"))
            raise VersionError(
                f"--to {self.to!r} sets the version explicitly; "
                f"it cannot be combined with {others}",
                "pass either --to V alone, or the bump flags without --to",
            )
        if self.final and len(flags) > 1:
            others = " ".join(f for f in flags if f != "--final")
            raise VersionError(
                f"--final drops the pre/post/dev part; it cannot be combined with {others}",
                "run `invoke bump --final` alone, then bump again if you need more",
            )
        if len(levels) > 1:
            raise VersionError(
                f"{' and '.join(levels)} together: a bump moves one level",
                "pass only one of --major, --minor, --patch",
            )
        if self.post and (self.pre is not None or levels):
            others = " ".join(f for f in flags if f not in {"--post", "--dev"})
            raise VersionError(
                f"--post with {others}: a post-release re-releases the current version, "
                "it cannot also start a new one",
                "use --post alone to fix the current release, or drop --post",
            )

    @property
    def flags(self) -> tuple[str, ...]:
        """The request as command-line flags, e.g. ``("--minor", "--pre")``."""
        flags = [f"--{level}" for level in _LEVELS if getattr(self, level)]
        if self.pre is not None:
            flags.append(f"--pre {self.pre}" if self.pre else "--pre")
        flags.extend(f"--{name}" for name in ("post", "dev", "final") if getattr(self, name))
        if self.to is not None:
            flags.append(f"--to {self.to}")
        return tuple(flags)

    @property
    def level(self) -> int | None:
        """0, 1 or 2 for --major, --minor, --patch; None when no level was asked."""
        for index, name in enumerate(_LEVELS):
            if getattr(self, name):
                return index
        return None

    def __str__(self) -> str:
        return " ".join(self.flags)


def _make(
    base: Version,
    release: Sequence[int] | None = None,
    pre: tuple[str, int] | None = None,
    post: int | None = None,
    dev: int | None = None,
) -> Version:
    """A version in ``base``'s epoch with the given parts (``release`` defaults to base's)."""
    parts = base.release if release is None else release
    text = f"{base.epoch}!" if base.epoch else ""
    text += ".".join(str(p) for p in parts)
    if pre is not None:
        text += f"{pre[0]}{pre[1]}"
    if post is not None:
        text += f".post{post}"
    if dev is not None:
        text += f".dev{dev}"
    return Version(text)


def _is_preview(version: Version) -> bool:
    """A pre-release or dev release of a release not yet out (not a post-release's dev)."""
    return (version.pre is not None or version.dev is not None) and version.post is None


def _release_level(version: Version) -> int | None:
    """The level a release number belongs to: 2.0.0 major (0), 1.2.0 minor (1), 1.2.3 patch (2)."""
    nonzero = [i for i, part in enumerate(version.release) if part]
    return nonzero[-1] if nonzero else None


def _increment(version: Version, level: int) -> tuple[int, ...]:
    """The release number with part ``level`` incremented and the lower parts zeroed."""
    parts = list(version.release) + [0] * max(0, level + 1 - len(version.release))
    parts[level] += 1
    parts[level + 1 :] = [0] * (len(parts) - level - 1)
    return tuple(parts)


def _next_level(current: Version, level: int) -> Version:
    if _is_preview(current) and _release_level(current) == level:
        return _make(current)  # 1.2.3rc1 --patch -> 1.2.3: finalize
    return _make(current, _increment(current, level))


def _next_pre(current: Version, phase: str, level: int | None) -> Version:  # noqa: PLR0911  the --pre rules of docs/reference/bump-rules.md, one return each
    if level is not None:
        if _is_preview(current) and _release_level(current) == level:
            return _next_pre(current, phase, None)  # 0.2.0a1 --minor --pre -> 0.2.0a2
        return _make(current, _increment(current, level), (phase or "a", 1))
    if current.pre is not None:
        now, number = current.pre
        if not phase or phase == now:
            if current.dev is not None and current.post is None:
                return _make(current, pre=(now, number))  # 0.1.0a2.dev1 -> 0.1.0a2
            return _make(current, pre=(now, number + 1))
        if PHASES.index(phase) > PHASES.index(now):
            return _make(current, pre=(phase, 1))
        raise VersionError(
            f"--pre {phase}: {current} is already at phase {now!r}; "
            f"a phase cannot go backwards ({now} -> {phase})",
            f"use --pre alone for {_make(current, pre=(now, number + 1))}, or a later phase",
        )
    if current.dev is not None and current.post is None:
        return _make(current, pre=(phase or "a", 1))  # 1.0.1.dev1 -> 1.0.1a1
    return _make(current, _increment(current, 2), (phase or "a", 1))  # 0.1.0 -> 0.1.1a1


def _next_post(current: Version) -> Version:
    if _is_preview(current):
        final = _make(current)
        raise VersionError(
            f"--post: {current} is not a final release; post-releases fix a final release",
            f"use --pre (or --dev) for the next preview, or --final for {final}",
        )
    if current.post is None:
        return _make(current, post=1)
    if current.dev is not None:
        return _make(current, post=current.post)  # 1.0.0.post1.dev1 -> 1.0.0.post1
    return _make(current, post=current.post + 1)


def _next_dev(current: Version, target: Version | None) -> Version:
    if target is None:
        if current.dev is not None:
            return _make(current, pre=current.pre, post=current.post, dev=current.dev + 1)
        if current.pre is not None:
            target = _next_pre(current, "", None)  # 1.0.0a1 -> 1.0.0a2.dev1
        else:
            target = _make(current, _increment(current, 2))  # 1.0.0 -> 1.0.1.dev1
    elif current.dev is not None:
        same = _make(current, pre=current.pre, post=current.post)
        if same == target:  # still working towards the same version: next dev number
            return _make(current, pre=current.pre, post=current.post, dev=current.dev + 1)
    return _make(target, pre=target.pre, post=target.post, dev=1)


def plan_bump(current: str | Version, request: BumpRequest) -> Version:  # noqa: PLR0912  the bump flags' table, read top to bottom like bump-rules.md
    """The version after ``current`` per ``request`` (pure; see docs/reference/bump-rules.md).

    The result is always above ``current`` and never a local version; a
    local label on ``current`` is ignored (the bump starts from its public
    part).  The epoch is kept.
    """
    given = current if isinstance(current, Version) else parse_version(current)
    base = Version(given.public)
    if request.to is not None:
        new = parse_version(request.to)
    elif request.final:
        if not (base.is_prerelease or base.is_postrelease):
            raise VersionError(
                f"--final: {base} is already a final release",
                "use --patch, --minor or --major to start the next one",
            )
        new = _make(base)
    else:
        target: Version | None = None
        if request.pre is not None:
            target = _next_pre(base, request.pre, request.level)
        elif request.level is not None:
            target = _next_level(base, request.level)
        elif request.post:
            target = _next_post(base)
        if request.dev:
            new = _next_dev(base, target)
        elif target is not None:
            new = target
        else:  # pragma: no cover - BumpRequest refuses an empty request
            raise VersionError(f"nothing to bump from {given}", "pass a bump flag")
    if new.local is not None:
        raise VersionError(
            f"{given} -> {new}: {new} is a local version (+{new.local}), which no index accepts",
            f"drop the '+{new.local}' part, e.g. --to {new.public}",
        )
    if new == base:
        raise VersionError(
            f"{given} -> {new}: the new version equals the current one",
            "pick a version above the current one",
        )
    if new < base:
        raise VersionError(
            f"{given} -> {new} goes backwards: {new} sorts before {given}",
            "versions only move forward; pick one above the current version",
        )
    return new
