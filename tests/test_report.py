"""Plain-text rendering used by the adapters."""

from __future__ import annotations

import pytest

from releasekit.report import format_duration, format_pairs, format_table


def test_table_aligns_columns_under_a_rule() -> None:
    text = format_table(("step", "result"), [("preflight", "ok"), ("publish", "FAILED")])
    assert text.splitlines() == [
        "step       result",
        "---------  ------",
        "preflight  ok",
        "publish    FAILED",
    ]


def test_pairs_align_values() -> None:
    assert format_pairs([("version", "1.0"), ("tag", "v1.0")]) == "version  1.0\ntag      v1.0"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.42, "0.4 s"), (12.0, "12.0 s"), (125, "2 min 05 s")]
)
def test_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
