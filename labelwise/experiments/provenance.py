"""Which code an experiment run used: the git commit of the labelwise checkout, for each result record."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The checkout labelwise is installed from (editable installs; a wheel has no git: commit None)."""


def code_version() -> dict:
    """`{"commit": <HEAD>, "uncommitted_changes": <bool>}` of this checkout (commit None outside git).

    Call it when a run starts: the process imports the package then. A run resumed from a checkpoint
    may have trained its earlier epochs on an earlier commit; its record names the last one.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "uncommitted_changes": None}
    return {"commit": commit, "uncommitted_changes": changed}
