"""train.py as users run it: killed and resumed, and as a 2-process DDP job under torchrun."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import tiny_bert_checkpoint, write_checkpoint
from safetensors.torch import load_file

from labelwise.training.cli import run

REPO = Path(__file__).resolve().parents[1]
TRAIN = str(REPO / "train.py")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


def _args(checkpoint, output_dir, max_steps: int) -> list[str]:
    return [
        "--model_name_or_path", str(checkpoint), "--output_dir", str(output_dir), "--model", "lame",
        "--label_attention_heads", "4", "--max_length", "48", "--max_train_samples", "64", "--max_eval_samples", "8",
        "--per_device_train_batch_size", "4", "--max_steps", str(max_steps), "--save_strategy", "steps",
        "--save_steps", "2", "--eval_strategy", "no", "--load_best_model_at_end", "false", "--save_total_limit", "3",
        "--logging_steps", "1", "--disable_tqdm", "true",
    ]


def _env() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")


@pytest.mark.slow
def test_killed_run_resumes_and_ends_identical_to_an_uninterrupted_run(checkpoint, tmp_path):
    steps = 12
    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, TRAIN, *_args(checkpoint, killed_dir, steps)],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 240
    first_checkpoint = killed_dir / "checkpoint-2" / "trainer_state.json"
    while not first_checkpoint.exists():
        assert process.poll() is None, f"train.py ended before its first checkpoint: {process.stderr.read()[-2000:]}"
        assert time.time() < deadline, "no checkpoint within 240 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert not (killed_dir / "model").exists(), "the run finished before it was killed"
    last_state = max(killed_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert int(last_state.name.split("-")[1]) < steps

    resumed = run(_args(checkpoint, killed_dir, steps))
    reference = run(_args(checkpoint, tmp_path / "reference", steps))
    assert resumed["metrics"] == reference["metrics"]
    ours = load_file(killed_dir / "model" / "model.safetensors")
    theirs = load_file(tmp_path / "reference" / "model" / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=1e-6, msg=name)
    state = json.loads((killed_dir / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == steps


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_training_on_cpu(checkpoint, tmp_path):
    output = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(_free_port()), TRAIN, *_args(checkpoint, output, 4),
        # Without --use_cpu a CPU-only machine runs two independent jobs instead of DDP (hf5-notes).
        "--use_cpu", "true", "--ddp_backend", "gloo",
    ]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    ranks = [json.loads((output / "ranks" / f"rank_{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world_size"] == 2 and r["global_steps"] == 4 and r["local_batches"] == 4 for r in ranks)
    summary = json.loads((output / "model" / "training_summary.json").read_text())
    assert summary["hyperparameters"]["world_size"] == 2

    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(output / "model")
    assert type(model).__name__ == "LameForSequenceClassification"


@pytest.mark.slow
def test_train_py_runs_under_accelerate_launch(checkpoint, tmp_path):
    output = tmp_path / "accelerate"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1", TRAIN,
               *_args(checkpoint, output, 2)]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Hub-ready folder" in result.stdout
    assert json.loads((output / "ranks" / "rank_0.json").read_text())["global_steps"] == 2


def test_resume_skips_checkpoints_cut_short_by_a_kill(tmp_path):
    """A kill while saving leaves trainer_state.json (written last) missing or truncated.

    (Issue 15: the checkpoints are now complete ones from `write_checkpoint`, since a state file of
    just {"global_step": 2} no longer passes the checks; the case is unchanged otherwise.)
    """
    from labelwise.training.cli import last_complete_checkpoint

    assert last_complete_checkpoint(str(tmp_path)) is None
    for step in (2, 4, 6):
        write_checkpoint(tmp_path, step)
    (tmp_path / "checkpoint-4" / "trainer_state.json").write_text('{"global_step": 4, "log_hist')
    (tmp_path / "checkpoint-6" / "trainer_state.json").unlink()
    (tmp_path / "checkpoint-10-old").mkdir()  # not a checkpoint name
    assert last_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-2")
    write_checkpoint(tmp_path, 6)
    assert last_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-6")
