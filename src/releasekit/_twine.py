"""How publish drives twine: one attempt per call, timeouts, quiet, its bytes metered.

twine is used as a library (``twine.commands.upload.upload``) with a
``Settings`` subclass whose repository tries each upload once (releasekit
retries per file itself), mounts adapters with the index's timeouts, and
reports the bytes of the upload body to :mod:`releasekit.progress`.  twine's
console output is logged at DEBUG, redacted; its CLI advice is dropped.
These subclass twine internals: pyproject bounds twine's version.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import requests

from releasekit._process import redact_text
from releasekit.config import IndexConfig
from releasekit.network import TimeoutAdapter
from releasekit.progress import transfer_meter

if TYPE_CHECKING:
    from twine.package import PackageFile
    from twine.settings import Settings

__all__ = ["one_attempt_settings", "twine_quietly"]

log = logging.getLogger("releasekit")


@contextlib.contextmanager
def _twine_output(secrets: Sequence[str]) -> Iterator[None]:
    """Keep twine's console output off the terminal; log it (redacted) instead."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            if line.strip():
                log.debug("twine: %s", redact_text(line, secrets))


def _metered(session: requests.Session, name: str, where: str) -> None:
    """Report the bytes of each upload body as twine's encoder reads them.

    twine hands ``session.post`` a ``MultipartEncoderMonitor`` (whose own bar
    releasekit turns off): its ``callback`` is chained with a progress meter.
    """
    post = session.post

    def metered_post(url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        total, callback = getattr(data, "len", None), getattr(data, "callback", None)
        meter = transfer_meter("upload", name, where, total) if isinstance(total, int) else None
        if meter is not None and callable(callback):

            def both(monitor: Any) -> None:
                callback(monitor)
                meter(monitor.bytes_read)

            data.callback = both
        return post(url, data=data, **kwargs)

    session.post = metered_post  # type: ignore[method-assign,assignment]


def one_attempt_settings(index: IndexConfig, name: str, **options: Any) -> Settings:
    """twine Settings whose repository tries each upload once, with ``index``'s timeouts.

    twine repeats a 5xx upload up to five times at once; releasekit retries
    itself, per file, with backoff and a log line per retry.  twine sets no
    timeout at all: an index that never answers would hold the upload forever.
    The upload of ``name`` reports its progress (:mod:`releasekit.progress`).
    """
    from twine.repository import Repository
    from twine.settings import Settings

    class OneAttemptRepository(Repository):
        def upload(self, package: PackageFile, max_redirects: int = 5) -> requests.Response:
            return super().upload(package, max_redirects=1)

    class OneAttemptSettings(Settings):
        def create_repository(self) -> Repository:
            repository = OneAttemptRepository(
                str(self.repository_config["repository"]),
                self.username,
                self.password,
                self.disable_progress_bar,
            )
            for prefix in ("http://", "https://"):
                retries = getattr(repository.session.get_adapter(prefix), "max_retries", 0)
                repository.session.mount(
                    prefix,
                    TimeoutAdapter(
                        connect=index.connect_timeout,
                        read=index.read_timeout,
                        max_retries=retries,
                    ),
                )
            repository.set_certificate_authority(self.cacert)
            repository.set_client_certificate(self.client_cert)
            _metered(repository.session, name, f"to {index.name}")
            return repository

    return OneAttemptSettings(**options)


class _DropTwineAdvice(logging.Filter):
    """twine's CLI advice ("Retry 1 of 1", "Retry with --verbose") misleads here."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("upload appears to have failed" in message or "--verbose" in message)


@contextlib.contextmanager
def _quiet_twine_advice() -> Iterator[None]:
    loggers = [logging.getLogger("twine.repository"), logging.getLogger("twine.utils")]
    quiet = _DropTwineAdvice()
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


@contextlib.contextmanager
def twine_quietly(secrets: Sequence[str]) -> Iterator[None]:
    """Around a twine call: its output logged (redacted), its CLI advice dropped."""
    with _twine_output(secrets), _quiet_twine_advice():
        yield
