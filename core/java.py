"""The Java runtime TorchServe's frontend runs on, found one way for `serve torchserve` and `up`'s preflight.

`$JAVA_HOME/bin/java` when JAVA_HOME is set (an unusable one is an error, not a silent fallback),
else `java` on PATH. TorchServe 0.12 needs Java 11 or newer; the project is tested with 17.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from core.errors import SalescastError

MIN_JAVA_MAJOR = 11
VERSION_TIMEOUT_S = 30  # `java -version` on a cold, busy machine
INSTALL_HINT = (
    "install a Java 17 runtime (Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; "
    "macOS: `brew install openjdk@17`) or point JAVA_HOME at one"
)
_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?')


class JavaNotFoundError(SalescastError):
    """No usable Java runtime: TorchServe's frontend is a Java program."""


def find_java(environ: Mapping[str, str] | None = None) -> str:
    """The java executable TorchServe will use ($JAVA_HOME/bin/java, else `java` on PATH)."""
    env = os.environ if environ is None else environ
    java_home = env.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        raise JavaNotFoundError(
            f"JAVA_HOME is {java_home} but {candidate} is not an executable; TorchServe needs Java "
            f"{MIN_JAVA_MAJOR} or newer: {INSTALL_HINT}, or unset JAVA_HOME"
        )
    found = shutil.which("java", path=env.get("PATH", ""))
    if found is None:
        raise JavaNotFoundError(
            f"Java not found on PATH; TorchServe needs Java {MIN_JAVA_MAJOR} or newer: {INSTALL_HINT}"
        )
    return found


def java_major(java: str) -> int | None:
    """The major version `java -version` reports (8 for "1.8"), or None for a banner it cannot read.

    Raises OSError or subprocess.TimeoutExpired when the executable does not run.
    """
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S, check=False
    )
    match = _VERSION_RE.search(result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major
