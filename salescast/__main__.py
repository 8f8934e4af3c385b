"""`python -m salescast` runs the CLI (the gateway uses it to train out of process)."""

from __future__ import annotations

from salescast.cli.main import main

raise SystemExit(main())
