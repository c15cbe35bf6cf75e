"""The ``oxi`` command."""

from __future__ import annotations

import argparse

from oxi_core import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oxi", description="oxi command line")
    parser.add_argument("--version", action="version", version=f"oxi {__version__}")
    parser.parse_args(argv)
    print("oxi: nothing to do yet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
