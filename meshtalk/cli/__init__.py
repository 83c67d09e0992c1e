"""The ``meshtalk`` command line.

Each subcommand lives in its own module ``meshtalk/cli/<name>.py`` that defines
``register(subparsers) -> None``; the parser it adds sets ``func(args) -> int``.
Errors meant for the user are :class:`meshtalk.errors.MeshtalkError`: printed as one line,
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from meshtalk.errors import MeshtalkError

#: Subcommand modules, in the order ``meshtalk --help`` lists them. A name whose module is not
#: present yet is skipped, so features land one module at a time.
SUBCOMMANDS = (
    "animate",
    "render",
    "export",
    "info",
    "precompute",
    "synth",
    "train",
    "evaluate",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    from meshtalk import __version__

    parser = argparse.ArgumentParser(
        prog="meshtalk",
        description="Make any 3D face mesh talk: animate, render, export, train, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"meshtalk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module_name = f"meshtalk.cli.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MeshtalkError as exc:
        print(f"meshtalk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("meshtalk: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("meshtalk: error: out of memory; try a smaller mesh (decimate it) or fewer frames per chunk",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
