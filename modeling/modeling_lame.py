"""LAME: fine-tuning a BERT encoder with a label-attention head (Nguyen and Ji, 2022).

The encoder reads the document and every label's description. Each description's [CLS] state (or
the mean of its token states, `config.pools_descriptions`) is its label's query; a stack of multi-head cross-attention blocks lets every label read the
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
from .segments import DocumentSegments, masked_mean, split_for_encoder


def length_chunks(lengths: list[int], max_rows: int | None = None) -> list[list[int]]:
    """Positions of `lengths` grouped for padded batches: sorted by length, a new group starting when a
    length is more than twice the group's shortest (so at least half of each padded batch is real
    tokens) or when the group holds `max_rows` (None: no row limit).

    >>> length_chunks([3, 40, 4, 9, 5], max_rows=None)
    [[0, 2, 4], [3], [1]]
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    chunks: list[list[int]] = []
    for position in order:
        if not chunks or lengths[position] > 2 * lengths[chunks[-1][0]] or (max_rows and len(chunks[-1]) >= max_rows):
            chunks.append([])
        chunks[-1].append(position)
    return chunks


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

    `X = LayerNorm(Q + MultiHead(Q, H, H))`, then `LayerNorm(X + FeedForward(X))` (the feed-forward
    step is skipped with `config.light_label_head`).
    Without attention weights to return, the attention runs as one fused
    `scaled_dot_product_attention` call: the explicit path materialises, masks, softmaxes and copies
    a (batch, heads, labels, tokens) tensor, which at thousands of labels made the head about 3x
    slower per multiply-add than the encoder. When the weights are returned (explanations), the
    softmax is computed in float32: with hundreds of labels and long documents half-precision
    scores overflow.
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
        self.feed_forward = None
        if not config.light_label_head:
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

    def project_tokens(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(batch, seq_len, hidden)` token states -> keys and values, `(batch, heads, seq_len, head_dim)` each.

        Computed once per forward pass and shared by every chunk of labels.
        """
        return self._split_heads(self.key(tokens)), self._split_heads(self.value(tokens))

    def attend(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        token_mask: torch.Tensor,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Args:
            queries: `(num_labels, hidden)` label embeddings shared by the batch (first block), or
                `(batch, num_labels, hidden)` per-document label states (later blocks, shortlists).
            keys, values: `(batch, heads, seq_len, head_dim)` from [`project_tokens`].
            token_mask: `(batch, seq_len)`, 1 for real tokens and 0 for padding.
            need_weights: return the attention weights (slower: see the class docstring).

        Returns:
            `(batch, num_labels, hidden)` updated label states and `(batch, heads, num_labels, seq_len)`
            attention weights (`None` unless `need_weights`).
        """
        batch = keys.shape[0]
        # Shared queries stay (1, heads, labels, head_dim) and broadcast over the batch: the
        # projection runs once instead of once per document.
        q = self._split_heads(self.query(queries if queries.dim() == 3 else queries.unsqueeze(0)))
        keep = (token_mask != 0)[:, None, None, :]
        weights = None
        if need_weights:
            # Autocast would run this matmul in bf16/fp16 whatever its inputs' dtype; the scores, the
            # mask fill and the softmax stay in float32 so the weights are the same under mixed precision.
            with torch.autocast(device_type=keys.device.type, enabled=False):
                scores = torch.matmul(q.float(), keys.float().transpose(-1, -2)) / math.sqrt(self.head_dim)
                scores = scores.masked_fill(~keep, padding_fill_value(scores.dtype))
                weights = torch.softmax(scores, dim=-1)
            context = torch.matmul(self.dropout(weights).to(values.dtype), values)
        else:
            # A boolean mask keeps the fused kernel dtype-safe under bf16/fp16 as well.
            context = F.scaled_dot_product_attention(
                q.expand(batch, -1, -1, -1),
                keys,
                values,
                attn_mask=keep,
                dropout_p=self.dropout.p if self.training else 0.0,
            )
        context = context.transpose(1, 2).reshape(batch, -1, self.num_heads * self.head_dim)

        states = self.attention_norm(queries + self.dropout(self.output(context)))
        if self.feed_forward is not None:
            states = self.feed_forward_norm(states + self.dropout(self.feed_forward(states)))
        return states, weights

    def forward(
        self, queries: torch.Tensor, tokens: torch.Tensor, token_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One block over all labels, with weights: `queries` `(num_labels, hidden)` or
        `(batch, num_labels, hidden)`, `tokens` `(batch, seq_len, hidden)`, `token_mask` `(batch, seq_len)`
        -> `(batch, num_labels, hidden)` states and `(batch, heads, num_labels, seq_len)` weights."""
        keys, values = self.project_tokens(tokens)
        return self.attend(queries, keys, values, token_mask, need_weights=True)


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
    """Feed-forward layer, then one logit per label from that label's own weight vector (section 2.4).

    With `config.light_label_head` the feed-forward layer is dropped and the label states go
    straight to the per-label dot product.
    """

    def __init__(self, config: LameConfig):
        super().__init__()
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dense = None if config.light_label_head else nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.weight = nn.Parameter(torch.empty(config.num_labels, config.hidden_size))
        self.bias = nn.Parameter(torch.empty(config.num_labels))

    def forward(
        self,
        label_states: torch.Tensor,
        label_ids: torch.Tensor | slice | None = None,
        label_embeddings: torch.Tensor | None = None,
        document_vectors: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`(batch, k, hidden)` -> `(batch, k)` logits.

        `label_ids` says which labels the k states belong to: `None` (all labels, in id order), a
        slice, `(k,)` ids shared by the batch, or `(batch, k)` ids per document (shortlists).
        `label_embeddings` and `document_vectors` are not read (the interface is [`LameDescriptionOutput`]'s).
        """
        features = label_states if self.dense is None else torch.tanh(self.dense(label_states))
        features = self.dropout(features)
        weight = self.weight if label_ids is None else self.weight[label_ids]
        bias = self.bias if label_ids is None else self.bias[label_ids]
        return (features * weight).sum(-1) + bias


class LameDescriptionOutput(nn.Module):
    """Label-agnostic output layer: each label's weight row and bias are computed from its description.

    `logit(d, l) = <f(s_dl), W e_l> / sqrt(hidden) + <a, e_l> + b`, where `s_dl` is label l's vector
    after label attention over document d, `f` the same dense+tanh (or identity, with
    `config.light_label_head`) and dropout as [`LameLabelwiseOutput`], and `e_l` the embedding of
    l's description (the first block's query). It is the label-specific layer with its free row
    `w_l` replaced by `W e_l` and its free bias by `<a, e_l> + b`: a bilinear form between what the
    label read in the document and what its description says. No parameter has a label dimension,
    so any description, seen in training or not, gets a score. The `1/sqrt(hidden)` keeps the
    initial logits at the scale of the label-specific layer's (its rows start at std
    `initializer_range`; `W e_l` starts about `sqrt(hidden)` times larger).
    """

    def __init__(self, config: LameConfig):
        super().__init__()
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dense = None if config.light_label_head else nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.label_weight = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.label_bias = nn.Linear(config.hidden_size, 1)
        # `config.similarity_term`: a learned multiple of the document-description cosine.
        self.similarity_scale = nn.Parameter(torch.tensor(config.similarity_scale)) if config.uses_similarity_term else None

    def forward(
        self,
        label_states: torch.Tensor,
        label_ids: torch.Tensor | slice | None,
        label_embeddings: torch.Tensor,
        document_vectors: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`label_states` `(batch, k, hidden)` and the k labels' description embeddings, `(k, hidden)` or
        `(batch, k, hidden)` -> `(batch, k)` logits. `label_ids` is not read: the description says it all.
        `document_vectors` `(batch, hidden)`: the documents' mean token states, read with `config.uses_similarity_term`."""
        features = label_states if self.dense is None else torch.tanh(self.dense(label_states))
        features = self.dropout(features)
        embeddings = label_embeddings.to(features.dtype)
        weight = self.label_weight(embeddings)  # (k, hidden) or (batch, k, hidden)
        bias = self.label_bias(embeddings).squeeze(-1)
        logits = (features * weight).sum(-1) / math.sqrt(features.shape[-1]) + bias
        if self.similarity_scale is not None:
            if document_vectors is None:
                raise ValueError("LameDescriptionOutput: similarity_term needs the documents' mean token states.")
            cosine = F.cosine_similarity(document_vectors.to(features.dtype).unsqueeze(-2), embeddings, dim=-1)
            logits = logits + self.similarity_scale.to(features.dtype) * cosine
        return logits


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

    def __init__(self, config: LameConfig):
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


def check_label_names(descriptions: dict[str, str], where: str) -> list[str]:
    """The names of a `{label: description}` set, in order, after checking each is a non-empty string,
    distinct from the others once surrounding spaces are stripped, with a non-empty string description.
    Errors name `where` and the label at fault."""
    if not descriptions:
        raise ValueError(f"{where}: the label set is empty; give at least one {{label: description}}.")
    seen: dict[str, str] = {}
    for name, text in descriptions.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: label name {name!r} is empty or not a string.")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: the description of label {name!r} is empty; every label needs one.")
        key = name.strip()
        if key in seen:
            raise ValueError(f"{where}: label {name!r} appears twice (also as {seen[key]!r}).")
        seen[key] = name
    return list(descriptions)


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


def f_measure_loss(
    probabilities: torch.Tensor,
    targets: torch.Tensor,
    average: str = "micro",
    eps: float = 1e-8,
    label_weights: torch.Tensor | None = None,
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
        label_weights: `(num_labels,)`, optional: how many labels each column stands for (sampled
            training weights its random negatives so the counts estimate the all-label ones). Micro
            counts are weighted sums; the macro mean is a weighted mean. `None` means all ones.
    """
    if average not in ("micro", "macro"):
        raise ValueError(f"f_measure_loss: average must be 'micro' or 'macro', got {average!r}.")
    targets = targets.to(probabilities.dtype)
    # Summing over dim 0 (the batch) keeps one count per label; summing everything gives the micro counts.
    dims = (0,) if average == "macro" else (0, 1)
    cell_weights = 1.0
    if label_weights is not None and average == "micro":
        cell_weights = label_weights.to(probabilities.dtype)
    tp = (cell_weights * probabilities * targets).sum(dims)
    fp = (cell_weights * probabilities * (1 - targets)).sum(dims)
    fn = (cell_weights * (1 - probabilities) * targets).sum(dims)
    tn = (cell_weights * (1 - probabilities) * (1 - targets)).sum(dims)
    f_positive = 2 * tp / (2 * tp + fp + fn + eps)
    f_negative = 2 * tn / (2 * tn + fp + fn + eps)
    per_label = (f_positive + f_negative) / 2
    if label_weights is not None and average == "macro":
        weights = label_weights.to(per_label.dtype)
        return 1 - (per_label * weights).sum() / weights.sum()
    return 1 - per_label.mean()


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
        self.classifier = LameDescriptionOutput(config) if config.label_agnostic else LameLabelwiseOutput(config)
        self.first_stage = LameFirstStage(config) if config.uses_first_stage else None
        self._label_cache: tuple[tuple, torch.Tensor] | None = None
        # Training-time cache of every label's embedding under sampling: (parameter storages and
        # descriptions it was encoded for, parameter versions last seen, optimizer steps since the
        # encoding, embeddings). Separate from the eval cache, which is always exact.
        self._training_cache: dict | None = None
        self.label_cache_refreshes = 0  # how often the training cache was (re-)encoded
        if config.freeze_encoder:
            self.bert.requires_grad_(False)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, LameLabelwiseOutput):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            init.zeros_(module.bias)
        if isinstance(module, LameFirstStage) and module.bias is not None:
            init.zeros_(module.bias)
        if isinstance(module, LameDescriptionOutput) and module.similarity_scale is not None:
            init.constant_(module.similarity_scale, self.config.similarity_scale)

    @torch.no_grad()
    def initialize_label_biases(self, log_odds: torch.Tensor) -> None:
        """Start every label's output (and first-stage) bias at `log_odds` `(num_labels,)`, e.g. the
        log-odds of its training frequency, so that an untrained head predicts the label prior.

        With thousands of rare labels, zero biases start every probability at 0.5 and the first
        epochs go to pushing them down. A label-agnostic head has no per-label bias: its shared
        intercept starts at the mean of `log_odds`, a base rate that also applies to unseen labels.
        """
        if log_odds.shape != (self.config.num_labels,):
            raise ValueError(f"initialize_label_biases: expected {self.config.num_labels} log-odds, got {tuple(log_odds.shape)}.")
        for layer in (self.classifier, self.first_stage):
            if layer is None:
                continue
            if getattr(layer, "bias", None) is not None:
                layer.bias.copy_(log_odds.to(layer.bias.dtype))
            else:
                layer.label_bias.bias.fill_(log_odds.mean().item())

    # ----------------------------------------------------------------- label embeddings
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load a LAME checkpoint, or warm-start one from a plain BERT checkpoint.

        When the config has descriptions but no description token ids (a plain BERT checkpoint plus
        `label_descriptions=`), the checkpoint's tokenizer is loaded to tokenize them.
        """
        loaded = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        # `output_loading_info=True` makes the parent return `(model, loading_info)`: passed on as is.
        model = loaded[0] if isinstance(loaded, tuple) else loaded
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
        return loaded

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained`; the folder also gets `pipeline_lame.py`, which the config's
        `custom_pipelines` entry names, so that it loads with `pipeline(model=folder, trust_remote_code=True)`
        once `tokenizer.save_pretrained(folder)` has added the tokenizer."""
        # transformers copies a model file's single-dot imports with its remote code: this import is
        # what puts the pipeline file in the folder (imported here, as the pipeline module imports this one).
        from .pipeline_lame import LameClassificationPipeline  # noqa: F401

        return super().save_pretrained(save_directory, *args, **kwargs)

    def set_label_descriptions(self, descriptions: list[str] | dict[str, str], tokenizer) -> None:
        """Replace the label descriptions and tokenize them with `tokenizer` (the encoder's).

        A list keeps the label names and gives one description per label, in id order. A
        `{label: description}` dict is the new label set in id order: with
        `config.label_scoring="label_agnostic"` it may have other names and another count than the
        training set (unseen labels are scored from their descriptions); a label-specific head has
        one output row per training label and accepts only its own labels, in their order. The
        config's label maps, per-label thresholds and `pos_weight` follow
        ([`LameConfig.replace_label_set`]), and the label caches are dropped.
        """
        if not isinstance(descriptions, dict):
            descriptions = list(descriptions)
            if len(descriptions) != self.config.num_labels:
                raise ValueError(
                    f"Got {len(descriptions)} descriptions for {self.config.num_labels} labels. A list keeps the "
                    "label names; pass a {label: description} dict to change the label set."
                )
            descriptions = dict(zip(self.config.labels, descriptions))
        names = check_label_names(descriptions, "set_label_descriptions")
        if names != self.config.labels and not self.config.label_agnostic:
            self._refuse_new_labels("set_label_descriptions", names)
        self.config.replace_label_set(descriptions, self.config.tokenize_descriptions(list(descriptions.values()), tokenizer))
        self._forget_label_embeddings()

    def add_labels(self, descriptions: dict[str, str], tokenizer) -> None:
        """Append labels `{name: description}` to the label set (label-agnostic heads only).

        The existing labels keep their ids, descriptions, token ids and thresholds, so their scores do
        not change (except under a shortlist, `0 < shortlist_size < num_labels`, where a new label can
        enter a document's shortlist and push another label out of it); each new label is scored from
        its description, with `config.decision_threshold`.
        When the eval cache of label embeddings is current, only the new descriptions are encoded.
        Save with `save_pretrained`: the config then holds the extended set.
        """
        if not isinstance(descriptions, dict):
            raise TypeError(f"add_labels takes a {{label: description}} dict, got {type(descriptions).__name__}.")
        names = check_label_names(descriptions, "add_labels")
        if not self.config.label_agnostic:
            self._refuse_new_labels("add_labels", names)
        known = set(self.config.labels)
        for name in names:
            if name in known:
                raise ValueError(
                    f"add_labels: label {name!r} is already in the label set (id {self.config.label2id[name]}); "
                    "use set_label_descriptions to change its description."
                )
        old_count = self.config.num_labels
        cache = self._label_cache if self._label_cache is not None and self._label_cache[0] == self._weights_key() else None
        merged = dict(zip(self.config.labels, self.config.label_descriptions))
        merged.update(descriptions)
        token_ids = list(self.config.label_description_token_ids) + self.config.tokenize_descriptions(
            list(descriptions.values()), tokenizer
        )
        self.config.replace_label_set(merged, token_ids)
        self._forget_label_embeddings()
        if cache is not None:
            # Extend the current eval cache instead of re-encoding every description.
            with torch.no_grad():
                added = self._encode_descriptions(list(range(old_count, self.config.num_labels)))
            self._label_cache = (self._weights_key(), torch.cat([cache[1], added.to(cache[1].dtype)]))

    def _refuse_new_labels(self, method: str, names: list[str]) -> None:
        current = self.config.labels
        raise ValueError(
            f"{method}: this LAME model has config.label_scoring='label_specific', one output row per training "
            f"label ({len(current)}: {current[:5]}{'...' if len(current) > 5 else ''}), so it cannot score another "
            f"label set ({len(names)}: {names[:5]}{'...' if len(names) > 5 else ''}). Train with "
            "`--label_scoring label_agnostic` (LameConfig.label_scoring) for a head that scores any description."
        )

    def _forget_label_embeddings(self) -> None:
        # Every cache of label embeddings or of their projections belongs to the old label set.
        self.clear_label_cache()
        self._training_cache = None
        if self.first_stage is not None:
            self.first_stage._projected = None

    def encode_descriptions(self, token_ids: list[list[int]]) -> torch.Tensor:
        """Embeddings `(k, hidden)` of descriptions that are not the model's labels, without gradient.

        `token_ids` from `config.tokenize_descriptions(descriptions, tokenizer)`. Pass the result as
        `forward(..., description_embeddings=...)` to score those labels (label-agnostic heads).
        """
        if not token_ids:
            raise ValueError("encode_descriptions: no descriptions given.")
        with torch.no_grad():
            embeddings = self._encode_descriptions(token_ids=token_ids)
        return embeddings.to(self.label_blocks[0].query.weight.dtype)

    def clear_label_cache(self) -> None:
        """Forget the eval cache of label embeddings; the next eval pass encodes the descriptions again."""
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
        self._training_cache = None
        return super().load_state_dict(*args, **kwargs)

    def _description_token_ids(self, token_ids: list[list[int]] | None = None) -> list[list[int]]:
        """`token_ids`, or the config's tokenized label descriptions when it is None (an error naming the fix if absent)."""
        token_ids = self.config.label_description_token_ids if token_ids is None else token_ids
        if token_ids is None:
            raise ValueError(
                "This LAME model has no tokenized label descriptions. Build it with "
                "`LameForSequenceClassification.from_pretrained(<checkpoint>, label_descriptions=[...])` or call "
                "`model.set_label_descriptions(descriptions, tokenizer)`."
            )
        return token_ids

    def _description_batch(
        self, device: torch.device, label_ids: list[int] | None = None, token_ids: list[list[int]] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded description token ids and mask, `(k, width)` each, for `label_ids` (default: all) of
        `token_ids` (default: the config's label descriptions)."""
        token_ids = self._description_token_ids(token_ids)
        if label_ids is not None:
            token_ids = [token_ids[i] for i in label_ids]
        width = max(len(ids) for ids in token_ids)
        pad = self.config.pad_token_id or 0
        input_ids = torch.full((len(token_ids), width), pad, dtype=torch.long, device=device)
        mask = torch.zeros((len(token_ids), width), dtype=torch.long, device=device)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long, device=device)
            mask[row, : len(ids)] = 1
        return input_ids, mask

    def _encode_descriptions(
        self, label_ids: list[int] | None = None, token_ids: list[list[int]] | None = None
    ) -> torch.Tensor:
        """Embeddings `(k, hidden)` of the descriptions of `label_ids` (default: all), with gradient
        if enabled. `token_ids` replaces the config's tokenized label descriptions (candidate labels).

        Descriptions are encoded in chunks of similar length (`length_chunks`): label descriptions
        vary from a few pieces to dozens (EUROVOC's label + alternative labels: median 9, up to 64),
        and one batch padded to the longest would be mostly padding. Without gradient a chunk also
        holds at most `description_batch_size` descriptions (bounded memory)."""
        device = self.bert.embeddings.word_embeddings.weight.device
        all_token_ids = self._description_token_ids(token_ids)
        ids = list(range(len(all_token_ids))) if label_ids is None else list(label_ids)
        max_rows = self.config.description_batch_size if not torch.is_grad_enabled() else None
        chunks = length_chunks([len(all_token_ids[i]) for i in ids], max_rows)
        if len(chunks) <= 1:
            input_ids, mask = self._description_batch(device, ids, token_ids)
            return self._pool_description(self._encode_description_batch(input_ids, mask), mask)
        # Written into one output allocated up front: no list of parts and no concatenated copy.
        encoded = None
        for rows in chunks:
            input_ids, mask = self._description_batch(device, [ids[row] for row in rows], token_ids)
            states = self._pool_description(self._encode_description_batch(input_ids, mask), mask)
            if encoded is None:
                encoded = states.new_empty(len(ids), states.shape[-1])
            encoded[torch.as_tensor(rows, device=encoded.device)] = states
        return encoded

    def _encode_description_batch(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Config-level `output_attentions` / `output_hidden_states` are about the documents: the
        # description passes never record them (and `config.return_dict=False` is for our caller).
        return self.bert(
            input_ids=input_ids, attention_mask=mask, output_attentions=False, output_hidden_states=False, return_dict=True
        ).last_hidden_state

    def _pool_description(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token states `(k, width, hidden)` of k descriptions and their mask `(k, width)` -> `(k, hidden)`
        label embeddings, pooled as `config.pools_descriptions` says."""
        if self.config.pools_descriptions == "mean":
            return masked_mean(states, mask)
        # A copy, not a view: the [CLS] view would keep every token state of every description alive
        # in the caches (at 4,271 labels, 190 MB where 6.5 MB are needed).
        return states[:, 0].clone()

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
        """The embedding of every label description: `(num_labels, hidden)` ([CLS] or mean, `config.pools_descriptions`).

        In training with `label_embedding_mode="joint"` (and an unfrozen encoder) the descriptions
        are encoded in every call, with gradient, once for the whole batch: every document sees
        the same label matrix, so this equals the paper's per-document encoding at 1/batch of the
        cost. Otherwise the result is computed without gradient and cached until the encoder's
        weights change, the descriptions change, or the mode switches. Under `torch.compile` and
        `torch.export` nothing is cached: the compiled or exported graph encodes them in every call.
        """
        if self._descriptions_trainable():
            return self._encode_descriptions()
        if torch.compiler.is_compiling():
            # torch.export and torch.compile trace with tensors that have no storage to key the
            # cache on (`data_ptr`): the traced graph encodes the descriptions in every call.
            with torch.no_grad():
                return self._encode_descriptions().to(self.label_blocks[0].query.weight.dtype)

        key = self._weights_key()
        if self._label_cache is not None and self._label_cache[0] == key:
            return self._label_cache[1]
        with torch.no_grad():
            embeddings = self._encode_descriptions()
        # Encoded under autocast the states are bf16/fp16; a cached copy in the weights' dtype also
        # serves a later call without autocast (a Linear refuses a half input with float32 weights).
        embeddings = embeddings.to(self.label_blocks[0].query.weight.dtype)
        self._label_cache = (key, embeddings)
        return embeddings

    def _descriptions_trainable(self) -> bool:
        return self.training and self.config.label_embedding_mode == "joint" and not self.config.freeze_encoder

    def training_label_embeddings(self) -> torch.Tensor:
        """Every label's embedding `(num_labels, hidden)` from the training cache (no gradient).

        Used under sampled training for the labels outside the step's sample. The cache is encoded
        with the encoder in eval mode (no dropout noise) and encoded again when
        `config.label_cache_refresh_steps` optimizer steps have changed the weights since (counted by
        the parameters' in-place version counters, so gradient accumulation's micro-batches do not
        count), when a parameter is replaced (a new storage: loading, moving devices), or when the
        descriptions change. Between refreshes it holds embeddings of the encoder as it was at most
        that many steps ago, by design; eval mode never reads it.
        """
        parameters = list(self.bert.parameters())
        identity = tuple(p.data_ptr() for p in parameters)
        versions = tuple(p._version for p in parameters)
        descriptions = self.config.label_description_token_ids
        cache = self._training_cache
        if cache is not None and cache["identity"] == identity and cache["descriptions"] is descriptions:
            if cache["versions"] != versions:
                cache["steps"] += 1
                cache["versions"] = versions
            if cache["steps"] < self.config.label_cache_refresh_steps:
                return cache["embeddings"]
        was_training = self.bert.training
        self.bert.eval()
        try:
            with torch.no_grad():
                embeddings = self._encode_descriptions()
        finally:
            self.bert.train(was_training)
        self._training_cache = {
            "identity": identity, "descriptions": descriptions, "versions": versions, "steps": 0, "embeddings": embeddings
        }
        self.label_cache_refreshes += 1
        return embeddings

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
        description_embeddings: torch.Tensor | None = None,
    ) -> LameClassifierOutput | tuple:
        r"""
        Args:
            input_ids: `(batch, seq_len)` document token ids. With `config.max_document_length`,
                `seq_len` may reach that length: tokenize with `max_length=config.max_document_length`
                and the model splits each document into segments of the encoder's length (see
                [`encode_documents`]); the label attention reads all segments of a document together.
            attention_mask: `(batch, seq_len)`, 1 for tokens, 0 for padding (right padding when
                segmenting).
            labels: `(batch,)` class ids for single-label problems, or `(batch, num_labels)` 0/1
                floats for multi-label problems.
            output_cross_attentions: also return the label-attention weights of every block,
                `(batch, heads, num_labels, seq_len)` each; for a segmented document the weights of
                the slots holding the same piece are added (shared stride pieces, each segment's
                [CLS] and [SEP]), so column j is still input position j. (The name avoids "label": the Trainer
                treats every forward argument containing "label" as a target column.)
            description_embeddings: `(k, hidden)` from [`encode_descriptions`]: score these k
                descriptions instead of the model's labels (label-agnostic heads, inference only);
                `logits` and `cross_attentions` then have k label rows.

        Returns:
            [`LameClassifierOutput`] with `logits` of shape `(batch, num_labels)`.
        """
        if description_embeddings is not None:
            if not self.config.label_agnostic:
                self._refuse_new_labels("forward(description_embeddings=...)", [f"<{len(description_embeddings)} descriptions>"])
            if labels is not None:
                raise ValueError(
                    "forward: description_embeddings scores labels outside the model's label set, for inference; "
                    "it takes no `labels` (train on the model's own label set)."
                )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        # From here on `attention_mask` is the mask of the token states the head reads (segments side
        # by side for a long document).
        encoder_out, tokens, attention_mask, segments = self.encode_documents(
            input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_attentions, output_hidden_states
        )
        # The documents' mean token states, read by the first stage and the similarity term: computed once.
        needs_mean = self.first_stage is not None or self.config.uses_similarity_term
        document_vectors = masked_mean(tokens, attention_mask) if needs_mean else None
        if self.feature_head is not None:
            tokens = self.feature_head(tokens, attention_mask)
        keys_values = [block.project_tokens(tokens) for block in self.label_blocks]
        num_labels = self.config.num_labels if description_embeddings is None else description_embeddings.shape[0]

        if labels is not None:
            self._infer_problem_type(labels)
        sampled = self.training and labels is not None and self.config.uses_label_sampling
        if sampled and self.config.problem_type == "single_label_classification":
            raise ValueError(
                "LameConfig.label_sampling='sampled' needs a multi-label problem; this model's problem_type is "
                "single_label_classification. Set label_sampling='none'."
            )
        first_stage_logits = None
        cross_attentions = None
        loss = None
        if sampled:
            # Only the batch's positives and a sample of negatives go through the encoder with
            # gradient and through the head; every other label is read from the training cache,
            # by the first stage alone.
            cached = self.training_label_embeddings()
            targets = labels.to(torch.float32)
            if self.first_stage is not None:
                first_stage_logits = self.first_stage(document_vectors, cached)
            label_ids, column_weights = self._sample_labels(targets, first_stage_logits)
            ids = label_ids.tolist()
            if self._descriptions_trainable():
                label_embeddings = self._encode_descriptions(ids)
            else:
                label_embeddings = cached[label_ids]
            if self.config.uses_all_label_loss:
                logits = self._score_every_label(cached, label_ids, label_embeddings, keys_values, attention_mask,
                                                 document_vectors)
                loss = self.compute_loss(logits, labels)
            else:
                partial, _ = self._run_head(
                    label_embeddings, label_ids, keys_values, attention_mask, need_weights=False,
                    document_vectors=document_vectors,
                )
                logits = self._complete_logits(partial, label_ids.expand(partial.shape[0], -1), first_stage_logits)
                loss = self.compute_loss(partial, labels, label_ids=label_ids, label_weights=column_weights)
        else:
            label_embeddings = self.encode_label_descriptions() if description_embeddings is None else description_embeddings
            if self.first_stage is not None:
                first_stage_logits = self.first_stage(document_vectors, label_embeddings)
            k = self.config.effective_shortlist_size
            if not self.training and first_stage_logits is not None and 0 < k < num_labels:
                label_ids = first_stage_logits.topk(k, dim=-1).indices  # (batch, k)
                partial, weights = self._run_head(
                    label_embeddings[label_ids], label_ids, keys_values, attention_mask, bool(output_cross_attentions),
                    document_vectors,
                )
                logits = self._complete_logits(partial, label_ids, first_stage_logits)
                if output_cross_attentions:
                    # Labels outside the shortlist were not attended: all-zero rows, so that row i
                    # is still label i for the pipeline and the viewer.
                    cross_attentions = []
                    for block_weights in weights:
                        full = block_weights.new_zeros(*block_weights.shape[:2], num_labels, block_weights.shape[-1])
                        index = label_ids[:, None, :, None].expand(-1, block_weights.shape[1], -1, block_weights.shape[-1])
                        cross_attentions.append(full.scatter(2, index, block_weights))
            else:
                logits, cross_attentions = self._run_head(
                    label_embeddings, None, keys_values, attention_mask, bool(output_cross_attentions), document_vectors
                )
            if labels is not None:
                loss = self.compute_loss(logits, labels)
        if loss is not None and first_stage_logits is not None and self.config.problem_type != "single_label_classification":
            # The first stage learns to score every label (it is a plain all-label classifier
            # over cheap features), which makes its hard negatives and shortlists worth having.
            first_stage_loss = F.binary_cross_entropy_with_logits(first_stage_logits.float(), labels.to(torch.float32))
            loss = loss + self.config.first_stage_loss_weight * first_stage_loss

        if cross_attentions and segments is not None:
            # Weights over segment slots -> weights over the input's pieces, so that column j is
            # input_ids[:, j] (and the tokenizer's offsets of position j) for the pipeline.
            cross_attentions = [segments.fold(block_weights) for block_weights in cross_attentions]
        output = LameClassifierOutput(
            loss=loss,
            logits=logits,
            cross_attentions=tuple(cross_attentions) if output_cross_attentions and cross_attentions else None,
            hidden_states=encoder_out.hidden_states,
            attentions=encoder_out.attentions,
        )
        return output if return_dict else output.to_tuple()

    def encode_documents(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> tuple[ModelOutput, torch.Tensor, torch.Tensor, DocumentSegments | None]:
        """Run the encoder over the documents; return what the label attention reads.

        Without `config.max_document_length` this is the encoder's forward: token states
        `(batch, seq_len, hidden)` and their mask `(batch, seq_len)` (the attention mask, or all ones).
        With it, every document is cut into segments of `max_position_embeddings` pieces
        ([`DocumentSegments`]), all segments of the batch go through the encoder as one batch of
        `(num_segments, width)`, and each document's segment states are laid side by side:
        `(batch, max_segments * width, hidden)` states and mask, in which padding slots and the
        padding segments of shorter documents are 0.

        Returns:
            `(encoder output, token states, token mask, segments or None)`. The encoder output's
            hidden states and attentions are per segment when segmenting.
        """
        segments, encoder_inputs = split_for_encoder(
            self.config, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds
        )
        # An explicit None would stop BERT from falling back to its config: resolve against ours here.
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        encoder_out = self.bert(
            **encoder_inputs, output_attentions=output_attentions, output_hidden_states=output_hidden_states, return_dict=True
        )
        tokens = encoder_out.last_hidden_state
        if segments is not None:
            tokens, token_mask = segments.token_states(tokens)
        elif attention_mask is None:
            token_mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
        else:
            token_mask = attention_mask
        return encoder_out, tokens, token_mask, segments

    def _run_head(
        self,
        label_embeddings: torch.Tensor,
        label_ids: torch.Tensor | None,
        keys_values: list[tuple[torch.Tensor, torch.Tensor]],
        token_mask: torch.Tensor,
        need_weights: bool,
        document_vectors: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """The label-attention blocks and the output layer, `config.label_chunk_size` labels at a time.

        Each label's path through the head reads only its own state and the document, so chunks
        give the same logits as one pass, with the (batch, heads, labels, tokens) attention held
        for one chunk at a time.

        Args:
            label_embeddings: `(k, hidden)` shared by the batch, or `(batch, k, hidden)` per document.
            label_ids: `None` when the k labels are all labels in id order, else `(k,)` or `(batch, k)`.
            keys_values: each block's `(keys, values)` from `project_tokens`.
            token_mask: `(batch, seq_len)`.
            need_weights: also return each block's `(batch, heads, k, seq_len)` attention weights.
            document_vectors: `(batch, hidden)` mean token states, for `config.uses_similarity_term`.

        Returns:
            `(batch, k)` logits and the per-block weights (or `None`).
        """
        count = label_embeddings.shape[-2]
        chunk = self.config.label_chunk_size or count
        logits, weights = [], [[] for _ in self.label_blocks]
        for start in range(0, count, chunk):
            states = label_embeddings[..., start : start + chunk, :]
            ids = slice(start, start + chunk) if label_ids is None else label_ids[..., start : start + chunk]
            for index, (block, (keys, values)) in enumerate(zip(self.label_blocks, keys_values)):
                states, block_weights = block.attend(states, keys, values, token_mask, need_weights)
                if need_weights:
                    weights[index].append(block_weights)
            logits.append(self.classifier(states, ids, label_embeddings[..., start : start + chunk, :], document_vectors))
        logits = torch.cat(logits, dim=-1)
        return logits, [torch.cat(parts, dim=2) for parts in weights] if need_weights else None

    def _score_every_label(
        self,
        cached: torch.Tensor,
        label_ids: torch.Tensor,
        sampled_embeddings: torch.Tensor,
        keys_values: list[tuple[torch.Tensor, torch.Tensor]],
        token_mask: torch.Tensor,
        document_vectors: torch.Tensor | None,
    ) -> torch.Tensor:
        """`config.all_label_loss` under sampled training: the head scores every label, `(batch, num_labels)`.

        The sampled labels' embeddings (encoded with gradient in joint mode) replace their rows of the
        training cache; every other label's query is its cached embedding, without gradient into its
        description. So each step trains every label's output row and bias, and the head and encoder
        see every label's loss, as in joint training; only the description gradients stay sampled.
        With a fresh cache and no dropout the loss equals the joint path's.
        """
        embeddings = cached.to(sampled_embeddings.dtype).index_copy(0, label_ids, sampled_embeddings)
        logits, _ = self._run_head(embeddings, None, keys_values, token_mask, False, document_vectors)
        return logits

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
        budget = self.config.label_sample_negatives
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

    def _infer_problem_type(self, labels: torch.Tensor) -> None:
        if self.config.problem_type is None:
            integer = labels.dtype in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8)
            self.config.problem_type = (
                "single_label_classification" if integer and labels.dim() == 1 else "multi_label_classification"
            )

    def compute_loss(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        label_ids: torch.Tensor | None = None,
        label_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Cross-entropy (single-label), binary cross-entropy or F-measure loss (multi-label).

        When `config.problem_type` is unset it is inferred from the labels, as in transformers'
        own classifiers: integer class ids mean single-label, anything else multi-label.

        Under sampled training `logits` `(batch, k)` belong to the labels `label_ids` `(k,)`, and
        `label_weights` `(k,)` say how many labels each stands for: the binary cross-entropy is
        their weighted sum divided by batch x num_labels (the all-label mean, estimated), and the
        F-measure counts are weighted likewise.
        """
        self._infer_problem_type(labels)
        if self.config.problem_type == "single_label_classification":
            return F.cross_entropy(logits.float(), labels.view(-1).long())
        targets = labels.to(torch.float32)
        num_cells = targets.numel()
        if label_ids is not None:
            targets = targets[:, label_ids]
        if self.config.loss == "f_measure":
            return f_measure_loss(
                torch.sigmoid(logits.float()), targets, average=self.config.f_measure_average, label_weights=label_weights
            )
        pos_weight = None
        if self.config.pos_weight is not None:
            pos_weight = torch.tensor(self.config.pos_weight, dtype=torch.float32, device=logits.device)
            if label_ids is not None:
                pos_weight = pos_weight[label_ids]
        if label_weights is None:
            return F.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=pos_weight)
        cells = F.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=pos_weight, reduction="none")
        return (cells * label_weights).sum() / num_cells
