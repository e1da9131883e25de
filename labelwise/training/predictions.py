"""What a trained model predicted: collapse warnings after each evaluation, and the test predictions file.

Collapse
    A model that answers the same thing for every input scores badly without saying why. After each
    evaluation (and on the test predictions) [`collapse_reason`] looks for the usual shapes: every
    document in one class (multi-class), no label at all for more than 99% of the documents
    (multi-label, hierarchical), only `O` tags (NER); and, whatever the threshold, the same labels
    ranked first for almost every document ([`ranking_collapse_reason`], multi-label), and a LAME
    model's label queries nearly one vector ([`query_collapse_reason`]). It warns only
    where the gold answers do vary, and the warning names the likely causes: a training budget too
    small for the new layers, and their learning rate.

Validation predictions of the final model
    The Trainer evaluates the validation split during training, at the last step too; the final model
    is the one of the last step, or of the best evaluation with `load_best_model_at_end`. Its validation
    predictions and metrics are kept from that evaluation ([`KeptEvaluations`]), so `train.py` reports
    them and tunes the decision thresholds on them without a second pass over the validation split
    (on the full EURLEX57K, about an hour and a quarter on this CPU).

Test predictions
    `<output_dir>/model/test_predictions.jsonl`, beside `training_summary.json` (the metrics): one
    JSON object a line, one line per test document (per sentence for NER), in test-split order:

    * classification: `{"id", "gold": [names], "predicted": [names], "scores": {name: probability}}`;
      multi-class rows hold one name in each list and softmax probabilities; multi-label rows the
      sigmoid probabilities, `predicted` at the decision threshold tuned on validation (as stored in
      `config.json`), or at `--threshold` with `--tune_thresholds none`: the threshold of the
      `test_tuned` metrics, or of the `test` ones. `scores` holds every label for up to
      `MAX_SCORES` labels, else the `MAX_SCORES` highest (and every predicted label), highest first.
    * NER: `{"id", "tokens", "gold": [tag a token], "predicted": [tag a token], "scores": [probability
      of the predicted tag a token]}` over whole sentences (windows merged).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from transformers import TrainerCallback
from transformers.trainer_utils import PredictionOutput

from labelwise.kinds.base import PreparedTask, logits_of
from labelwise.metrics.spread import mean_pairwise_cosine
from labelwise.training.tasks import MULTI_LABEL_TASKS

logger = logging.getLogger(__name__)

EMPTY_SHARE = 0.99
"""Warn when more than this share of the documents has no predicted label (multi-label)."""

SAME_RANKING_SHARE = 0.95
RANKING_TOP = 5
"""Warn when at least `SAME_RANKING_SHARE` of the documents rank the same `RANKING_TOP` labels first (in
any order; multi-label with at least `2 * RANKING_TOP` labels): the scores hardly depend on the
document, whatever the threshold. A LAME run whose encoder collapsed looked like this on EURLEX57K
(docs/RESULTS.md, issue 29) while "no label at all" said nothing a rare-label run does not also say."""

QUERY_COLLAPSE_COSINE = 0.95
"""Warn when a LAME model's label queries have at least this mean pairwise cosine after an evaluation:
every label then reads nearly the same context of the document. On the EURLEX57K subset the shipped
configuration's queries rose from 0.61 to 0.92-0.93 within 100 steps, and row (b)'s to 0.98-1.00 as it
collapsed; the converged HoC model's end at 0.31 (docs/RESULTS.md, issue 29)."""

QUERY_SAMPLE = 2000
"""Label queries compared at most (a seeded sample above it): the cosine matrix stays small."""

MAX_SCORES = 50
"""`scores` of a predictions-file row holds at most this many labels (plus every predicted one)."""

PREDICTIONS_FILE = "test_predictions.jsonl"


def collapse_reason(task: str, predicted, gold, label_names: Sequence[str]) -> str | None:
    """Why these predictions look collapsed, or None.

    Args:
        task: `multi_label`, `hierarchical`, `multi_class` or `ner`.
        predicted / gold: multi-label: 0/1 arrays `(documents, labels)`; multi-class: class ids
            `(documents,)`; NER: tag names, one list per sentence (or one flat list).
    """
    if task in MULTI_LABEL_TASKS:
        predicted, gold = np.asarray(predicted) > 0, np.asarray(gold) > 0
        if not len(predicted):
            return None
        empty = float((~predicted.any(1)).mean())
        if empty > EMPTY_SHARE and gold.any(1).mean() > 1 - EMPTY_SHARE:
            return (f"{empty:.1%} of the {len(predicted):,} documents get no label at all, though "
                    f"{gold.any(1).mean():.0%} of them have one")
        if len(predicted) > 1 and (predicted == predicted[0]).all() and not (gold == gold[0]).all():
            shown = ", ".join(label_names[i] for i in np.flatnonzero(predicted[0])[:5]) or "none"
            return f"all {len(predicted):,} documents get the same labels ({shown})"
        return None
    if task == "multi_class":
        predicted, gold = np.asarray(predicted).ravel(), np.asarray(gold).ravel()
        if len(predicted) > 1 and len(set(predicted.tolist())) == 1 and len(set(gold.tolist())) > 1:
            return f"all {len(predicted):,} documents are predicted as {label_names[int(predicted[0])]!r}"
        return None
    if task == "ner":
        flat_predicted = [tag for tags in predicted for tag in _as_list(tags)]
        flat_gold = [tag for tags in gold for tag in _as_list(tags)]
        if flat_predicted and all(tag == "O" for tag in flat_predicted) and any(tag != "O" for tag in flat_gold):
            return f"all {len(flat_predicted):,} tokens are tagged 'O': no entity is predicted"
        return None
    return None


def ranking_collapse_reason(scores, gold, label_names: Sequence[str], top: int = RANKING_TOP) -> str | None:
    """Multi-label: why the label rankings collapsed (`SAME_RANKING_SHARE`), or `None`.

    `scores`: `(documents, labels)` logits or probabilities; `gold`: 0/1 `(documents, labels)`. Only
    where the gold label sets vary and there are at least `2 * top` labels."""
    scores, gold = np.asarray(scores, dtype=np.float32), np.asarray(gold) > 0
    if scores.ndim != 2 or len(scores) < 2 or scores.shape[1] < 2 * top or (gold == gold[0]).all():
        return None
    # The set of the top labels, not their order: scores that barely move with the document still swap
    # near-ties from one document to the next.
    tops = np.sort(np.argsort(-scores, axis=1, kind="stable")[:, :top], axis=1)
    rankings, counts = np.unique(tops, axis=0, return_counts=True)
    share = counts.max() / len(scores)
    if share < SAME_RANKING_SHARE:
        return None
    names = ", ".join(str(label_names[i]) for i in rankings[counts.argmax()])
    return (f"{share:.0%} of the {len(scores):,} documents rank the same {top} labels first ({names}): the "
            "scores hardly depend on the document, as when the encoder maps every document to nearly one vector")


def query_collapse_reason(model) -> str | None:
    """Why a model's label queries collapsed (`QUERY_COLLAPSE_COSINE`), or `None` (also for models
    without label queries, or with fewer than 10 labels). Reads `encode_label_descriptions()` in eval
    mode (cached after an evaluation) and restores the model's mode."""
    encode = getattr(model, "encode_label_descriptions", None)
    if encode is None or model.config.num_labels < 10:
        return None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            queries = encode().float()
    finally:
        model.train(was_training)
    if len(queries) > QUERY_SAMPLE:
        queries = queries[torch.randperm(len(queries), generator=torch.Generator().manual_seed(0))[:QUERY_SAMPLE]]
    cosine = mean_pairwise_cosine(queries)
    if cosine < QUERY_COLLAPSE_COSINE:
        return None
    return (f"the {model.config.num_labels:,} label queries have a mean pairwise cosine of {cosine:.2f}: every "
            "label reads nearly the same context of the document, so the label attention no longer tells the labels "
            "apart (LAME on large label sets: docs/RESULTS.md, issue 29)")


def _as_list(tags) -> list:
    return [tags] if isinstance(tags, str) else list(tags)


def collapse_advice(head_learning_rate: float | None, learning_rate: float, steps: int | None, train_rows: int | None) -> str:
    """The likely causes of a collapse, with this run's values."""
    budget = f"{steps:,} optimizer steps" if steps else "a few optimizer steps"
    if train_rows:
        budget += f" on {train_rows:,} training rows"
    head = head_learning_rate if head_learning_rate is not None else learning_rate
    return (
        f"Likely causes: (1) the training budget ({budget}) is too small for the new, randomly initialised "
        "layers to learn: train longer (--num_train_epochs) or on more rows (--max_train_samples); (2) the "
        f"learning rate of the new layers (--head_learning_rate {head:g}, encoder --learning_rate "
        f"{learning_rate:g}): too low and they hardly move from the start, too high and they settle on the "
        "most frequent answer. Multi-label with many rare labels: --label_bias_init label_prior and "
        "--tune_thresholds global help."
    )


def predicted_and_gold(task: str, prediction, threshold: float, label_names: Sequence[str]):
    """`(predicted, gold)` of a `Trainer` `EvalPrediction`/`PredictionOutput`, in `collapse_reason`'s shapes."""
    logits = np.asarray(logits_of(prediction.predictions), dtype=np.float32)
    gold = np.asarray(prediction.label_ids)
    if task in MULTI_LABEL_TASKS:
        return (_sigmoid(logits) >= threshold).astype(int), gold
    if task == "multi_class":
        return logits.argmax(-1), gold
    if task == "ner":
        ids = logits.argmax(-1)
        keep = gold != -100
        names = list(label_names)
        return [[names[i] for i in ids[keep]]], [[names[i] for i in gold[keep]]]
    raise ValueError(f"predicted_and_gold: unknown task {task!r}")


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return torch.sigmoid(torch.from_numpy(logits)).numpy()


class KeptEvaluations(TrainerCallback):
    """The validation predictions and metrics of the evaluations made during training: the newest and
    the best one's (by the Trainer's `metric_for_best_model`), so that the final model's need not be
    computed again (module docstring). [`CollapseWatch`] hands each evaluation's predictions over."""

    def __init__(self) -> None:
        self.pending = None
        self.kept: dict[int, PredictionOutput] = {}

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        prediction, self.pending = self.pending, None
        if prediction is None or metrics is None:
            return
        # The Trainer updates `best_global_step` after this call: the best so far is the previous one's.
        self.kept = {step: kept for step, kept in self.kept.items() if step == state.best_global_step}
        self.kept[state.global_step] = PredictionOutput(prediction.predictions, prediction.label_ids, dict(metrics))

    def of_final_model(self, trainer) -> PredictionOutput | None:
        """The evaluation of the weights the trained model holds now, when this process made it
        (not after resuming from a checkpoint evaluated by an earlier run), else None."""
        state = trainer.state
        step = state.global_step
        if trainer.args.load_best_model_at_end and state.best_model_checkpoint:
            step = int(os.path.basename(os.path.normpath(state.best_model_checkpoint)).rsplit("-", 1)[-1])
        return self.kept.get(step)


class CollapseWatch:
    """`compute_metrics` that also warns when the evaluated predictions collapse.

    Wraps the task's own `compute_metrics`; `trainer` (set after the Trainer is built) gives the
    step count for the message, `stage` what is being predicted ("evaluation" during training; set it
    before the test split is predicted). Every warning given is kept in `warnings`. Each evaluation's
    predictions go to `evaluations` (a callback the Trainer must hold) for the final model's metrics.
    """

    def __init__(self, task: PreparedTask, threshold: float, advice: Callable[[int | None], str]):
        self.task = task
        self.threshold = threshold
        self.advice = advice
        self.trainer = None
        self.warnings: list[str] = []
        self.stage = "evaluation"
        self.evaluations = KeptEvaluations()

    def __call__(self, prediction) -> dict[str, float]:
        self.evaluations.pending = prediction
        metrics = self.task.compute_metrics(prediction)
        try:
            predicted, gold = predicted_and_gold(self.task.task, prediction, self.threshold, self.task.label_names)
        except (ValueError, IndexError) as err:  # a shape this check does not know: say so, keep the metrics
            logger.debug("Collapse check skipped: %s", err)
            return metrics
        self.check(predicted, gold, self.stage)
        if self.task.task in MULTI_LABEL_TASKS:
            try:
                reason = ranking_collapse_reason(logits_of(prediction.predictions), gold, self.task.label_names)
            except (ValueError, IndexError) as err:
                logger.debug("Ranking collapse check skipped: %s", err)
            else:
                self.warn(reason, self.stage)
        if self.trainer is not None:
            self.warn(query_collapse_reason(self.trainer.model), self.stage, "Label queries collapsed")
        return metrics

    def check(self, predicted, gold, what: str) -> str | None:
        """Warn (and remember) when `predicted` collapsed; returns the warning."""
        return self.warn(collapse_reason(self.task.task, predicted, gold, self.task.label_names), what)

    def warn(self, reason: str | None, what: str, headline: str = "Predictions collapsed") -> str | None:
        """Log and remember a collapse `reason` of `what` with the advice; returns the warning."""
        if reason is None:
            return None
        steps = self.trainer.state.global_step if self.trainer is not None else None
        step = f" at step {steps}" if steps else ""
        message = f"{headline} ({what}{step}): {reason}. {self.advice(steps)}"
        logger.warning(message)
        self.warnings.append(message)
        return message


def _threshold_of(tuned: dict | None, fallback: float):
    """The threshold the predictions file uses: the tuned one(s) when `--tune_thresholds` chose any (as
    `tune_thresholds` returned them, and as stored in config.json), else `fallback` (`--threshold`)."""
    if tuned and tuned.get("label_thresholds"):
        return np.asarray(tuned["label_thresholds"], dtype=np.float32)
    if tuned and tuned.get("decision_threshold") is not None:
        return float(tuned["decision_threshold"])
    return fallback


def classification_rows(task: PreparedTask, prediction, ids: Sequence[str], threshold) -> list[dict]:
    """Rows of the predictions file for a classification `PredictionOutput` of the test split."""
    logits = np.asarray(logits_of(prediction.predictions), dtype=np.float32)
    gold = np.asarray(prediction.label_ids)
    names = list(task.label_names)
    rows = []
    if task.task in MULTI_LABEL_TASKS:
        probabilities = _sigmoid(logits)
        chosen = probabilities >= np.asarray(threshold)
        for index, (scores, picked, truth) in enumerate(zip(probabilities, chosen, gold)):
            rows.append(_row(ids, index, [names[i] for i in np.flatnonzero(truth > 0)],
                             [names[i] for i in np.flatnonzero(picked)], scores, np.flatnonzero(picked), names))
    else:
        probabilities = torch.softmax(torch.from_numpy(logits), -1).numpy()
        for index, (scores, truth) in enumerate(zip(probabilities, gold)):
            best = int(scores.argmax())
            rows.append(_row(ids, index, [names[int(truth)]], [names[best]], scores, [best], names))
    return rows


def _row(ids, index, gold, predicted, scores, picked, names) -> dict:
    order = np.argsort(-scores, kind="stable")
    kept = list(order[:MAX_SCORES]) + [i for i in picked if i not in set(order[:MAX_SCORES].tolist())]
    return {
        "id": ids[index] if index < len(ids) else str(index),
        "gold": gold,
        "predicted": predicted,
        "scores": {names[i]: round(float(scores[i]), 5) for i in kept},
    }


def write_predictions(folder: str, task: PreparedTask, rows: list[dict]) -> str:
    """Write `rows` to `<folder>/test_predictions.jsonl`; returns the path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, PREDICTIONS_FILE)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def final_prediction_rows(task: PreparedTask, predictions: dict, threshold: float, tuned: dict | None = None) -> list[dict]:
    """The predictions-file rows of a finished run: the kind's own (NER, `task.test_prediction_rows`) or
    those of `Trainer.predict`'s test output, multi-label ones at the `tuned` thresholds
    (`labelwise.training.thresholds.tune_thresholds`' result) or else at `threshold`."""
    if task.test_prediction_rows is not None:
        return list(task.test_prediction_rows)
    if "test" not in predictions:
        return []
    ids = task.document_ids.get("test", [])
    return classification_rows(task, predictions["test"], ids, _threshold_of(tuned, threshold))
