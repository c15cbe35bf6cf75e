"""releasekit's own repository tasks (bump, notes, tag, untag, status, rollback)."""

from releasekit.invoke import ns

__all__ = ["ns"]
