"""`labelwise.experiments.provenance`: result records name the commit their run used."""

import subprocess
from pathlib import Path

from labelwise.experiments import provenance

REPO = Path(__file__).resolve().parents[1]


def test_code_version_is_this_checkouts_head_and_none_outside_git(tmp_path, monkeypatch):
    version = provenance.code_version()
    if (REPO / ".git").exists():
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        assert version["commit"] == head and isinstance(version["uncommitted_changes"], bool)
    monkeypatch.setattr(provenance, "REPO", tmp_path)  # not a git checkout
    assert provenance.code_version() == {"commit": None, "uncommitted_changes": None}
