"""A noxfile with a release pipeline of its own, composed from releasekit's steps.

Copy it beside your pyproject.toml (or merge it into your noxfile) and run it
as you would the stock session:

    nox -s release -- --all --rehearse
    nox -s release -- oxi-core --index testpypi

What it changes, compared with ``releasekit.nox.install()``:

- the ``lint`` step is dropped (say, CI lints every push already);
- a ``wheel-size`` step is added after ``check``: it refuses a wheel larger
  than ``MAX_WHEEL_KB``, before anything is uploaded;
- the other sessions (build, verify, ...) are releasekit's own.

A step is ``pipeline.Step(name, action, remote=..., description=...)``;
``action(release, target)`` returns a line for the summary table, raises
``pipeline.SkipStep("why")`` when it has nothing to do, or raises a
``releasekit.errors.ReleaseError`` (message + hint) to stop the release.
Local steps must all come before the first remote one: releasekit refuses
a pipeline that could upload before every check has passed.
"""

from __future__ import annotations

import nox

import releasekit.nox
from releasekit import pipeline
from releasekit.errors import DistCheckFailed

MAX_WHEEL_KB = 512


def check_wheel_size(release: pipeline.ReleaseRun, target: pipeline.Target) -> str:
    """Refuse wheels larger than MAX_WHEEL_KB (a stray data file, a vendored blob)."""
    sizes = {wheel.name: wheel.stat().st_size for wheel in pipeline.target_dists(target).wheels}
    too_big = {name: size for name, size in sizes.items() if size > MAX_WHEEL_KB * 1024}
    if too_big:
        name, size = max(too_big.items(), key=lambda item: item[1])
        raise DistCheckFailed(
            f"{name!r} is {size / 1024:.0f} KB, over the {MAX_WHEEL_KB} KB limit",
            "look for files that should not ship (data, build output) or raise MAX_WHEEL_KB",
        )
    largest = max(sizes.values(), default=0)
    return f"{len(sizes)} wheel(s), largest {largest / 1024:.1f} KB (limit {MAX_WHEEL_KB} KB)"


WHEEL_SIZE = pipeline.Step(
    "wheel-size", check_wheel_size, description=f"every wheel under {MAX_WHEEL_KB} KB"
)

STEPS: list[pipeline.Step] = []
for step in pipeline.DEFAULT_STEPS:
    if step.name == "lint":
        continue  # dropped
    STEPS.append(step)
    if step.name == "check":
        STEPS.append(WHEEL_SIZE)  # added right after the stock checks

# every stock session but release: that one is ours
releasekit.nox.install(sessions=["lint", "build", "sign", "testpypi", "publish", "verify"])


@nox.session(venv_backend="none", default=False)
def release(session: nox.Session) -> None:
    """Our release: releasekit's pipeline without lint, plus a wheel-size gate."""
    releasekit.nox.run_pipeline(session, STEPS)
