"""Which Trainer checkpoint a run may resume from: every `checkpoint-<step>` folder is checked first.

A run killed while saving, a disk that filled up, or a hand-edited file leaves a checkpoint that
the Trainer would either crash on at every restart (a `trainer_state.json` of `{}`, a truncated
`model.safetensors`) or resume from silently wrong (an edited `global_step` skips that many
batches). `check_checkpoint` lists what is wrong with one folder; `last_good_checkpoint` returns
the newest folder with nothing wrong, naming every newer one it passed over and why.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
from dataclasses import dataclass, field

import torch
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

logger = logging.getLogger("labelwise.train")

TRAINER_STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
SCHEDULER = "scheduler.pt"
RNG_STATE = "rng_state.pth"
SCALER = "scaler.pt"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
# Fields of trainer_state.json the Trainer reads back when it resumes, with their JSON types.
STATE_FIELDS = {"global_step": int, "max_steps": int, "epoch": (int, float), "log_history": list}


class CheckpointError(ValueError):
    """A checkpoint named with --resume_from_checkpoint cannot be resumed from; the message says why."""


@dataclass
class CheckpointReport:
    """What `check_checkpoint` found in one folder: `problems` is empty for a usable checkpoint."""

    folder: str
    global_step: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def checkpoint_folders(output_dir: str) -> list[tuple[int, str]]:
    """`(step, path)` of every `checkpoint-<step>` folder in `output_dir`, newest (highest step) first."""
    folders = []
    for entry in os.listdir(output_dir):
        step = entry[len(PREFIX_CHECKPOINT_DIR) + 1 :]
        path = os.path.join(output_dir, entry)
        if entry.startswith(PREFIX_CHECKPOINT_DIR + "-") and step.isdigit() and os.path.isdir(path):
            folders.append((int(step), path))
    return sorted(folders, reverse=True)


def _safetensors_problem(path: str) -> str | None:
    """Why a safetensors file is unreadable (header or size), or None; reads only its header.

    The format is an 8-byte little-endian header length, a JSON header giving every tensor's
    byte range, then the data: a file cut short ends before the largest range does.
    """
    name = os.path.basename(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return f"{name} is {size} bytes, too short to be a safetensors file"
            (length,) = struct.unpack("<Q", head)
            if length > size - 8:
                return f"{name} is cut short: its header alone needs {length + 8} bytes, the file has {size}"
            header = json.loads(handle.read(length))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        return f"{name} cannot be read ({error})"
    if not isinstance(header, dict):
        return f"{name} has no valid safetensors header"
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    expected = 8 + length + max(ends, default=0)
    if size < expected:
        return f"{name} is cut short: {size} bytes of the {expected} its header describes"
    return None


def _weights_problems(folder: str, model: torch.nn.Module | None) -> list[str]:
    files = [WEIGHTS]
    index = os.path.join(folder, WEIGHTS_INDEX)
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as handle:
                files = sorted(set(json.load(handle)["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            return [f"{WEIGHTS_INDEX} cannot be read ({error})"]
    elif not os.path.isfile(os.path.join(folder, WEIGHTS)):
        return [f"no {WEIGHTS} (the model weights)"]
    problems = []
    shapes: dict[str, tuple[int, ...]] = {}
    for name in files:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            problems.append(f"{name} is missing")
            continue
        problem = _safetensors_problem(path)
        if problem:
            problems.append(problem)
            continue
        if model is not None:
            from safetensors import safe_open

            with safe_open(path, framework="pt") as handle:
                shapes.update({key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()})
    if model is not None and not problems:
        expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
        wrong = sorted(key for key in shapes if key in expected and shapes[key] != expected[key])
        missing = sorted(set(expected) - set(shapes))
        if wrong:
            problems.append(f"weights of another shape than the model's: {', '.join(wrong[:5])}")
        # Tied weights are saved once; a checkpoint of this model misses at most those.
        tied = set(getattr(model, "all_tied_weights_keys", None) or {})
        missing = [key for key in missing if key not in tied]
        if missing and len(missing) == len(expected):
            problems.append("the weights are those of another model (none of its parameter names match)")
        elif missing:
            problems.append(f"weights missing for {len(missing)} parameter(s), e.g. {', '.join(missing[:3])}")
    return problems


def _load_state(path: str, *, numpy_globals: bool = False) -> tuple[dict | None, str | None]:
    """A torch-saved state dict, loaded as the Trainer loads it on resume, or the reason it cannot be.

    The Trainer reads every file with `torch.load(weights_only=True)`, the RNG state inside
    transformers' `safe_globals()` (which admits the numpy arrays of numpy's generator state): a
    file this refuses would make every restart fail, so it counts as damaged.
    """
    from contextlib import nullcontext

    context = nullcontext()
    if numpy_globals:
        from transformers.trainer_pt_utils import safe_globals

        context = safe_globals()
    try:
        with context:
            try:
                # Memory-mapped: only the small values read here (step counts) are loaded, not the moments.
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as error:
                if "mmap" not in str(error):
                    raise
                # A file in torch's legacy (non-zip) format cannot be mapped; the Trainer reads it whole.
                state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, zip errors, EOFError...
        return None, f"{os.path.basename(path)} cannot be read ({type(error).__name__}: {str(error)[:200]})"
    if not isinstance(state, dict):
        return None, f"{os.path.basename(path)} does not hold a state dict"
    return state, None


def _rng_problem(path: str) -> str | None:
    """Why the Trainer could not restore the RNG state saved in `path`, or None.

    Loaded as the Trainer loads it, then set into fresh generators (never the process's own), so a
    file with the wrong keys or values fails here rather than at every restart.
    """
    import random

    import numpy as np

    name = os.path.basename(path)
    state, problem = _load_state(path, numpy_globals=True)
    if problem:
        return problem
    missing = [key for key in ("python", "numpy", "cpu") if key not in state]
    if missing:
        return f"{name} lacks the {', '.join(missing)} generator state(s)"
    try:
        random.Random().setstate(state["python"])
        np.random.RandomState().set_state(state["numpy"])
        torch.Generator().set_state(state["cpu"])
    except Exception as error:  # TypeError/ValueError/RuntimeError, depending on the generator
        return f"{name} holds a generator state that cannot be restored ({type(error).__name__}: {str(error)[:200]})"
    return None


def check_checkpoint(
    folder: str, *, model: torch.nn.Module | None = None, allow_skipped_steps: bool = False
) -> CheckpointReport:
    """Check that the Trainer can resume from `folder` and will continue at the right step.

    Checked: `trainer_state.json` parses and has `global_step`, `max_steps`, `epoch` and
    `log_history` of the right types; `global_step` equals the folder's step and is at most
    `max_steps`; the optimizer and scheduler states load and record as many steps as
    `global_step` (fewer only with `allow_skipped_steps`, for fp16 runs whose loss scaler skips
    steps, and then both the same number); the RNG state is a complete archive; the weights are
    complete and, when `model` is given, have its parameter names and shapes.

    Args:
        folder: a `checkpoint-<step>` folder.
        model: the model about to be trained, to compare the weights and optimizer state with.
        allow_skipped_steps: accept optimizer/scheduler step counts below `global_step`.
    """
    report = CheckpointReport(folder=folder)
    problems = report.problems
    name = os.path.basename(os.path.normpath(folder))
    folder_step = name[len(PREFIX_CHECKPOINT_DIR) + 1 :]

    try:
        with open(os.path.join(folder, TRAINER_STATE), encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        problems.append(f"no {TRAINER_STATE} (the Trainer writes it last: the save was interrupted)")
        state = None
    except (OSError, ValueError) as error:
        problems.append(f"{TRAINER_STATE} is not valid JSON ({error})")
        state = None
    if state is not None:
        if not isinstance(state, dict):
            problems.append(f"{TRAINER_STATE} is not a JSON object")
        else:
            for key, kind in STATE_FIELDS.items():
                value = state.get(key)
                if value is None or isinstance(value, bool) or not isinstance(value, kind):
                    problems.append(f"{TRAINER_STATE} has no valid {key!r} (got {value!r})")
            step = state.get("global_step")
            if isinstance(step, int) and not isinstance(step, bool):
                report.global_step = step
                if folder_step.isdigit() and step != int(folder_step):
                    problems.append(
                        f"{TRAINER_STATE} says global_step={step} but the folder is {name}: resuming would "
                        f"skip or repeat {abs(step - int(folder_step))} step(s)"
                    )
                max_steps = state.get("max_steps")
                if isinstance(max_steps, int) and max_steps > 0 and step > max_steps:
                    problems.append(f"{TRAINER_STATE} has global_step={step} beyond max_steps={max_steps}")

    optimizer_steps = scheduler_steps = None
    optimizer_path = os.path.join(folder, OPTIMIZER)
    if not os.path.isfile(optimizer_path):
        problems.append(f"no {OPTIMIZER} (saved with save_only_model? such a checkpoint cannot be resumed)")
    else:
        optimizer, problem = _load_state(optimizer_path)
        if problem:
            problems.append(problem)
        elif not isinstance(optimizer.get("state"), dict) or not isinstance(optimizer.get("param_groups"), list):
            problems.append(f"{OPTIMIZER} has no 'state' and 'param_groups'")
        else:
            steps = [
                float(entry["step"]) for entry in optimizer["state"].values() if isinstance(entry, dict) and "step" in entry
            ]
            optimizer_steps = int(max(steps)) if steps else None
            if model is not None:
                saved = sum(len(group.get("params", [])) for group in optimizer["param_groups"])
                trainable = sum(1 for parameter in model.parameters() if parameter.requires_grad)
                if saved != trainable:
                    problems.append(
                        f"{OPTIMIZER} holds {saved} parameters but the model trains {trainable}: it belongs to "
                        "another model or setup"
                    )
    scheduler_path = os.path.join(folder, SCHEDULER)
    if os.path.isfile(scheduler_path):
        scheduler, problem = _load_state(scheduler_path)
        if problem:
            problems.append(problem)
        elif isinstance(scheduler.get("last_epoch"), int):
            scheduler_steps = scheduler["last_epoch"]
    else:
        problems.append(f"no {SCHEDULER}")

    if report.global_step is not None:
        for label, counted in ((OPTIMIZER, optimizer_steps), (SCHEDULER, scheduler_steps)):
            if counted is None:
                continue
            if counted > report.global_step or (counted < report.global_step and not allow_skipped_steps):
                problems.append(
                    f"{TRAINER_STATE} says global_step={report.global_step} but {label} has taken {counted} step(s)"
                )
    if optimizer_steps is not None and scheduler_steps is not None and optimizer_steps != scheduler_steps:
        problems.append(f"{OPTIMIZER} has taken {optimizer_steps} step(s) but {SCHEDULER} {scheduler_steps}")

    # rng_state.pth, or rng_state_<rank>.pth of a multi-process run: each process reads its own.
    for entry in sorted(os.listdir(folder)):
        if re.fullmatch(r"rng_state(_\d+)?\.pth", entry):
            problem = _rng_problem(os.path.join(folder, entry))
            if problem:
                problems.append(problem)
    scaler_path = os.path.join(folder, SCALER)
    if os.path.isfile(scaler_path):  # fp16 runs: the Trainer loads the loss scaler's state too
        _, problem = _load_state(scaler_path)
        if problem:
            problems.append(problem)

    problems.extend(_weights_problems(folder, model))
    return report


def last_good_checkpoint(
    output_dir: str, *, model: torch.nn.Module | None = None, allow_skipped_steps: bool = False
) -> str | None:
    """The newest checkpoint of `output_dir` that `check_checkpoint` finds nothing wrong with, or None.

    Each newer checkpoint passed over is logged with its problems, so the user sees which steps
    will be trained again and why.
    """
    for _, folder in checkpoint_folders(output_dir):
        report = check_checkpoint(folder, model=model, allow_skipped_steps=allow_skipped_steps)
        if report.ok:
            return folder
        logger.warning(
            "Not resuming from %s: %s. Falling back to the previous checkpoint.", folder, "; ".join(report.problems)
        )
    return None


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest checkpoint that passes `check_checkpoint` (without a model to compare with), or None.

    Kept under its old name, which `labelwise.training.cli` exported before the checks moved here.
    """
    return last_good_checkpoint(output_dir)


def checkpoint_to_resume(
    output_dir: str,
    requested: str | bool | None,
    *,
    model: torch.nn.Module | None = None,
    allow_skipped_steps: bool = False,
) -> str | None:
    """The checkpoint `train.py` resumes from.

    `requested` is `--resume_from_checkpoint`: a folder is checked and refused with a
    `CheckpointError` naming its problems (the user asked for that one, so no silent fallback);
    `True` or None means the newest good checkpoint of `output_dir`, if any.
    """
    if isinstance(requested, str) and requested.lower() not in ("true", "false", ""):
        if not os.path.isdir(requested):
            raise CheckpointError(f"--resume_from_checkpoint {requested}: no such folder.")
        report = check_checkpoint(requested, model=model, allow_skipped_steps=allow_skipped_steps)
        if not report.ok:
            raise CheckpointError(
                f"--resume_from_checkpoint {requested} cannot be resumed from: {'; '.join(report.problems)}. "
                f"Pick another checkpoint, or leave the option out to resume from the newest good one in {output_dir}."
            )
        return requested
    if requested is False or (isinstance(requested, str) and requested.lower() == "false"):
        return None
    if not os.path.isdir(output_dir):
        return None
    return last_good_checkpoint(output_dir, model=model, allow_skipped_steps=allow_skipped_steps)
