"""`python -m salescast` runs the CLI (the gateway uses it to train out of process)."""

from __future__ import annotations

from salescast.cli.main import main

if __name__ == "__main__":  # not when a spawned worker process imports this module again
    raise SystemExit(main())
