"""Several packages' share of a step at once: outcomes and output in the packages' order.

Unit tests of releasekit's own orchestration (threads, held log records, the shared
environment); the release runs that use it are tested in tests/test_release_concurrent.py.
"""

from __future__ import annotations

import contextvars
import io
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from releasekit._process import environ_set
from releasekit.concurrency import run_concurrently, worker_count

log = logging.getLogger("releasekit.test_concurrency")


@pytest.fixture
def shown() -> Iterator[io.StringIO]:
    """What a handler on the releasekit logger writes (as a session's output would)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("releasekit")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_workers_are_bounded_by_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert [worker_count(n) for n in (1, 2, 10)] == [1, 2, 2]
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert worker_count(10) == 1


def test_items_run_at_once_and_their_output_comes_back_in_order(
    shown: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    both_running = threading.Barrier(2, timeout=60)  # a safety net, not a timing

    def action(name: str) -> str:
        log.info("%s starts", name)
        both_running.wait()  # each item logs while the other one runs
        # a thread the action starts in a copy of its context (verify does) is held too
        helper = threading.Thread(
            target=contextvars.copy_context().run, args=(log.info, "%s helper", name)
        )
        helper.start()
        helper.join()
        log.info("%s ends", name)
        return name.upper()

    lines: list[str] = []
    for outcome in run_concurrently(["a", "b"], action):
        lines.append(f"-- {outcome.item}")
        outcome.replay()
        lines.append(f"{outcome.item}: {outcome.value}")
        lines.extend(shown.getvalue().splitlines())
        shown.truncate(0)
        shown.seek(0)
    assert lines == [
        "-- a", "a: A", "a starts", "a helper", "a ends",
        "-- b", "b: B", "b starts", "b helper", "b ends",
    ]  # fmt: skip
    log.info("after")
    assert shown.getvalue() == "after\n"  # emitted at once again


def test_a_failing_item_does_not_stop_the_others(shown: io.StringIO) -> None:
    def action(number: int) -> int:
        log.info("item %d", number)
        if number == 1:
            raise ValueError("one failed")
        return number * 10

    outcomes = list(run_concurrently([0, 1, 2], action))
    assert [o.item for o in outcomes] == [0, 1, 2]
    assert [o.value for o in outcomes] == [0, None, 20]
    assert outcomes[0].error is None and outcomes[2].error is None
    assert isinstance(outcomes[1].error, ValueError)
    assert str(outcomes[1].error) == "one failed"
    assert shown.getvalue() == ""  # nothing shown before replay
    for outcome in outcomes:
        outcome.replay()
    assert shown.getvalue().splitlines() == ["item 0", "item 1", "item 2"]


def test_environ_set_holds_until_the_last_thread_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RK_TEST_EPOCH", raising=False)
    inside = threading.Barrier(2, timeout=60)
    first_left = threading.Event()
    seen: list[str | None] = []

    def first() -> None:
        with environ_set("RK_TEST_EPOCH", "7"):
            inside.wait()
        first_left.set()

    def second() -> None:
        with environ_set("RK_TEST_EPOCH", "7", unless_set=True):
            inside.wait()
            first_left.wait(60)
            seen.append(os.environ.get("RK_TEST_EPOCH"))  # the other block has ended

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == ["7"]
    assert "RK_TEST_EPOCH" not in os.environ


def test_environ_set_keeps_or_restores_the_value_the_user_had(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RK_TEST_EPOCH", "1")
    with environ_set("RK_TEST_EPOCH", "2", unless_set=True):
        assert os.environ["RK_TEST_EPOCH"] == "1"
    with environ_set("RK_TEST_EPOCH", "3"):
        assert os.environ["RK_TEST_EPOCH"] == "3"
    assert os.environ["RK_TEST_EPOCH"] == "1"


def test_preload_imports_what_the_later_steps_need_and_ignores_what_fails() -> None:
    code = (
        "import sys\n"
        "from releasekit import preload\n"
        "preload.STEP_MODULES['later'] = ('no_such_module_here', 'twine.commands.upload')\n"
        "assert 'twine.commands.upload' not in sys.modules\n"
        "preload.preload(['lint', 'later']).join()\n"
        "print('twine.commands.upload' in sys.modules, 'no_such_module_here' in sys.modules)\n"
        "preload.STEP_MODULES['again'] = ('twine.commands.upload',)\n"
        "print(preload.preload(['again']))\n"  # nothing left to import: no thread
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    lines = done.stdout.splitlines()
    assert lines == ["True False", "None"]


def test_work_started_ahead_is_taken_once_and_what_nobody_took_is_discarded() -> None:
    import threading

    from releasekit.concurrency import Ahead

    done = threading.Event()

    def upper(key: str) -> str:
        if key == "b":
            done.set()
        return key.upper()

    def fail(key: str) -> str:
        raise ZeroDivisionError(key)

    discarded: list[tuple[str, str]] = []
    with Ahead[str, str](3, discard=lambda key, value: discarded.append((key, value))) as ahead:
        assert ahead.start("a", upper)
        assert not ahead.start("a", fail), "one piece of work per key"
        assert ahead.start("b", upper)
        assert ahead.start("c", fail)
        assert ahead.take("a") == "A"
        assert ahead.take("a") is None, "taken once"
        assert ahead.take("missing") is None
        assert ahead.pending() == 2
        assert done.wait(60)
    assert discarded == [("b", "B")], "the failed one has nothing to discard"
