"""The build context `docker build <root>` sends, by Docker's own .dockerignore rules.

docker-py (`docker.utils.build.exclude_paths`, the matcher its own builds use) implements Docker's
rules: Go's filepath.Match per path segment, `**`, `!` exceptions where the last match wins, and a
folder's files excluded with it. The container tier (stack/test_build_context.py) checks that it
agrees with a real `docker build` on a project that has run.
"""

from __future__ import annotations

from pathlib import Path

from docker.utils.build import exclude_paths  # docker-py has no stubs (mypy override in pyproject)

# Docker always sends these two; they are build instructions, not project files an image gets.
DOCKER_OWN_FILES = frozenset({".dockerignore", "Dockerfile"})


def dockerignore_patterns(root: Path) -> list[str]:
    """The patterns of `root/.dockerignore` as Docker reads them (comments and blank lines dropped)."""
    lines = (root / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def build_context(root: Path) -> set[str]:
    """The files of `root` that reach a build (posix paths relative to `root`)."""
    included = exclude_paths(str(root), dockerignore_patterns(root), dockerfile="Dockerfile")
    return {path for path in included if (root / path).is_file()} - DOCKER_OWN_FILES
