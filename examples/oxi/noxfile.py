"""The oxi release sessions: all of them come from releasekit."""

import releasekit.nox

releasekit.nox.install()
