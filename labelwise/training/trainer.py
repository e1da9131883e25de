"""The Hugging Face Trainer with per-group learning rates, a slanted triangular schedule and a
record of every rank's work.

Parameter groups (each split into weight-decay / no-decay halves):

| group        | parameters                                                   | learning rate              |
|--------------|--------------------------------------------------------------|----------------------------|
| `encoder`    | the BERT encoder (`bert.*` except the pooler)                 | `learning_rate`            |
| `head`       | label attention, CNN features, level heads, `bert.pooler`     | `head_learning_rate`       |
| `classifier` | the output layer (`classifier.*`)                             | `classifier_learning_rate` |

The schedule scales every group; with `constant_classifier_lr` the classifier group keeps its
learning rate for the whole run (the LAME paper's setup).

The pooler (dense + tanh on [CLS], used only by `BertForSequenceClassification`) counts as head:
sentence-embedding checkpoints such as all-MiniLM-L6-v2 were trained with mean pooling and ship
a pooler that was never trained (zero bias, random weights), so at the encoder's small learning
rate the vanilla baseline barely moves. To keep a pretrained pooler at the encoder's rate, pass
`head_learning_rate` equal to `learning_rate` (the shipped `vanilla_paper` config does).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable

import torch
from torch import nn
from transformers import Trainer, TrainerCallback
from transformers.trainer_pt_utils import get_parameter_names


def slanted_triangular(num_training_steps: int, cut_fraction: float = 0.1, ratio: float = 32.0) -> Callable[[int], float]:
    """Multiplier of the slanted triangular learning rate (Howard and Ruder, 2018, eq. 3).

    It rises linearly from `1/ratio` to 1 over the first `cut_fraction` of the steps, then falls
    linearly back to `1/ratio` at the last step.
    """
    cut = max(1, math.floor(num_training_steps * cut_fraction))

    def multiplier(step: int) -> float:
        if step < cut:
            p = step / cut
        else:
            p = 1 - (step - cut) / max(1, cut * (1 / cut_fraction - 1))
        p = min(1.0, max(0.0, p))
        return (1 + p * (ratio - 1)) / ratio

    return multiplier


def parameter_group_of(name: str) -> str:
    """`encoder`, `head` or `classifier` for a parameter name of any labelwise model."""
    if name.startswith("bert.pooler."):
        return "head"
    # `backbone.`: LAME's and the layer-wise model's encoder; `bert.`: transformers' BERT classifiers.
    if name.startswith(("bert.", "backbone.")):
        return "encoder"
    if name.startswith("classifier."):
        return "classifier"
    return "head"


class LabelwiseTrainer(Trainer):
    """`Trainer` with per-group learning rates and optional constant-LR groups.

    Args:
        group_learning_rates: `{"encoder": lr, "head": lr, "classifier": lr}`; missing groups use
            `args.learning_rate`.
        constant_groups: groups whose learning rate the schedule leaves unchanged.
        slanted_triangular_schedule: use [`slanted_triangular`] (cut = `args.warmup_steps` as a
            ratio) instead of `args.lr_scheduler_type`.
    """

    def __init__(
        self,
        *args,
        group_learning_rates: dict[str, float] | None = None,
        constant_groups: tuple[str, ...] = (),
        slanted_triangular_schedule: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.group_learning_rates = dict(group_learning_rates or {})
        self.constant_groups = tuple(constant_groups)
        self.slanted_triangular_schedule = slanted_triangular_schedule
        self._group_names: list[str] = []
        # None of our models normalises its loss by `num_items_in_batch`: each returns a batch mean
        # (transformers' own BERT heads included). Without this the Trainer believes forward(**kwargs)
        # does, and gradient accumulation makes gradients N times too large (hf5-notes).
        self.model_accepts_loss_kwargs = False

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is not None:
            return self.optimizer
        model = self.model if model is None else model
        decay = set(get_parameter_names(model, [nn.LayerNorm], ["bias", "layernorm", "layer_norm", r"_norm(?:$|\.)"]))
        groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                groups.setdefault((parameter_group_of(name), name in decay), []).append(parameter)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        param_groups = []
        self._group_names = []
        for (group, decays), parameters in sorted(groups.items()):
            param_groups.append(
                {
                    "params": parameters,
                    "weight_decay": self.args.weight_decay if decays else 0.0,
                    "lr": self.group_learning_rates.get(group, self.args.learning_rate),
                }
            )
            self._group_names.append(group)
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is not None:
            return self.lr_scheduler
        optimizer = optimizer or self.optimizer
        if self.slanted_triangular_schedule:
            warmup = self.args.warmup_steps
            cut_fraction = warmup if 0 < warmup < 1 else (warmup / num_training_steps if warmup else 0.1)
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, slanted_triangular(num_training_steps, cut_fraction)
            )
        else:
            super().create_scheduler(num_training_steps, optimizer)
        if self.constant_groups:
            if not isinstance(self.lr_scheduler, torch.optim.lr_scheduler.LambdaLR):
                raise ValueError(
                    f"Constant learning-rate groups need a LambdaLR schedule; "
                    f"lr_scheduler_type={self.args.lr_scheduler_type!r} is not one."
                )
            for index, group in enumerate(self._group_names):
                if group in self.constant_groups:
                    self.lr_scheduler.lr_lambdas[index] = _constant
                    optimizer.param_groups[index]["lr"] = optimizer.param_groups[index]["initial_lr"]
        return self.lr_scheduler


def _constant(step: int) -> float:
    return 1.0


class RankActivityCallback(TrainerCallback):
    """Writes `ranks/rank_<r>.json` with how many optimizer steps and batches each process ran.

    A multi-process run shows in these files that every rank took part.
    """

    def __init__(self, output_dir: str):
        self.output_dir = output_dir
        self.batches = 0

    def on_step_end(self, args, state, control, **kwargs):
        self.batches += args.gradient_accumulation_steps

    def on_train_end(self, args, state, control, **kwargs):
        rank = args.process_index
        folder = os.path.join(self.output_dir, "ranks")
        os.makedirs(folder, exist_ok=True)
        record = {
            "rank": rank,
            "world_size": args.world_size,
            "global_steps": state.global_step,
            "local_batches": self.batches,
            "device": str(args.device),
        }
        with open(os.path.join(folder, f"rank_{rank}.json"), "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2)
