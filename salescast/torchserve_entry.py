"""Entry point of the serve image: `python -m salescast.torchserve_entry` is `salescast serve torchserve`
without importing the whole CLI, whose other commands need pandas, Lightning, MLflow … that the
slim TorchServe image deliberately does not carry."""

from __future__ import annotations

import logging
import sys

from core.errors import SalescastError
from core.settings import load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"  # same lines as the salescast CLI


def main() -> int:
    """Run TorchServe on the configured model store until SIGTERM; user errors print one line, exit 2."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        from serving.torchserve_process import serve_forever

        return serve_forever(load_settings())
    except SalescastError as exc:
        print(f"salescast: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
