"""`train.py` options about the run itself rather than the model: the cost estimate printed before
the long part of training, and how much of the corpus a short trial reads.

Kept apart from `labelwise.training.arguments` (one dataclass, merged into `LabelwiseArguments`) so
that what a run costs and what it reports is declared in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunReportOptions:
    """Cost estimate, collapse warnings and prediction files of a `train.py` run."""

    estimate_steps: int = field(
        default=3,
        metadata={"help": "Time this many optimizer steps (after the first, which includes one-time setup), then "
                  "print the cost estimate: steps, seconds per step, time per epoch and in total, peak memory, "
                  "the cost of one evaluation pass (also written to <output_dir>/cost_estimate.json). 0: no "
                  "estimate."},
    )
    estimate_eval_batches: int = field(
        default=2,
        metadata={"help": "Evaluation batches timed for the estimate's cost of one validation/test pass "
                  "(the first includes e.g. LAME's encoding of every label description)."},
    )
