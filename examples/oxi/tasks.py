"""The oxi repository tasks (bump, notes, tag, untag, status, rollback): from releasekit."""

from releasekit.invoke import ns

__all__ = ["ns"]
