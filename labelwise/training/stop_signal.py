"""Stop training cleanly on SIGTERM or Ctrl-C: finish the step under way, save a checkpoint, stop.

Job schedulers (SLURM, Kubernetes, a cloud session that ends) send SIGTERM a while before they
kill a process, and users press Ctrl-C. Without this, an interrupted run loses every step since
its last save: with the default save strategy that is up to one epoch, hours on a CPU. With it,
the Trainer saves `checkpoint-<step>` at the end of the optimizer step under way and stops;
`train.py` then exits with code 130 without writing the final model, and the same command resumes
from that checkpoint (mid-epoch: the Trainer skips the batches already seen). A second signal
stops at once, as if this callback were not there.

The evaluation the Trainer runs at the end of every epoch is skipped for the cut-short epoch: a
score on part of an epoch would enter the dev curve and count for early stopping. An epoch that
ended exactly at the stop is evaluated as usual.

In a multi-process run every rank asks the others after each step whether any received a
signal (one integer all-reduce), so all ranks stop, and save, at the same step.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading

import torch
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignalCallback(TrainerCallback):
    """Turns the first SIGINT/SIGTERM during `Trainer.train` into "save a checkpoint and stop".

    After training, `stopped_at_step` is the global step of the saved checkpoint (None when the run
    was not interrupted) and `signal_name` the signal that asked for it (None on a rank that only
    followed the others).
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.stopped_at_step: int | None = None
        self._previous: dict[int, object] = {}

    # ------------------------------------------------------------------ signal handling
    def on_train_begin(self, args, state, control, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            return  # Python lets only the main thread set signal handlers
        for number in STOP_SIGNALS:
            self._previous[number] = signal.signal(number, self._handle)

    def _handle(self, number: int, frame) -> None:
        if self.signal_name is not None:  # the second signal: stop now
            self._restore()
            if number == signal.SIGINT:
                raise KeyboardInterrupt
            os.kill(os.getpid(), number)  # the handler that was there before (by default: terminate)
            return
        self.signal_name = signal.Signals(number).name
        logger.warning(
            "%s received: stopping after the current training step and saving a checkpoint "
            "(send it again to stop at once, without saving).", self.signal_name,
        )

    def _restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def on_train_end(self, args, state, control, **kwargs):
        self._restore()

    # ------------------------------------------------------------------ the Trainer's control flow
    def _stop_requested(self, args) -> bool:
        requested = self.signal_name is not None
        if args.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([int(requested)], device=args.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            requested = bool(flag.item())
        return requested

    def on_step_end(self, args, state, control, **kwargs):
        if self.stopped_at_step is None and self._stop_requested(args):
            self.stopped_at_step = state.global_step
            control.should_save = True
            control.should_training_stop = True
            if args.save_total_limit == 1:
                # At the end of training the Trainer deletes every checkpoint but the best when the
                # limit is 1, which would delete the one saved for resuming; 2 keeps the best and it.
                args.save_total_limit = 2
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        # Runs after the Trainer's own flow callback, which asks for the end-of-epoch evaluation and
        # save. For a cut-short epoch both are withdrawn: the checkpoint is already saved.
        if self.stopped_at_step is not None and not math.isclose(state.epoch, round(state.epoch), abs_tol=1e-6):
            control.should_evaluate = False
            control.should_save = False
        return control
