"""train.py as users run it: killed or stopped by a signal and resumed, and as a 2-process DDP job under torchrun."""

from __future__ import annotations

import json
import os
import re
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
from transformers import TrainerCallback

from labelwise.training.cli import run
from labelwise.training.stop_signal import StopOnSignalCallback

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


def _assert_same_weights(folder_a: Path, folder_b: Path) -> None:
    ours, theirs = load_file(folder_a / "model.safetensors"), load_file(folder_b / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=1e-6, msg=name)


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
    _assert_same_weights(killed_dir / "model", tmp_path / "reference" / "model")
    state = json.loads((killed_dir / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == steps


@pytest.mark.slow
def test_sigterm_saves_the_step_under_way_and_the_rerun_ends_identical(checkpoint, tmp_path):
    steps = 12  # 64 documents in batches of 4: one epoch of 16 steps, so the stop is mid-epoch
    stopped_dir = tmp_path / "stopped"
    # No scheduled checkpoint before the end (--save_steps 100): whatever is saved, the signal saved.
    arguments = _args(checkpoint, stopped_dir, steps)
    arguments[arguments.index("--save_steps") + 1] = "100"
    process = subprocess.Popen(
        [sys.executable, TRAIN, *arguments], env=dict(_env(), PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = []
    for line in process.stdout:  # the Trainer prints each step's loss (--logging_steps 1)
        output.append(line)
        if "'loss'" in line:
            break
    else:
        raise AssertionError("train.py ended before its first step:\n" + "".join(output)[-3000:])
    process.send_signal(signal.SIGTERM)
    output += process.stdout.readlines()
    process.wait(timeout=240)
    log = "".join(output)
    assert process.returncode == 130, log[-3000:]
    assert not (stopped_dir / "model").exists()
    saved = list(stopped_dir.glob("checkpoint-*"))
    assert len(saved) == 1, saved
    step = int(saved[0].name.split("-")[1])
    assert 1 <= step < steps
    assert json.loads((saved[0] / "trainer_state.json").read_text())["global_step"] == step
    assert "SIGTERM received" in log and f"Stopped by SIGTERM after step {step} of {steps}" in log
    assert "Run the same command again to resume" in log

    resumed = run(arguments)
    reference_dir = tmp_path / "reference"
    reference = run(_args(checkpoint, reference_dir, steps))
    assert resumed["metrics"] == reference["metrics"]
    _assert_same_weights(stopped_dir / "model", reference_dir / "model")


class _SignalAt(TrainerCallback):
    """Sends `number` to this process at the end of optimizer step `step` (as a scheduler would)."""

    def __init__(self, step: int, number: int = signal.SIGTERM):
        self.step, self.number = step, number

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), self.number)


class _EvaluatedEpochs(TrainerCallback):
    def __init__(self):
        self.epochs = []

    def on_evaluate(self, args, state, control, **kwargs):
        self.epochs.append(state.epoch)


@pytest.mark.slow
def test_stop_mid_epoch_skips_that_epochs_evaluation_and_resume_evaluates_whole_epochs(checkpoint, tmp_path):
    output = tmp_path / "run"
    arguments = _args(checkpoint, output, 0)  # edited: two epochs, each evaluated and saved
    # save_total_limit 1: the Trainer's end-of-training clean-up must not delete the checkpoint saved for resuming.
    for option, value in (("--max_steps", "-1"), ("--save_strategy", "epoch"), ("--eval_strategy", "epoch"),
                          ("--load_best_model_at_end", "true"), ("--save_total_limit", "1")):
        arguments[arguments.index(option) + 1] = value
    arguments += ["--num_train_epochs", "2"]
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        run(arguments, extra_callbacks=(_SignalAt(20),))  # epoch 1 is steps 1-16, evaluated and saved
    assert stopped.value.code == 130
    assert signal.getsignal(signal.SIGTERM) is before  # the training's handler is gone again
    # The signal came after step 20 had been checked, so the step under way then, 21, is the one saved.
    assert sorted(p.name for p in output.glob("checkpoint-*")) == ["checkpoint-16", "checkpoint-21"]
    state = json.loads((output / "checkpoint-21" / "trainer_state.json").read_text())
    assert [entry["epoch"] for entry in state["log_history"] if "eval_loss" in entry] == [1.0], \
        "the cut-short epoch 2 was evaluated"

    summary = run(arguments, extra_callbacks=(evaluations := _EvaluatedEpochs(),))
    assert json.loads((output / "ranks" / "rank_0.json").read_text())["global_steps"] == 32
    assert evaluations.epochs == [2.0]  # the resumed run evaluated whole epochs only (epoch 1 was before)
    assert summary["metrics"]["validation"]


def test_stop_callback_control_flow_and_a_second_signal():
    from types import SimpleNamespace

    from transformers import TrainerControl, TrainerState

    args = SimpleNamespace(world_size=1, device="cpu", save_total_limit=None)
    before = signal.getsignal(signal.SIGINT)
    stopper = StopOnSignalCallback()
    stopper.on_train_begin(args, TrainerState(), TrainerControl())
    control, state = TrainerControl(), TrainerState(global_step=7, epoch=1.4)
    stopper.on_step_end(args, state, control)
    assert not (control.should_save or control.should_training_stop)  # no signal yet: nothing changes
    os.kill(os.getpid(), signal.SIGINT)  # handled: no KeyboardInterrupt here
    assert stopper.signal_name == "SIGINT"
    stopper.on_step_end(args, state, control)
    assert control.should_save and control.should_training_stop and stopper.stopped_at_step == 7
    # The flow callback asks for the end-of-epoch evaluation and save; a cut-short epoch gets neither...
    control.should_evaluate = control.should_save = True
    stopper.on_epoch_end(args, state, control)
    assert not (control.should_evaluate or control.should_save)
    # ... an epoch that ended at the stop is evaluated and saved as usual.
    control.should_evaluate = control.should_save = True
    stopper.on_epoch_end(args, TrainerState(global_step=8, epoch=2.0), control)
    assert control.should_evaluate and control.should_save
    with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C stops at once
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
    stopper.on_train_end(args, state, control)
    assert signal.getsignal(signal.SIGINT) is before


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
def test_ddp_ranks_stop_at_the_same_step_when_only_one_is_signalled(checkpoint, tmp_path):
    import psutil

    output = tmp_path / "ddp_stop"
    arguments = _args(checkpoint, output, 400)
    arguments[arguments.index("--save_steps") + 1] = "1000"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(_free_port()), TRAIN, *arguments, "--use_cpu", "true", "--ddp_backend", "gloo",
    ]
    launcher = subprocess.Popen(command, env=dict(_env(), PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in launcher.stdout:
        lines.append(line)
        if "'loss'" in line:
            break
    workers = {int(p.environ()["RANK"]): p for p in psutil.Process(launcher.pid).children(recursive=True)
               if "RANK" in p.environ() and TRAIN in " ".join(p.cmdline())}
    workers[1].send_signal(signal.SIGTERM)  # rank 1 only, as when one node of a job is pre-empted
    lines += launcher.stdout.readlines()
    launcher.wait(timeout=300)
    log = "".join(lines)
    stops = re.findall(r"Stopped by (SIGTERM|a signal on another process) after step (\d+) of 400", log)
    assert sorted(kind for kind, _ in stops) == ["SIGTERM", "a signal on another process"], log[-4000:]
    assert len({step for _, step in stops}) == 1, stops
    step = int(stops[0][1])
    assert [p.name for p in output.glob("checkpoint-*")] == [f"checkpoint-{step}"]
    assert not (output / "model").exists()


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
