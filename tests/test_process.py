"""The one process runner: logging, errors with the output tail, redaction, servers."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from releasekit._process import redact_text, run, spawn, stop
from releasekit.errors import CommandFailed


def test_failure_carries_exit_code_and_output_tail() -> None:
    code = "import sys; [print(f'line {i}') for i in range(40)]; sys.exit(3)"
    with pytest.raises(CommandFailed) as info:
        run([sys.executable, "-c", code], what="the demo")
    err = info.value
    assert err.returncode == 3
    assert "the demo failed (exit 3)" in err.message
    assert "line 39" in err.message and "line 5\n" not in err.message  # the tail only
    assert err.hint


def test_secrets_are_redacted_from_log_error_and_output(caplog: pytest.LogCaptureFixture) -> None:
    secret = "pypi-s3cr3t-value"
    caplog.set_level(logging.DEBUG, logger="releasekit")
    code = f"print('token={secret}'); raise SystemExit(1)"
    with pytest.raises(CommandFailed) as info:
        run([sys.executable, "-c", code, secret], redact=[secret])
    assert secret not in info.value.render() and secret not in info.value.output
    assert secret not in caplog.text and "***" in caplog.text
    ok = run([sys.executable, "-c", f"print('{secret}')"], redact=[secret])
    assert ok.stdout.strip() == "***"
    assert redact_text("a b a", ["a", ""]) == "*** b ***"


def test_a_missing_program_is_a_clear_error() -> None:
    with pytest.raises(CommandFailed, match="'no-such-tool-rk' was not found") as info:
        run(["no-such-tool-rk", "--version"])
    assert info.value.returncode == 127


def test_spawned_server_is_stopped_by_its_pid(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    proc = spawn([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
                 log_file=log)  # fmt: skip
    assert proc.poll() is None
    stop(proc, grace=5)
    assert proc.poll() is not None
