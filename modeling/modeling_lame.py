"""LAME: fine-tuning a BERT encoder with a label-attention head (Nguyen and Ji, 2022).

The encoder reads the document and every label's description. Each description's [CLS] state is
its label's query; a stack of multi-head cross-attention blocks lets every label read the
document's token states; a per-label output layer turns each label's vector into one logit.

This file is shipped with every LAME checkpoint as remote code: it imports only torch,
transformers and its sibling `configuration_lame`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertModel, BertPreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ModelOutput

from .configuration_lame import LameConfig


def padding_fill_value(dtype: torch.dtype) -> float:
    """The score given to padding positions before the softmax: the most negative finite value of `dtype`.

    It must fit the dtype of the tensor it fills: float32's minimum overflows bfloat16 and float16
    (filling raises "value cannot be converted ... without overflow"), while each dtype's own
    minimum still makes `exp(score - max)` exactly 0, i.e. padding gets no attention weight.
    """
    return torch.finfo(dtype).min


@dataclass
class LameClassifierOutput(ModelOutput):
    """Output of [`LameForSequenceClassification`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): classification loss, when `labels` are given.
        logits (`torch.FloatTensor` of shape `(batch, num_labels)`): one score per label, before softmax/sigmoid.
        cross_attentions (`tuple[torch.FloatTensor]`, *optional*): one tensor per label-attention block,
            each of shape `(batch, heads, num_labels, sequence_length)`; rows sum to 1 over the
            document's non-padding tokens. Returned when `output_cross_attentions=True`.
        hidden_states / attentions: the encoder's, when requested.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    cross_attentions: tuple[torch.FloatTensor, ...] | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


class LameLabelBlock(nn.Module):
    """One label-attention block (section 2.3): labels are queries, document tokens keys and values.

    `X = LayerNorm(Q + MultiHead(Q, H, H))`, then `LayerNorm(X + FeedForward(X))`.
    The attention softmax is computed in float32: with hundreds of labels and long documents the
    half-precision scores overflow.
    """

    def __init__(self, config: LameConfig):
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.label_attention_heads
        self.head_dim = hidden // self.num_heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden, config.label_attention_intermediate_size),
            nn.GELU(),
            nn.Linear(config.label_attention_intermediate_size, hidden),
        )
        self.feed_forward_norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.label_attention_dropout)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # (..., length, hidden) -> (..., heads, length, head_dim)
        *lead, length, _ = x.shape
        return x.view(*lead, length, self.num_heads, self.head_dim).transpose(-3, -2)

    def forward(
        self, queries: torch.Tensor, tokens: torch.Tensor, token_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            queries: `(num_labels, hidden)` label embeddings shared by the batch (first block), or
                `(batch, num_labels, hidden)` per-document label states (later blocks).
            tokens: `(batch, seq_len, hidden)` document token states.
            token_mask: `(batch, seq_len)`, 1 for real tokens and 0 for padding.

        Returns:
            `(batch, num_labels, hidden)` updated label states and `(batch, heads, num_labels, seq_len)`
            attention weights.
        """
        batch = tokens.shape[0]
        # Shared queries stay (1, heads, labels, head_dim) and broadcast over the batch: the
        # projection runs once instead of once per document.
        q = self._split_heads(self.query(queries if queries.dim() == 3 else queries.unsqueeze(0)))
        k = self._split_heads(self.key(tokens))
        v = self._split_heads(self.value(tokens))

        padding = (token_mask == 0)[:, None, None, :]
        # Autocast would run this matmul in bf16/fp16 whatever its inputs' dtype; the scores, the
        # mask fill and the softmax stay in float32 so the weights are the same under mixed precision.
        with torch.autocast(device_type=tokens.device.type, enabled=False):
            scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) / math.sqrt(self.head_dim)
            scores = scores.masked_fill(padding, padding_fill_value(scores.dtype))
            weights = torch.softmax(scores, dim=-1)
        context = torch.matmul(self.dropout(weights).to(v.dtype), v)  # (batch, heads, labels, head_dim)
        context = context.transpose(1, 2).reshape(batch, -1, self.num_heads * self.head_dim)

        states = self.attention_norm(queries + self.dropout(self.output(context)))
        states = self.feed_forward_norm(states + self.dropout(self.feed_forward(states)))
        return states, weights


class LameConvFeatures(nn.Module):
    """1-D convolution over token states: the feature extractor of the frozen-BERT baseline."""

    def __init__(self, config: LameConfig):
        super().__init__()
        self.conv = nn.Conv1d(
            config.hidden_size, config.hidden_size, config.cnn_kernel_size, padding=config.cnn_kernel_size // 2
        )

    def forward(self, tokens: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """`(batch, seq_len, hidden)` -> `(batch, seq_len, hidden)`; padding positions are zeroed first."""
        tokens = tokens * token_mask.unsqueeze(-1).to(tokens.dtype)
        return F.relu(self.conv(tokens.transpose(1, 2))).transpose(1, 2)


class LameLabelwiseOutput(nn.Module):
    """Feed-forward layer, then one logit per label from that label's own weight vector (section 2.4)."""

    def __init__(self, config: LameConfig):
        super().__init__()
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.weight = nn.Parameter(torch.empty(config.num_labels, config.hidden_size))
        self.bias = nn.Parameter(torch.empty(config.num_labels))

    def forward(self, label_states: torch.Tensor) -> torch.Tensor:
        """`(batch, num_labels, hidden)` -> `(batch, num_labels)` logits."""
        features = self.dropout(torch.tanh(self.dense(label_states)))
        return (features * self.weight).sum(-1) + self.bias


def f_measure_loss(
    probabilities: torch.Tensor, targets: torch.Tensor, average: str = "micro", eps: float = 1e-8
) -> torch.Tensor:
    """1 minus the mean of the soft positive-class and negative-class F-measures of a mini-batch.

    Probabilities stand in for hard decisions in tp, fp, fn and tn. Two readings of the paper's loss:

    - `"micro"` (the paper's text): tp, fp, fn, tn are summed over every (document, label) cell of
      the batch, giving one positive and one negative F-measure.
    - `"macro"` (the LAME authors' public code): tp, fp, fn, tn are summed over the batch for each
      label, each label gets its own two F-measures, and those are averaged over the labels.

    `eps` keeps a count of zero finite: a label (macro) or batch (micro) with no positive cell has a
    positive-class F-measure of 0, and only its negative-class term carries gradient.

    Args:
        probabilities: `(batch, num_labels)` sigmoid outputs.
        targets: `(batch, num_labels)` 0/1 labels.
        average: `"micro"` or `"macro"`.
    """
    if average not in ("micro", "macro"):
        raise ValueError(f"f_measure_loss: average must be 'micro' or 'macro', got {average!r}.")
    targets = targets.to(probabilities.dtype)
    # Summing over dim 0 (the batch) keeps one count per label; summing everything gives the micro counts.
    dims = (0,) if average == "macro" else (0, 1)
    tp = (probabilities * targets).sum(dims)
    fp = (probabilities * (1 - targets)).sum(dims)
    fn = ((1 - probabilities) * targets).sum(dims)
    tn = ((1 - probabilities) * (1 - targets)).sum(dims)
    f_positive = 2 * tp / (2 * tp + fp + fn + eps)
    f_negative = 2 * tn / (2 * tn + fp + fn + eps)
    return 1 - ((f_positive + f_negative) / 2).mean()


class LameForSequenceClassification(BertPreTrainedModel):
    """BERT with a label-attention head, for multi-class (softmax) or multi-label (sigmoid) classification.

    Warm-start from any BERT-family checkpoint::

        model = LameForSequenceClassification.from_pretrained(
            "dmis-lab/biobert-base-cased-v1.2",
            label_descriptions={"neoplasms": "Tumours and cancers ...", ...},
            problem_type="single_label_classification",
        )

    The encoder weights load unchanged; the head is initialised fresh. The label descriptions are
    tokenized with the checkpoint's own tokenizer and stored in the config, so the saved model is
    self-contained.
    """

    config_class = LameConfig
    # The loss is a mean over the batch and does not use `num_items_in_batch`: tell the Trainer,
    # or gradient accumulation scales gradients by the number of accumulation steps.
    accepts_loss_kwargs = False

    def __init__(self, config: LameConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.feature_head = LameConvFeatures(config) if config.feature_head == "cnn" else None
        self.label_blocks = nn.ModuleList(LameLabelBlock(config) for _ in range(config.num_label_attention_blocks))
        self.classifier = LameLabelwiseOutput(config)
        self._label_cache: tuple[tuple, torch.Tensor] | None = None
        if config.freeze_encoder:
            self.bert.requires_grad_(False)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, LameLabelwiseOutput):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            init.zeros_(module.bias)

    # ----------------------------------------------------------------- label embeddings
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load a LAME checkpoint, or warm-start one from a plain BERT checkpoint.

        When the config has descriptions but no description token ids (a plain BERT checkpoint plus
        `label_descriptions=`), the checkpoint's tokenizer is loaded to tokenize them.
        """
        model = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        if model.config.label_descriptions is not None and model.config.label_description_token_ids is None:
            from transformers import AutoTokenizer

            tokenizer_kwargs = {k: kwargs[k] for k in ("revision", "token", "cache_dir", "local_files_only") if k in kwargs}
            try:
                tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **tokenizer_kwargs)
            except Exception as err:
                raise ValueError(
                    f"The label descriptions must be tokenized, but no tokenizer could be loaded from "
                    f"{pretrained_model_name_or_path!r} ({err}). Call "
                    "`model.set_label_descriptions(descriptions, tokenizer)` with the encoder's tokenizer."
                ) from err
            model.config.tokenize_label_descriptions(tokenizer)
        if model.config.freeze_encoder:
            model.bert.requires_grad_(False)  # loading weights re-creates the parameters
            model.bert.eval()
        return model

    def set_label_descriptions(self, descriptions: list[str], tokenizer) -> None:
        """Replace the label descriptions (same label count) and tokenize them with `tokenizer`."""
        if len(descriptions) != self.config.num_labels:
            raise ValueError(f"Got {len(descriptions)} descriptions for {self.config.num_labels} labels.")
        self.config.label_descriptions = list(descriptions)
        self.config.tokenize_label_descriptions(tokenizer)
        self.config._validate()
        self.clear_label_cache()

    def clear_label_cache(self) -> None:
        """Forget cached label embeddings; the next forward pass encodes the descriptions again."""
        self._label_cache = None

    def train(self, mode: bool = True):
        self.clear_label_cache()
        super().train(mode)
        if self.config.freeze_encoder:
            # A frozen encoder is a feature extractor: no dropout noise in its features.
            self.bert.eval()
        return self

    def load_state_dict(self, *args, **kwargs):
        self.clear_label_cache()
        return super().load_state_dict(*args, **kwargs)

    def _description_batch(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        token_ids = self.config.label_description_token_ids
        if token_ids is None:
            raise ValueError(
                "This LAME model has no tokenized label descriptions. Build it with "
                "`LameForSequenceClassification.from_pretrained(<checkpoint>, label_descriptions=[...])` or call "
                "`model.set_label_descriptions(descriptions, tokenizer)`."
            )
        width = max(len(ids) for ids in token_ids)
        pad = self.config.pad_token_id or 0
        input_ids = torch.full((len(token_ids), width), pad, dtype=torch.long, device=device)
        mask = torch.zeros((len(token_ids), width), dtype=torch.long, device=device)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long, device=device)
            mask[row, : len(ids)] = 1
        return input_ids, mask

    def _weights_key(self) -> tuple:
        # In-place updates (optimizer steps, load_state_dict, copy_) bump a tensor's version counter;
        # a replaced parameter has a new storage pointer. Either change invalidates the cache.
        # Re-tokenizing the descriptions assigns a new list. The key holds the list itself: tuple
        # equality tries identity first (cheap in every eval forward), and holding a reference keeps
        # a freed list's id from being reused by a new one.
        return tuple((p.data_ptr(), p._version) for p in self.bert.parameters()) + (
            self.config.label_description_token_ids,
        )

    def encode_label_descriptions(self) -> torch.Tensor:
        """The [CLS] state of every label description: `(num_labels, hidden)`.

        In training with `label_embedding_mode="joint"` (and an unfrozen encoder) the descriptions
        are encoded in every call, with gradient, once for the whole batch: every document sees
        the same label matrix, so this equals the paper's per-document encoding at 1/batch of the
        cost. Otherwise the result is computed without gradient and cached until the encoder's
        weights change, the descriptions change, or the mode switches.
        """
        device = self.bert.embeddings.word_embeddings.weight.device
        trainable = self.training and self.config.label_embedding_mode == "joint" and not self.config.freeze_encoder
        if trainable:
            input_ids, mask = self._description_batch(device)
            return self.bert(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, 0]

        key = self._weights_key()
        if self._label_cache is not None and self._label_cache[0] == key:
            return self._label_cache[1]
        input_ids, mask = self._description_batch(device)
        with torch.no_grad():
            embeddings = self.bert(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, 0]
        # Encoded under autocast the states are bf16/fp16; a cached copy in the weights' dtype also
        # serves a later call without autocast (a Linear refuses a half input with float32 weights).
        embeddings = embeddings.to(self.label_blocks[0].query.weight.dtype)
        self._label_cache = (key, embeddings)
        return embeddings

    # ----------------------------------------------------------------------- forward
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_cross_attentions: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> LameClassifierOutput | tuple:
        r"""
        Args:
            input_ids: `(batch, seq_len)` document token ids.
            attention_mask: `(batch, seq_len)`, 1 for tokens, 0 for padding.
            labels: `(batch,)` class ids for single-label problems, or `(batch, num_labels)` 0/1
                floats for multi-label problems.
            output_cross_attentions: also return the label-attention weights of every block,
                `(batch, heads, num_labels, seq_len)` each. (The name avoids "label": the Trainer
                treats every forward argument containing "label" as a target column.)

        Returns:
            [`LameClassifierOutput`] with `logits` of shape `(batch, num_labels)`.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        encoder_out = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        tokens = encoder_out.last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
        if self.feature_head is not None:
            tokens = self.feature_head(tokens, attention_mask)

        states = self.encode_label_descriptions()
        cross_attentions = []
        for block in self.label_blocks:
            states, weights = block(states, tokens, attention_mask)
            cross_attentions.append(weights)
        logits = self.classifier(states)

        loss = None
        if labels is not None:
            loss = self.compute_loss(logits, labels)

        output = LameClassifierOutput(
            loss=loss,
            logits=logits,
            cross_attentions=tuple(cross_attentions) if output_cross_attentions else None,
            hidden_states=encoder_out.hidden_states,
            attentions=encoder_out.attentions,
        )
        return output if return_dict else output.to_tuple()

    def compute_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (single-label), binary cross-entropy or F-measure loss (multi-label).

        When `config.problem_type` is unset it is inferred from the labels, as in transformers'
        own classifiers: integer class ids mean single-label, anything else multi-label.
        """
        if self.config.problem_type is None:
            integer = labels.dtype in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8)
            self.config.problem_type = (
                "single_label_classification" if integer and labels.dim() == 1 else "multi_label_classification"
            )
        if self.config.problem_type == "single_label_classification":
            return F.cross_entropy(logits.float(), labels.view(-1).long())
        targets = labels.to(torch.float32)
        if self.config.loss == "f_measure":
            return f_measure_loss(torch.sigmoid(logits.float()), targets, average=self.config.f_measure_average)
        pos_weight = None
        if self.config.pos_weight is not None:
            pos_weight = torch.tensor(self.config.pos_weight, dtype=torch.float32, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=pos_weight)
