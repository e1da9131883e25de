"""Word-level explanations of one label's probability, by several methods, and word erasure.

Every method returns one score per word piece of the encoded text (special tokens score 0); the
caller sums pieces into words (`word_scores`), as the pipeline's `evidence` does.

Methods (`METHODS`):
- `attention`: LAME's last label-attention block, averaged over heads: the pipeline's evidence.
- `attention_rollout`: the mean over LAME's stacked label blocks of their head-averaged weights.
  The blocks all attend to the same token states and each adds its context to the label's state
  through a residual connection, so the token mixture a label carries out of the head is the sum of
  the blocks' weights; with one block this equals `attention`.
- `grad_x_input`: gradient x input of the label's logit w.r.t. the word-piece embeddings, summed over
  the hidden size (captum `InputXGradient`). Works on LAME and on plain fine-tuned classifiers.
- `integrated_gradients`: captum `IntegratedGradients` from a baseline of [PAD] embeddings (special
  tokens kept), the step count doubled from `IG_STEPS[0]` until the convergence delta is at most
  `ig_tolerance` of the logit difference it explains (at most `ig_max_steps`; those that stop there
  unconverged are counted).
- `attingrad`: attention x |gradient x input| (Edin et al., 2024), LAME only.
- `random`: uniform random scores, the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from labelwise.modeling.integrated_gradients import IG_STEPS, IG_TOLERANCE, label_logit, padding_baseline
from labelwise.modeling.pipeline_lame import merge_pieces_into_words

METHODS: tuple[str, ...] = ("attention", "attention_rollout", "grad_x_input", "integrated_gradients", "attingrad", "random")
ATTENTION_METHODS = frozenset({"attention", "attention_rollout", "attingrad"})


@dataclass
class Encoded:
    """One text, tokenised: model inputs of batch 1 and each piece's word index (`None`: special token)."""

    text: str
    inputs: dict[str, torch.Tensor]
    word_ids: list[int | None]
    offsets: list[tuple[int, int]]
    words: list[tuple[int, int]] = field(default_factory=list)  # character span of each word

    @classmethod
    def of(cls, tokenizer, text: str, max_length: int) -> "Encoded":
        encoded = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)
        offsets = [tuple(span) for span in encoded["offset_mapping"]]
        inputs = {
            key: torch.tensor([encoded[key]]) for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded
        }
        # The pipeline's own piece-to-word merge gives the words (and `word_scores` their scores), so
        # what is measured is what the pipeline shows.
        words, _ = merge_pieces_into_words(torch.zeros(1, len(offsets)), encoded.word_ids(), offsets, text)
        # Renumber word ids 0..n-1 in document order, as the merge orders its words.
        renumber = {w: i for i, w in enumerate(sorted({w for w in encoded.word_ids() if w is not None}))}
        word_ids = [None if w is None else renumber[w] for w in encoded.word_ids()]
        return cls(text, inputs, word_ids, offsets, [(word["start"], word["end"]) for word in words])


def word_scores(piece_scores: np.ndarray, encoded: Encoded) -> np.ndarray:
    """Sum piece scores into one score per word (special tokens dropped), as the pipeline's evidence does."""
    piece_scores = torch.as_tensor(np.asarray(piece_scores, dtype=np.float64))[None]
    _, weights = merge_pieces_into_words(piece_scores, encoded.word_ids, encoded.offsets, encoded.text)
    return weights[0].double().numpy()


def is_lame(model) -> bool:
    return hasattr(model, "label_blocks")


def label_probability(model, logits: torch.Tensor, label: int) -> torch.Tensor:
    """The label's probability: sigmoid for multi-label models, softmax otherwise; `(batch,)`."""
    if getattr(model.config, "problem_type", None) == "multi_label_classification":
        return torch.sigmoid(logits[:, label])
    return torch.softmax(logits, dim=-1)[:, label]


class Explainer:
    """Explanations and erasure for one model (LAME or a plain `*ForSequenceClassification`)."""

    def __init__(
        self, model, tokenizer, max_length: int = 512, ig_tolerance: float = IG_TOLERANCE, ig_max_steps: int = IG_STEPS[1], seed: int = 0
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.ig_tolerance = ig_tolerance
        self.ig_max_steps = ig_max_steps
        self.ig_unconverged = 0  # explanations that reached ig_max_steps with the delta still above tolerance
        self.rng = np.random.default_rng(seed)
        self.ig_steps_used: list[int] = []

    def methods(self) -> tuple[str, ...]:
        """The methods this model supports."""
        return METHODS if is_lame(self.model) else tuple(m for m in METHODS if m not in ATTENTION_METHODS)

    def encode(self, text: str) -> Encoded:
        """`text` tokenised, its inputs on the model's device."""
        encoded = Encoded.of(self.tokenizer, text, self.max_length)
        encoded.inputs = {key: value.to(self.model.device) for key, value in encoded.inputs.items()}
        return encoded

    # -- scores ------------------------------------------------------------------------------
    def explain(self, encoded: Encoded, label: int, method: str) -> np.ndarray:
        """Piece scores of `method` for `label` (`(seq_len,)`; special tokens 0)."""
        if method not in METHODS:
            raise ValueError(f"unknown explanation method {method!r}; choose from {', '.join(METHODS)}")
        if method in ATTENTION_METHODS and not is_lame(self.model):
            raise ValueError(f"{method!r} needs a LAME model's label attention; {type(self.model).__name__} has none")
        special = np.array([w is None for w in encoded.word_ids])
        if method == "random":
            scores = self.rng.random(len(special))
        elif method in ("attention", "attention_rollout"):
            scores = self._attention(encoded, label, rollout=method == "attention_rollout")
        elif method == "grad_x_input":
            scores = self._gradient(encoded, label, integrated=False)
        elif method == "integrated_gradients":
            scores = self._gradient(encoded, label, integrated=True)
        else:  # attingrad
            scores = self._attention(encoded, label, rollout=False) * np.abs(self._gradient(encoded, label, integrated=False))
        scores = np.asarray(scores, dtype=np.float64)
        scores[special] = 0.0
        return scores

    @torch.no_grad()
    def _attention(self, encoded: Encoded, label: int, rollout: bool) -> np.ndarray:
        output = self.model(**encoded.inputs, output_cross_attentions=True)
        blocks = [weights[0].float().mean(0)[label] for weights in output.cross_attentions]  # (seq_len,) each
        chosen = torch.stack(blocks).mean(0) if rollout else blocks[-1]
        return chosen.cpu().numpy()

    def _gradient(self, encoded: Encoded, label: int, integrated: bool) -> np.ndarray:
        from captum.attr import InputXGradient, IntegratedGradients

        # The logit and the [PAD] baseline are those of the pipelines' own Integrated Gradients
        # (modeling/integrated_gradients.py), so the evaluation measures what they show.
        forward = label_logit(self.model, label, encoded.inputs)
        embed = self.model.get_input_embeddings()
        input_ids = encoded.inputs["input_ids"]
        with torch.no_grad():
            embeddings = embed(input_ids)
        if not integrated:
            attributions = InputXGradient(forward).attribute(embeddings.clone().requires_grad_(True))
            return attributions[0].sum(-1).detach().cpu().numpy()
        special = torch.tensor([[w is None for w in encoded.word_ids]], device=input_ids.device)
        baseline = padding_baseline(embed, input_ids, special, self.tokenizer.pad_token_id)
        with torch.no_grad():
            gap = float((forward(embeddings) - forward(baseline)).abs())
        ig = IntegratedGradients(forward)
        steps = IG_STEPS[0]
        while True:
            attributions, delta = ig.attribute(
                embeddings, baselines=baseline, n_steps=steps, internal_batch_size=16, return_convergence_delta=True
            )
            if abs(float(delta)) <= self.ig_tolerance * max(gap, 1e-6):
                break
            if steps >= self.ig_max_steps:
                self.ig_unconverged += 1
                break
            steps *= 2
        self.ig_steps_used.append(steps)
        return attributions[0].sum(-1).detach().cpu().numpy()

    # -- erasure -----------------------------------------------------------------------------
    @torch.no_grad()
    def probabilities(self, encoded: Encoded, label: int, keep: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """The label's probability for each keep-mask over the words: erased words' pieces are
        deleted from the input (special tokens stay), as ERASER does."""
        ids = encoded.inputs["input_ids"][0].tolist()
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out = []
        for start in range(0, len(keep), batch_size):
            rows = []
            for mask in keep[start : start + batch_size]:
                rows.append([t for t, w in zip(ids, encoded.word_ids) if w is None or mask[w]])
            width = max(len(r) for r in rows)
            input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=self.model.device)
            attention_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=self.model.device)
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            out.append(label_probability(self.model, logits, label).float().cpu().numpy())
        return np.concatenate(out)
