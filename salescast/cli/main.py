"""Entry point of the `salescast` command: global options, sub-commands, errors as messages.

Each command module exposes `register(subparsers)`, adding a parser whose `handler` default is a
`(args, settings) -> int` function. Heavy imports (torch, Lightning, MLflow) happen inside the
handlers so `salescast --help` and the gateway's subprocesses start fast.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from core.errors import SalescastError
from core.settings import load_settings
from salescast.cli import archive_cmd, bench_cmd, data_cmd, models_cmd, serve_cmd, train_cmd, up_cmd

COMMAND_MODULES = (data_cmd, train_cmd, archive_cmd, models_cmd, serve_cmd, up_cmd, bench_cmd)


def build_parser() -> argparse.ArgumentParser:
    """The full parser; tests use it to check every documented command exists."""
    parser = argparse.ArgumentParser(
        prog="salescast", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--config", metavar="PATH", help="configuration file (default: configs/default.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one line on stderr and exit 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if getattr(args, "foreground", False):
        _stop_on_ctrl_c()
    try:
        settings = load_settings(args.config)
        return int(args.handler(args, settings))
    except SalescastError as exc:
        print(f"salescast: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("salescast: interrupted", file=sys.stderr)
        return 130


def _stop_on_ctrl_c() -> None:
    """A foreground service (`up`, `serve`) stops on Ctrl-C even when started with SIGINT ignored, as
    a shell's background job or `nohup` starts it (Python then installs no KeyboardInterrupt)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    raise SystemExit(main())
