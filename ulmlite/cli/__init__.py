"""The `ulmlite` command: `parser` says what each subcommand takes, `commands` does it. Every
subcommand has --help; errors print one line and exit non-zero (the traceback only with --debug)."""

import sys

from ulmlite._util import first_line
from ulmlite.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["lesson"]:  # its own parser (the same as `python -m ulmlite.lesson`)
        argv = ["lesson", "--", *argv[1:]]
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except KeyboardInterrupt:
        print("ulmlite: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line for the user; --debug for the traceback
        if args.debug:
            raise
        print(f"ulmlite {args.command}: error: {first_line(err)}", file=sys.stderr)
        return 1
    return 0
