"""SeaweedFS for salescast's compose stack: one `weed server` with its S3 gateway, auth on, bucket made.

The S3 key is generated once into the shared `secrets` volume as an AWS credentials file
(`aws_credentials`, mode 0600, uid 10001 like every salescast service); the other services read it
through AWS_SHARED_CREDENTIALS_FILE, so the secret is in no environment variable, compose file or
log. SeaweedFS gets the same key as its only identity. Once the bucket exists and an object can be
written and deleted, `/tmp/ready` marks the container healthy. SIGTERM stops weed.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import boto3
from botocore.config import Config

SECRETS = Path(os.environ.get("S3_SECRETS_DIR", "/srv/secrets"))
BUCKET = os.environ.get("S3_BUCKET", "salescast")
ACCESS_KEY = os.environ.get("S3_ACCESS_KEY_ID", "salescast")
DATA = Path(os.environ.get("S3_DATA_DIR", "/data"))
S3_PORT = 8333
READY = Path("/tmp/ready")
START_TIMEOUT_S = 120.0


def credentials() -> tuple[str, str]:
    """The stack's S3 key: read, or generated once (written atomically, readable by its owner only)."""
    path = SECRETS / "aws_credentials"
    if not path.exists():
        text = (
            f"[default]\naws_access_key_id = {ACCESS_KEY}\n"
            f"aws_secret_access_key = {secrets.token_urlsafe(32)}\n"
        )
        handle, tmp = tempfile.mkstemp(dir=SECRETS, prefix=".aws_credentials.")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        Path(tmp).chmod(0o600)
        Path(tmp).replace(path)
        print(f"seaweedfs: generated the stack's S3 key into {path}", flush=True)
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]


def start_weed(key: str, secret: str) -> subprocess.Popen[bytes]:
    identities = {
        "identities": [
            {
                "name": "salescast",
                "credentials": [{"accessKey": key, "secretKey": secret}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    config = Path(tempfile.mkdtemp()) / "s3.json"
    config.write_text(json.dumps(identities), encoding="utf-8")
    config.chmod(0o600)
    DATA.mkdir(parents=True, exist_ok=True)
    command = [
        "weed",
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=0.0.0.0",
        f"-dir={DATA}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=256",
        "-volume.max=0",
        "-filer",
        "-s3",
        f"-s3.port={S3_PORT}",
        f"-s3.config={config}",
        "-s3.autoCreateBucket=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    return subprocess.Popen(command)


def make_bucket(key: str, secret: str, weed: subprocess.Popen[bytes]) -> None:
    """Create the bucket (idempotent) once the S3 gateway answers, then prove it takes a write."""
    client = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1"
    ).client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{S3_PORT}",
        config=Config(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}),
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if weed.poll() is not None:
            raise SystemExit(f"seaweedfs: weed exited with {weed.returncode} while starting")
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=BUCKET)
            client.put_object(Bucket=BUCKET, Key=".ready-probe", Body=b"ready")
            client.delete_object(Bucket=BUCKET, Key=".ready-probe")
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                message = f"seaweedfs: bucket {BUCKET!r} not writable in {START_TIMEOUT_S:g} s: {exc}"
                raise SystemExit(message) from exc
            time.sleep(1.0)


def main() -> int:
    key, secret = credentials()
    weed = start_weed(key, secret)

    def stop(signum: int, frame: FrameType | None) -> None:
        weed.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    make_bucket(key, secret, weed)
    READY.touch()
    print(f"seaweedfs: S3 on :{S3_PORT}, bucket {BUCKET!r} ready", flush=True)
    return weed.wait()


if __name__ == "__main__":
    sys.exit(main())
