"""LAME on large label sets: the cheap first-stage scorer, sampled label training and inference shortlists.

Above a few hundred labels, encoding every description with gradient in every step and running the
label-attention head on every label cost more than the documents. The first stage scores every label
from cheap features; training then runs the head on the batch's positives and a sample of negatives
(hard ones chosen by the first stage), and inference on each document's first-stage shortlist. The
labels the head did not score are completed from the first stage, so every mode returns
`(batch, num_labels)` logits.

Shipped with every LAME checkpoint as remote code: it imports only torch and its sibling `segments`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from .segments import masked_mean


# Above this many labels, "auto" turns on sampled label training and the first-stage scorer: encoding
# every description with gradient in every step costs more than the documents from a few hundred
# labels on (docs/BENCHMARKS.md).
LARGE_LABEL_SET = 256
SHORTLIST_SIZE = 256
SCALE_OPTIONS = (
    "label_sampling", "first_stage", "shortlist_size", "all_label_loss", "label_scoring", "description_gradients",
    "label_embedding_mode", "label_sample_negatives", "document_classifier",
)
# Negatives a sampled step scores, by how the descriptions are encoded: without gradient a negative costs
# only its head pass, so 128 stay at 1.16x-1.24x plain fine-tuning's step at 4,271 labels; with gradient each one
# is also encoded, and 32 already cost 2.0x (docs/BENCHMARKS.md).
SAMPLED_NEGATIVES = {"static": 128, "joint": 32}
# What a LAME config.json saved before an option became a scale option was built with.
SCALE_OPTIONS_BEFORE_AUTO = {
    "label_scoring": "label_specific", "description_gradients": "sample", "label_embedding_mode": "joint",
    "document_classifier": False,
}


def scale_defaults(num_labels: int, problem_type: str | None = None) -> dict:
    """The one rule for what LAME does at `num_labels` labels when its scale options are left on "auto".

    `LameConfig` resolves every "auto" in `SCALE_OPTIONS` here, so a model built in Python
    (`from_pretrained(..., label_descriptions=...)`) and one built by train.py (its options default to
    "auto") do the same at the same label count, and the saved config.json states the result. Above
    `LARGE_LABEL_SET` labels: sampled label training (multi-label only: a softmax is never sampled),
    the bilinear first stage, and the label-attention head on each document's `SHORTLIST_SIZE`
    first-stage labels at inference; at or below it, joint training and the exact head.

    Above `LARGE_LABEL_SET` labels a multi-label LAME also scores with the label-agnostic head and
    encodes descriptions without gradient (`label_embedding_mode="static"`). On a 1,000-document
    EURLEX57K subset (1,216 labels; docs/RESULTS.md, issue 29) the label-specific head trails plain
    fine-tuning: the gradient through the sampled descriptions collapses its label queries. The
    label-agnostic head, whose rows are computed from the descriptions by shared layers, leads it. With
    every sampled description encoded with gradient it costs 2.0x-2.35x plain fine-tuning's training step
    at 4,271 labels with 32-64 negatives, over the 2.0x target; with static descriptions 1.15x, as
    accurate as with 16 negatives and gradient (1.74x; docs/BENCHMARKS.md). At 256 labels or fewer (HoC, Disease-5), and
    for single-label problems, the paper's label-specific head and joint training stay the default.
    `all_label_loss` stays off: every label's logit in the loss collapsed the documents under the
    label-specific head and, beside the label-agnostic head, scored 46.8 against 53.0 at 1.8x the step.

    `label_sample_negatives` follows the embedding mode (`SAMPLED_NEGATIVES`): with static descriptions
    128 negatives scored 53.0 test R-Precision on that subset against 49.4 with 32, at 1.16x-1.24x the step.
    `document_classifier` follows the head: the label-agnostic head gets plain fine-tuning's free rows
    beside it, which scored 55.9 against 53.0 on that subset and 61.6 against 58.3 (plain fine-tuning
    56.5) on 5,000 training documents, at 1.10x-1.22x plain fine-tuning's step.
    """
    large = num_labels > LARGE_LABEL_SET
    sampled = large and problem_type != "single_label_classification"
    return {
        "label_sampling": "sampled" if sampled else "none",
        "first_stage": "bilinear" if large else "none",
        "shortlist_size": SHORTLIST_SIZE if large else 0,
        "all_label_loss": False,
        "label_scoring": "label_agnostic" if sampled else "label_specific",
        "description_gradients": "sample",
        "label_embedding_mode": "static" if sampled else "joint",
        "label_sample_negatives": SAMPLED_NEGATIVES["static" if sampled else "joint"],
        "document_classifier": sampled,
    }



class LameScaleFields:
    """The scale options of [`LameConfig`] as the model uses them (a mixin of the config): "auto"
    stands for [`scale_defaults`]' value at the config's label count."""

    def resolved_scale_options(self) -> dict:
        """`SCALE_OPTIONS` as this model uses them: each "auto" replaced by [`scale_defaults`]' value."""
        defaults = scale_defaults(self.num_labels, self.problem_type)
        resolved = {field: defaults[field] if getattr(self, field) == "auto" else getattr(self, field) for field in SCALE_OPTIONS}
        if self.shortlist_size == "auto" and resolved["first_stage"] != "bilinear":
            resolved["shortlist_size"] = 0  # no first stage to choose a shortlist: the exact head
        if self.label_sample_negatives == "auto":  # an explicit embedding mode sets the negatives too
            resolved["label_sample_negatives"] = SAMPLED_NEGATIVES[resolved["label_embedding_mode"]]
        if self.document_classifier == "auto":  # measured beside the label-agnostic head only
            resolved["document_classifier"] = defaults["document_classifier"] and resolved["label_scoring"] == "label_agnostic"
        return resolved

    @property
    def uses_label_sampling(self) -> bool:
        """Whether training steps encode only a sample of the descriptions (`label_sampling` resolved)."""
        return self.resolved_scale_options()["label_sampling"] == "sampled"

    @property
    def uses_first_stage(self) -> bool:
        """Whether the model has the cheap all-label scorer (`first_stage` resolved)."""
        return self.resolved_scale_options()["first_stage"] == "bilinear"

    @property
    def effective_shortlist_size(self) -> int:
        """Labels the head scores per document in eval mode, 0 for all (`shortlist_size` resolved)."""
        return self.resolved_scale_options()["shortlist_size"]

    @property
    def uses_document_classifier(self) -> bool:
        """Whether plain fine-tuning's free rows sit beside the head (`document_classifier` resolved)."""
        return self.resolved_scale_options()["document_classifier"]

    @property
    def uses_all_label_loss(self) -> bool:
        """Whether a sampled training step puts every label's logit in the loss (`all_label_loss` resolved)."""
        return self.resolved_scale_options()["all_label_loss"]


class LameFirstStage(nn.Module):
    """Cheap scorer of every label, for hard negatives in training and shortlists at inference.

    `score(d, l) = <W_d mean(H_d), W_l e_l> / sqrt(hidden) + b_l`: the masked mean of the document's
    token states against the label's description embedding, so a label never seen in training still
    gets a score from its description, plus a per-label bias (with `config.label_scoring=
    "label_agnostic"`, a bias computed from the description, `b_l = <a, e_l> + b`, so that no
    parameter belongs to one label). Its cost is one projection per label
    per forward pass and one dot product per (document, label) pair, about 1/hidden of the label-
    attention head's.
    """

    def __init__(self, config) -> None:  # a LameConfig (which imports this file for its scale rule)
        super().__init__()
        self.document = nn.Linear(config.hidden_size, config.hidden_size)
        self.label = nn.Linear(config.hidden_size, config.hidden_size)
        if config.label_agnostic:
            self.bias = None
            self.label_bias = nn.Linear(config.hidden_size, 1)
        else:
            self.bias = nn.Parameter(torch.empty(config.num_labels))
        # Without gradient the projected labels depend only on the (cached) label embeddings and
        # this layer's weights: kept, so inference does one projection per label set, not per batch.
        self._projected: tuple[torch.Tensor, tuple, torch.Tensor] | None = None

    def _project_labels(self, label_embeddings: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if torch.is_grad_enabled() or torch.compiler.is_compiling():
            return self.label(label_embeddings.to(dtype))
        key = tuple((p.data_ptr(), p._version) for p in self.label.parameters())
        cached = self._projected
        # Holding the embeddings tensor itself (not its id) keeps a freed tensor's id from matching.
        if cached is not None and cached[0] is label_embeddings and cached[1] == key:
            return cached[2]
        projected = self.label(label_embeddings.to(dtype))
        self._projected = (label_embeddings, key, projected)
        return projected

    def forward(self, document_vectors: torch.Tensor, label_embeddings: torch.Tensor) -> torch.Tensor:
        """`document_vectors` `(batch, hidden)`, the masked mean of each document's token states
        ([`masked_mean`]), and `label_embeddings` `(num_labels, hidden)` -> `(batch, num_labels)` logits."""
        documents = self.document(document_vectors)
        labels = self._project_labels(label_embeddings, documents.dtype)
        bias = self.bias if self.bias is not None else self.label_bias(label_embeddings.to(documents.dtype)).squeeze(-1)
        return documents @ labels.T / math.sqrt(documents.shape[-1]) + bias



@contextmanager
def blocks_in_eval_mode(blocks: nn.ModuleList) -> Iterator[None]:
    """Run `blocks` in eval mode (no dropout) inside the `with`, then restore each one's mode. Only the
    blocks change: the model's own `train()` also clears its label caches."""
    modes = [block.training for block in blocks]
    for block in blocks:
        block.eval()
    try:
        yield
    finally:
        for block, mode in zip(blocks, modes):
            block.train(mode)


def shortlist_recall(shortlist_ids: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of the gold (document, label) pairs that the shortlists contain.

    Args:
        shortlist_ids: `(num_documents, k)` label ids, e.g. from
            [`LameForSequenceClassification.shortlist_labels`].
        targets: `(num_documents, num_labels)` 0/1 gold labels.

    Returns:
        Recall in [0, 1]; 1.0 when there is no gold label at all.
    """
    if shortlist_ids.shape[0] != targets.shape[0]:
        raise ValueError(
            f"shortlist_recall: {shortlist_ids.shape[0]} shortlists for {targets.shape[0]} documents."
        )
    gold = targets.to(torch.bool)
    listed = torch.zeros_like(gold).scatter_(1, shortlist_ids.long(), True)
    total = int(gold.sum())
    return 1.0 if total == 0 else int((gold & listed).sum()) / total




@dataclass
class LabelChoice:
    """The labels one forward pass runs the label-attention head on ([`LameLargeLabelSets.choose_labels`]).

    Attributes:
        embeddings: `(k, hidden)` description embeddings shared by the batch, or `(batch, k, hidden)`
            per document (shortlists).
        label_ids: `None` when the k labels are every label in id order; else `(k,)` ids shared by
            the batch (sampled training) or `(batch, k)` per document (shortlists).
        column_weights: `(k,)` how many labels each sampled label stands for in the loss, which then
            covers the k labels only; `None` when the loss covers every label.
        first_stage_logits: `(batch, num_labels)` from the first stage, or `None` without one.
        sampled: a sampled training step (`config.all_label_loss` puts every label in it: with
            `all_label_loss_gradient="full"`, `label_ids` and `column_weights` are `None`).
        outside_sample: `(num_labels, hidden)` every label's cached embedding, under `all_label_loss`
            with `all_label_loss_gradient="output_layer"`: the head scores every label from these with
            gradient into its output layer only ([`LameLargeLabelSets.complete_logits`]); else `None`.
    """

    embeddings: torch.Tensor
    label_ids: torch.Tensor | None
    column_weights: torch.Tensor | None
    first_stage_logits: torch.Tensor | None
    sampled: bool = False
    outside_sample: torch.Tensor | None = None


class LameLargeLabelSets:
    """Which labels the head scores, and how the others get a logit: a mixin of
    [`LameForSequenceClassification`] (it reads `self.config`, `self.first_stage` and the label set's
    embeddings)."""

    def choose_labels(
        self,
        document_vectors: torch.Tensor | None,
        labels: torch.Tensor | None,
        description_embeddings: torch.Tensor | None = None,
    ) -> LabelChoice:
        """The labels the head runs on, in one of three modes:

        - sampled (training with `labels` and `config.uses_label_sampling`): the batch's positives and
          `label_sample_negatives` negatives ([`_sample_labels`]); every other label is read from the
          training cache, by the first stage alone (or, with `config.all_label_loss`, by the head too:
          with gradient through the whole head, or into its output layer only, as
          `config.all_label_loss_gradient` says);
        - shortlisted (eval mode with a first stage and `0 < shortlist_size < num_labels`): each
          document's top-`shortlist_size` first-stage labels;
        - all: every label (or every row of `description_embeddings`, `(k, hidden)`).

        Args:
            document_vectors: `(batch, hidden)` masked mean token states; read by the first stage.
            labels: the forward's targets, or `None`.
        """
        sampled = self.training and labels is not None and self.config.uses_label_sampling
        if sampled and self.config.problem_type == "single_label_classification":
            raise ValueError(
                "LameConfig.label_sampling='sampled' needs a multi-label problem; this model's problem_type is "
                "single_label_classification. Set label_sampling='none'."
            )
        first_stage_logits = None
        if sampled:
            cached = self.training_label_embeddings()
            if self.first_stage is not None:
                first_stage_logits = self.first_stage(document_vectors, cached)
            label_ids, column_weights = self._sample_labels(labels.to(torch.float32), first_stage_logits)
            embeddings = self._sampled_embeddings(label_ids, labels, cached)
            if self.config.uses_all_label_loss and self.config.all_label_loss_gradient == "output_layer":
                return LabelChoice(embeddings, label_ids, None, first_stage_logits, sampled=True, outside_sample=cached)
            if self.config.uses_all_label_loss:
                # Every label in the head and the loss: the sampled labels' embeddings (with gradient in
                # joint mode) replace their rows of the training cache, the others' queries are cached.
                embeddings = cached.to(embeddings.dtype).index_copy(0, label_ids, embeddings)
                return LabelChoice(embeddings, None, None, first_stage_logits, sampled=True)
            return LabelChoice(embeddings, label_ids, column_weights, first_stage_logits, sampled=True)
        embeddings = self.encode_label_descriptions() if description_embeddings is None else description_embeddings
        if self.first_stage is not None:
            first_stage_logits = self.first_stage(document_vectors, embeddings)
        k = self.config.effective_shortlist_size
        if not self.training and first_stage_logits is not None and 0 < k < embeddings.shape[0]:
            label_ids = first_stage_logits.topk(k, dim=-1).indices  # (batch, k)
            return LabelChoice(embeddings[label_ids], label_ids, None, first_stage_logits)
        return LabelChoice(embeddings, None, None, first_stage_logits)

    def _sampled_embeddings(self, label_ids: torch.Tensor, labels: torch.Tensor, cached: torch.Tensor) -> torch.Tensor:
        """`(k, hidden)` embeddings of a sampled step's labels: encoded with gradient (all of them, or
        only the batch's positives with `config.description_gradients="positives"`) when the
        descriptions are trained, else read from the training cache `cached` `(num_labels, hidden)`."""
        if not self._descriptions_trainable():
            return cached[label_ids]
        if self.config.description_gradients == "sample":
            return self._encode_descriptions(label_ids.tolist())
        positive = labels.gt(0).any(0)[label_ids].nonzero().squeeze(1)
        if not positive.numel():  # a batch without gold labels: nothing to encode
            return cached[label_ids]
        encoded = self._encode_descriptions(label_ids[positive].tolist())
        return cached[label_ids].to(encoded.dtype).index_copy(0, positive, encoded)

    def complete_logits(self, partial: torch.Tensor, choice: LabelChoice, documents=None) -> torch.Tensor:
        """The head's `(batch, k)` logits of `choice` -> `(batch, num_labels)`.

        Labels outside `choice` get a logit from the first stage ([`_complete_logits`]), or, when
        `choice.outside_sample` is set, from the head run on every label's cached embedding with
        gradient into the output layer only; the sampled labels keep their `partial` logits (and
        their gradient through the whole head). `documents` ([`DocumentStates`]) is read in that case.
        """
        if choice.label_ids is None:
            return partial
        if choice.outside_sample is not None:
            # Without dropout in the blocks: nothing upstream learns from these states, and on CPU the
            # fused attention with dropout runs about 5 times slower than without.
            with blocks_in_eval_mode(self.label_blocks):
                every_label, _ = self.run_head(
                    choice.outside_sample, None, documents.tokens, documents.mask, False, documents.vectors,
                    blocks_with_gradient=False,
                )
            return every_label.to(partial.dtype).index_copy(1, choice.label_ids, partial)
        label_ids = choice.label_ids if choice.label_ids.dim() == 2 else choice.label_ids.expand(partial.shape[0], -1)
        return self._complete_logits(partial, label_ids, choice.first_stage_logits)

    @staticmethod
    def all_label_rows(weights: list[torch.Tensor], choice: LabelChoice, num_labels: int) -> list[torch.Tensor]:
        """Per-block attention weights `(batch, heads, k, seq_len)` of a shortlist ->
        `(batch, heads, num_labels, seq_len)`. Labels outside the shortlist were not attended: all-zero
        rows, so that row i is still label i for the pipeline and the viewer."""
        if choice.label_ids is None:
            return weights
        rows = []
        for block_weights in weights:
            full = block_weights.new_zeros(*block_weights.shape[:2], num_labels, block_weights.shape[-1])
            index = choice.label_ids[:, None, :, None].expand(-1, block_weights.shape[1], -1, block_weights.shape[-1])
            rows.append(full.scatter(2, index, block_weights))
        return rows

    def shortlist_labels(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, k: int | None = None
    ) -> torch.Tensor:
        """The first stage's top-`k` label ids per document, `(batch, k)`, highest score first.

        `k` defaults to `config.shortlist_size`. Pair with [`shortlist_recall`] to measure how many
        gold labels a shortlist of that size keeps.
        """
        if self.first_stage is None:
            raise ValueError("This LAME model has no first stage (config.first_stage='none'), so no shortlist.")
        k = k or self.config.effective_shortlist_size
        if not k:
            raise ValueError("shortlist_labels needs k (or config.shortlist_size > 0).")
        _, tokens, token_mask, _ = self.encode_documents(input_ids, attention_mask)
        scores = self.first_stage(masked_mean(tokens, token_mask), self.encode_label_descriptions())
        return scores.topk(min(k, scores.shape[-1]), dim=-1).indices

    # ----------------------------------------------------------------------- forward

    def _complete_logits(
        self,
        partial: torch.Tensor, label_ids: torch.Tensor, first_stage_logits: torch.Tensor | None
    ) -> torch.Tensor:
        """All-label logits `(batch, num_labels)` from the head's `(batch, k)` logits of `label_ids`.

        A label the head did not score gets the smaller of its first-stage logit and (just under) the
        document's lowest head logit: it ranks after every scored label, and the first stage orders
        the rest.
        """
        # The next float below the lowest head logit: ties would let a sort put an unscored label first.
        lowest = partial.detach().min(dim=-1, keepdim=True).values
        floor = torch.nextafter(lowest, torch.full_like(lowest, float("-inf")))
        if first_stage_logits is None:  # sampled training without a first stage: no order to keep
            rest = floor.expand(-1, self.config.num_labels)
        else:
            rest = torch.minimum(first_stage_logits.detach().to(partial.dtype), floor)
        return rest.scatter(1, label_ids, partial)

    def _sample_labels(
        self, targets: torch.Tensor, first_stage_logits: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The labels a sampled training step scores, and how many labels each stands for.

        Every label positive for some document of the batch, then `label_sample_negatives`
        negatives: a `hard_negative_fraction` share chosen by the first stage's highest score over
        the batch, the rest uniformly from the remaining labels. A random negative stands for
        `remaining / drawn` labels, so the weighted loss is an unbiased estimate of the loss over
        every label. When the budget covers every negative, all labels are returned in id order
        with weight 1, and the step is exactly joint training.

        Args:
            targets: `(batch, num_labels)` 0/1 floats.
            first_stage_logits: `(batch, num_labels)` or `None`.

        Returns:
            `(k,)` label ids and `(k,)` float weights.
        """
        num_labels = targets.shape[1]
        device = targets.device
        positive = targets.gt(0).any(0)
        negatives = int((~positive).sum())
        budget = self.config.resolved_scale_options()["label_sample_negatives"]
        if budget >= negatives:
            return torch.arange(num_labels, device=device), torch.ones(num_labels, device=device)
        chosen = [positive.nonzero().squeeze(1)]
        remaining = ~positive
        hard = round(budget * self.config.hard_negative_fraction) if first_stage_logits is not None else 0
        if hard:
            scores = first_stage_logits.detach().max(0).values.masked_fill(positive, float("-inf"))
            hard_ids = scores.topk(hard).indices
            chosen.append(hard_ids)
            remaining = remaining.clone()
            remaining[hard_ids] = False
        pool = remaining.nonzero().squeeze(1)
        drawn = budget - hard
        random_ids = pool[torch.randperm(pool.numel(), device=device)[:drawn]]
        chosen.append(random_ids)
        weights = torch.ones(sum(part.numel() for part in chosen), device=device)
        if drawn:
            weights[-random_ids.numel() :] = pool.numel() / random_ids.numel()
        return torch.cat(chosen), weights

