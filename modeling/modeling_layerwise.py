"""Layer-wise guided training of BERT for hierarchical multi-label classification.

Manginas, Chalkidis and Malakasiotis (2020), "Layer-wise Guided Training for BERT: Learning
Incrementally Refined Document Representations". Each hierarchy level n has its own classifier
f_n = sigmoid(W_n [c_i; c_j; ...] + b_n) on the [CLS] vectors of the encoder layers assigned to that
level (`LayerwiseConfig.layer_assignment`), trained with a per-level binary cross-entropy weighted
by `LayerwiseConfig.level_loss_weights` (|L_n| / |L| by default, appendix B).

This file is shipped with every checkpoint as remote code: it imports only `torch`, `transformers`
and its sibling `configuration_layerwise`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertPreTrainedModel
from transformers.utils import ModelOutput

from .configuration_layerwise import LayerwiseConfig
from .decision_thresholds import config_thresholds
from .encoders import ENCODER_ATTRIBUTE, build_encoder, load_with_encoder, run_encoder, selected_hidden_states
from .saved_folder import CompleteFolderMixin
from .segments import DocumentSegments, masked_mean, split_for_encoder


@dataclass
class LayerwiseClassifierOutput(ModelOutput):
    """Output of [`LayerwiseBertForHierarchicalClassification`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            Sum over levels of `level_loss_weights[n] * BCE(level n)`, each BCE averaged over the batch
            and the level's labels; returned when `labels` are given. Always on the raw scores.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Scores of all labels in label-id order (pre-sigmoid), so `torch.sigmoid(logits)` gives
            the probabilities and transformers' text-classification pipeline works unchanged. Capped
            by the parents' scores when hierarchical consistency is applied.
        level_logits (`tuple[torch.FloatTensor]`, one per level):
            Level n's scores, shape `(batch_size, |L_n|)`, its labels in ascending id order
            (`config.level_label_ids()[n - 1]`).
        hidden_states (`tuple[torch.FloatTensor]`, *optional*):
            Embedding output plus each layer's output, `(batch_size, sequence_length, hidden_size)`
            each; returned with `output_hidden_states=True` (or `config.output_hidden_states`), only
            the selected ones with `output_hidden_states=[indices]` (`None` in the other places).
        attentions (`tuple[torch.FloatTensor]`, *optional*):
            Attention weights per layer, `(batch_size, num_heads, sequence_length, sequence_length)`;
            needs `output_attentions=True` and the eager attention implementation.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    level_logits: tuple[torch.FloatTensor, ...] | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class LevelPrediction:
    """Predictions of one hierarchy level for a batch.

    Attributes:
        level: 1-based hierarchy level.
        label_ids: global ids of the level's labels, ascending (the column order below).
        labels: their names.
        probabilities: `(batch_size, len(label_ids))` sigmoid scores.
        predicted: `(batch_size, len(label_ids))` booleans, `probabilities >= threshold`.
    """

    level: int
    label_ids: list[int]
    labels: list[str]
    probabilities: torch.Tensor
    predicted: torch.Tensor


class LayerwiseBertForHierarchicalClassification(CompleteFolderMixin, BertPreTrainedModel):
    """An encoder with one classifier per hierarchy level on the first-token (or mean) vectors of that
    level's layers. The encoder is any `AutoModel` that returns `hidden_states` (BERT, RoBERTa,
    DeBERTa-v2, ELECTRA, XLM-R, ModernBERT, ...), built from `config.encoder` as `self.backbone`.

    Warm start from any encoder checkpoint:
    `LayerwiseBertForHierarchicalClassification.from_pretrained(<bert folder or Hub id>, label_levels=[...],
    id2label={...}, label_parents=[...], variant="last_six")`: the encoder loads unchanged, the
    level classifiers are new.
    """

    config_class = LayerwiseConfig
    base_model_prefix = ENCODER_ATTRIBUTE
    # The loss is a fixed weighted mean; it does not use `num_items_in_batch`, so the Trainer must not
    # assume it does (otherwise accumulated gradients are scaled wrongly, see transformers #47688).
    accepts_loss_kwargs = False
    # Plain BERT checkpoints carry a pooler and pre-training heads that this model does not use.
    _keys_to_ignore_on_load_unexpected = [r"pooler\.", r"^cls\."]

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load a layer-wise checkpoint (of any release), or warm-start one from a plain encoder
        checkpoint of any family ([`load_with_encoder`])."""
        model, info = load_with_encoder(cls, pretrained_model_name_or_path, model_args, kwargs)
        return (model, info) if kwargs.get("output_loading_info") else model

    def __init__(self, config: LayerwiseConfig):
        super().__init__(config)
        if config.label_levels is None:
            raise ValueError(
                "LayerwiseBertForHierarchicalClassification needs LayerwiseConfig.label_levels (the hierarchy level "
                "of each label), e.g. from_pretrained(<checkpoint>, label_levels=[1, 1, 2, ...])."
            )
        self.config = config
        self.num_labels = config.num_labels
        self.backbone = build_encoder(config.encoder)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        # Plain Python structures (not buffers): they derive from the config and must survive
        # from_pretrained's meta-device construction untouched.
        self._level_ids = config.level_label_ids()
        self._level_layers = [config.layer_assignment[n] for n in range(1, config.num_levels + 1)]
        self._used_layers = sorted({layer for layers in self._level_layers for layer in layers})
        self.classifiers = nn.ModuleList(
            nn.Linear(config.hidden_size * len(layers), len(ids)) for layers, ids in zip(self._level_layers, self._level_ids)
        )
        self._index_cache: dict[torch.device, tuple[torch.Tensor, list[torch.Tensor]]] = {}
        self._consistency_cache: dict[torch.device, list[tuple[torch.Tensor, torch.Tensor, int]]] = {}
        self.post_init()

    @torch.no_grad()
    def initialize_label_biases(self, log_odds: torch.Tensor) -> None:
        """Start each level classifier's bias at the `log_odds` `(num_labels,)` of its labels (e.g. the
        log-odds of each label's training frequency), so that the untrained classifiers predict the label
        prior instead of 0.5 for every label."""
        if log_odds.shape != (self.num_labels,):
            raise ValueError(f"initialize_label_biases: expected {self.num_labels} log-odds, got {tuple(log_odds.shape)}.")
        for classifier, ids in zip(self.classifiers, self._level_ids):
            classifier.bias.copy_(log_odds[list(ids)].to(classifier.bias.dtype))

    # ------------------------------------------------------------------ indices
    def _indices(self, device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(position of each global label in the level-by-level concatenation, ids of each level)."""
        if device not in self._index_cache:
            order = [i for ids in self._level_ids for i in ids]
            position = [0] * len(order)
            for pos, label in enumerate(order):
                position[label] = pos
            self._index_cache[device] = (
                torch.tensor(position, dtype=torch.long, device=device),
                [torch.tensor(ids, dtype=torch.long, device=device) for ids in self._level_ids],
            )
        return self._index_cache[device]

    def _consistency_plan(self, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per generation after the roots: child ids `(C,)`, their parent ids `(C * P,)` (each child's
        list padded to P by repeating its first parent, which leaves the minimum unchanged), and P."""
        if device not in self._consistency_cache:
            if self.config.label_parents is None:
                raise ValueError("Hierarchical consistency needs LayerwiseConfig.label_parents.")
            parents = self.config.label_parents
            plan = []
            for generation in self.config.consistency_generations()[1:]:
                width = max(len(parents[c]) for c in generation)
                padded = [p for c in generation for p in parents[c] + parents[c][:1] * (width - len(parents[c]))]
                plan.append(
                    (
                        torch.tensor(generation, dtype=torch.long, device=device),
                        torch.tensor(padded, dtype=torch.long, device=device),
                        width,
                    )
                )
            self._consistency_cache[device] = plan
        return self._consistency_cache[device]

    def apply_hierarchical_consistency(self, logits: torch.Tensor) -> torch.Tensor:
        """Cap every label's score by its parents' capped scores (our addition, not in the paper).

        `s'(l) = min(s(l), min_{p in parents(l)} s'(p))`, parents first, so for any threshold a label
        is predicted only if all its ancestors are. Works on logits or probabilities alike.

        Args:
            logits: `(batch_size, num_labels)` in label-id order.
        Returns:
            A new `(batch_size, num_labels)` tensor.
        """
        capped = logits.clone()
        for children, parents, width in self._consistency_plan(logits.device):
            # Parents of generation g are in earlier generations, already capped.
            parent_scores = capped.index_select(1, parents).view(capped.shape[0], len(children), width)
            capped.index_copy_(1, children, torch.minimum(capped.index_select(1, children), parent_scores.amin(dim=-1)))
        return capped

    # ------------------------------------------------------------------ forward
    def score_levels(
        self,
        hidden_states: tuple[torch.Tensor, ...],
        attention_mask: torch.Tensor | None = None,
        segments: DocumentSegments | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The level classifiers on the encoder's hidden states (no consistency, no loss).

        Args:
            hidden_states: the encoder's `output_hidden_states`: embedding output first, then layer
                1..N, each `(batch_size, sequence_length, hidden_size)`, or `(num_segments, width,
                hidden_size)` for segmented documents.
            attention_mask: `(batch_size, sequence_length)` (or `(num_segments, width)`), 1 for
                tokens and 0 for padding; read by `layer_pooling="mean"` (all positions count when
                it is None).
            segments: the documents' segments when `config.max_document_length` is set: each
                layer's per-segment vectors are pooled over the document's segments as
                `config.segment_pooling` says.
        Returns:
            (per-level logits `(batch_size, |L_n|)`, all logits `(batch_size, num_labels)` in id order).
        """

        def document_vector(states: torch.Tensor) -> torch.Tensor:
            vector = self.pool_layer(states, attention_mask)
            return vector if segments is None else segments.pool(vector, self.config.segment_pooling)

        # hidden_states[0] is the embedding output, hidden_states[i] the output of layer i.
        pooled = {layer: self.dropout(document_vector(hidden_states[layer])) for layer in self._used_layers}
        level_logits = [
            head(torch.cat([pooled[layer] for layer in layers], dim=-1) if len(layers) > 1 else pooled[layers[0]])
            for head, layers in zip(self.classifiers, self._level_layers)
        ]
        position, _ = self._indices(level_logits[0].device)
        return level_logits, torch.cat(level_logits, dim=-1).index_select(1, position)

    def pool_layer(self, states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """One layer's document vector, `(batch_size, hidden_size)`, as `config.layer_pooling` says.

        `"cls"`: the state of the first token, the sequence-summary token the encoder's tokenizer puts
        first ([CLS] for BERT, ELECTRA, DeBERTa and ModernBERT, `<s>` for RoBERTa and XLM-R). `"mean"`: the mean of the token states where
        `attention_mask` is 1 (padding never counts).
        """
        if self.config.layer_pooling == "cls":
            return states[:, 0]
        if attention_mask is None:
            return states.mean(dim=1)
        return masked_mean(states, attention_mask)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        hierarchical_consistency: bool | None = None,
        **kwargs,
    ) -> LayerwiseClassifierOutput | tuple:
        """Score all labels; each level from the pooled vectors of its assigned layers.

        Args:
            input_ids / attention_mask / token_type_ids / position_ids: `(batch_size, sequence_length)`;
                up to `config.max_document_length` when set (segmented, see [`encode_documents`]).
            inputs_embeds: `(batch_size, sequence_length, hidden_size)`, instead of `input_ids`.
            labels: `(batch_size, num_labels)` multi-hot targets (0/1) in label-id order.
            hierarchical_consistency: cap children by parents in `logits`/`level_logits`. Defaults to
                `config.hierarchical_consistency` in eval mode and to `False` in training mode.

        Returns:
            [`LayerwiseClassifierOutput`]: `logits` `(batch_size, num_labels)`, `level_logits` one
            `(batch_size, |L_n|)` per level, `loss` `()` when `labels` are given.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        want_hidden = output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        encoder_output, mask, segments = self.encode_documents(
            input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_attentions, **kwargs
        )
        level_logits, logits = self.score_levels(encoder_output.hidden_states, mask, segments)
        loss = self.compute_loss(level_logits, logits, labels) if labels is not None else None
        if hierarchical_consistency is None:
            hierarchical_consistency = self.config.hierarchical_consistency and not self.training
        if hierarchical_consistency:
            logits = self.apply_hierarchical_consistency(logits)
            level_logits = [logits.index_select(1, ids) for ids in self._indices(logits.device)[1]]
        output = LayerwiseClassifierOutput(
            loss=loss,
            logits=logits,
            level_logits=tuple(level_logits),
            hidden_states=selected_hidden_states(encoder_output.hidden_states, want_hidden),
            attentions=encoder_output.attentions,
        )
        return output if return_dict else output.to_tuple()

    def encode_documents(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        output_attentions: bool | None,
        **kwargs,
    ) -> tuple[ModelOutput, torch.Tensor | None, DocumentSegments | None]:
        """Run the encoder with every layer's hidden states (the level heads read intermediate layers).

        With `config.max_document_length`, the `(batch_size, sequence_length)` inputs may reach that
        length (tokenize with `max_length=config.max_document_length`, right padding): each document is
        split into segments of `max_position_embeddings` pieces, each with its own [CLS] and [SEP]
        (`segments.py`), and all segments of the batch are encoded as one batch. `position_ids` and
        `inputs_embeds` are refused then, and the hidden states and attentions are per segment,
        `(num_segments, width, ...)`.

        Returns:
            (the encoder's output, the attention mask it read `(batch_size or num_segments, width)`,
            the documents' segments or None).
        """
        if output_attentions is None:
            # An explicit None would stop BERT from falling back to its config: resolve against ours here.
            output_attentions = self.config.output_attentions
        segments, encoder_inputs = split_for_encoder(
            self.config, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds
        )
        encoder_output = run_encoder(
            self.backbone, **encoder_inputs, output_attentions=output_attentions, output_hidden_states=True, **kwargs
        )
        return encoder_output, encoder_inputs["attention_mask"], segments

    def compute_loss(self, level_logits: list[torch.Tensor], logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """`sum_n level_loss_weights[n] * BCE(level n)`, on the raw (unconstrained) scores.

        Args:
            level_logits: one `(batch_size, |L_n|)` per level, as [`score_levels`] returns them.
            logits: `(batch_size, num_labels)`, all levels in label-id order (checks the labels' shape).
            labels: `(batch_size, num_labels)` multi-hot targets in label-id order.
        """
        if labels.shape != logits.shape:
            raise ValueError(
                f"labels must be multi-hot of shape (batch_size, num_labels)={tuple(logits.shape)}, "
                f"got {tuple(labels.shape)}."
            )
        # The loss in float32 whatever the logits' dtype: bf16/fp16 targets and sums lose precision.
        labels = labels.float()
        _, level_ids = self._indices(logits.device)
        return sum(
            weight * F.binary_cross_entropy_with_logits(scores.float(), labels.index_select(1, ids))
            for weight, scores, ids in zip(self.config.level_loss_weights, level_logits, level_ids)
        )

    # --------------------------------------------------------------- inference
    def logits_to_levels(
        self, logits: torch.Tensor, threshold: float | None = None, hierarchical_consistency: bool | None = None
    ) -> list[LevelPrediction]:
        """Split `(batch_size, num_labels)` logits into per-level probabilities and thresholded labels.

        `threshold` defaults to the config's decision thresholds (`label_thresholds`, else
        `decision_threshold`). `hierarchical_consistency` defaults to
        `config.hierarchical_consistency`; applying it to logits that are already consistent changes
        nothing.
        """
        if hierarchical_consistency is None:
            hierarchical_consistency = self.config.hierarchical_consistency
        if hierarchical_consistency:
            logits = self.apply_hierarchical_consistency(logits)
        probabilities = torch.sigmoid(logits.float())
        thresholds = config_thresholds(self.config, threshold).to(logits.device)  # (num_labels,)
        names = self.config.labels
        _, level_ids = self._indices(logits.device)
        return [
            LevelPrediction(
                level=level,
                label_ids=list(ids_list),
                labels=[names[i] for i in ids_list],
                probabilities=probabilities.index_select(1, ids),
                predicted=probabilities.index_select(1, ids) >= thresholds.index_select(0, ids),
            )
            for level, (ids_list, ids) in enumerate(zip(self._level_ids, level_ids), start=1)
        ]

    @torch.no_grad()
    def predict_levels(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        threshold: float | None = None,
        hierarchical_consistency: bool | None = None,
        **inputs,
    ) -> list[LevelPrediction]:
        """Per-level probabilities and labels for a tokenized batch (call `model.eval()` first).

        Args:
            input_ids / attention_mask: `(batch_size, sequence_length)`; other encoder inputs
                (`token_type_ids`, ...) as keyword arguments.
            threshold: a label is predicted when its probability is at least this (default: the
                config's decision thresholds).
            hierarchical_consistency: defaults to `config.hierarchical_consistency`.
        Returns:
            One [`LevelPrediction`] per level, level 1 first.
        """
        output = self(input_ids, attention_mask=attention_mask, hierarchical_consistency=False, return_dict=True, **inputs)
        return self.logits_to_levels(output.logits, threshold, hierarchical_consistency)


__all__ = ["LayerwiseBertForHierarchicalClassification", "LayerwiseClassifierOutput", "LevelPrediction"]
