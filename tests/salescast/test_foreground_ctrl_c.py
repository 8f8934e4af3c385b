"""`up` and `serve` stop on Ctrl-C even when started with SIGINT ignored (a shell's background job,
`nohup`): Python then installs no KeyboardInterrupt, and the supervisor would never stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from salescast.cli.main import build_parser

STARTED_IGNORING_SIGINT = textwrap.dedent(
    """
    import os, signal, sys, time
    from salescast.cli.main import _stop_on_ctrl_c
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    _stop_on_ctrl_c()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        print("stopped")
    """
)


def test_a_process_started_with_sigint_ignored_stops_on_ctrl_c() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STARTED_IGNORING_SIGINT],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stopped"


@pytest.mark.parametrize(
    ("argv", "foreground"),
    [(["up"], True), (["serve", "torchserve"], True), (["serve", "gateway"], True), (["down"], False)],
)
def test_only_the_foreground_services_take_ctrl_c_back(argv: list[str], foreground: bool) -> None:
    assert getattr(build_parser().parse_args(argv), "foreground", False) is foreground
