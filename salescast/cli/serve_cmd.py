"""`salescast serve torchserve|gateway|ui|mlflow` — run one service in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
from typing import Any

from core.settings import Settings


def register(subparsers: Any) -> None:
    """Add the `serve` command and its services."""
    parser = subparsers.add_parser("serve", help="run one service in the foreground")
    parser.set_defaults(foreground=True)  # stops on Ctrl-C even when started with SIGINT ignored
    services = parser.add_subparsers(dest="service", required=True, metavar="SERVICE")
    services.add_parser(
        "torchserve", help="TorchServe on model_store/, newest archive of every category"
    ).set_defaults(handler=_serve_torchserve)
    services.add_parser("gateway", help="the FastAPI gateway (uvicorn)").set_defaults(handler=_serve_gateway)
    services.add_parser("ui", help="the Gradio web UI").set_defaults(handler=_serve_ui)
    services.add_parser("mlflow", help="the MLflow UI on the embedded tracking store").set_defaults(
        handler=_serve_mlflow
    )


def _serve_torchserve(args: argparse.Namespace, settings: Settings) -> int:
    from serving.torchserve_process import serve_forever

    return serve_forever(settings)


def _serve_gateway(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.server import run

    return run(settings)


def _serve_ui(args: argparse.Namespace, settings: Settings) -> int:
    from ui.server import run

    return run(settings)


def _serve_mlflow(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.mlflow_ui import run

    return run(settings)
