"""LAME's label-attention head: the blocks in which labels read the document, the output layers that
turn each label's state into a logit, and the F-measure loss.

Shipped with every LAME checkpoint as remote code: it imports only torch and its sibling
`configuration_lame` (for type hints).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .configuration_lame import LameConfig


def padding_fill_value(dtype: torch.dtype) -> float:
    """The score given to padding positions before the softmax: the most negative finite value of `dtype`.

    It must fit the dtype of the tensor it fills: float32's minimum overflows bfloat16 and float16
    (filling raises "value cannot be converted ... without overflow"), while each dtype's own
    minimum still makes `exp(score - max)` exactly 0, i.e. padding gets no attention weight.
    """
    return torch.finfo(dtype).min



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



class LameDocumentClassifier(nn.Module):
    """Plain fine-tuning's classifier beside the head (`config.document_classifier`): a free weight row
    and bias per label on the document's mean token state; its logit is added to the head's.

    The label-agnostic head computes every label's row from its description; this layer gives each
    training label the free row plain fine-tuning learns (one matrix product for every label). It
    learns only through the sum: under sampled training, in the steps that sample its label. A loss
    of its own would calibrate it alone, and the sum would then count the label prior twice. A label
    without a row (added after training, or a call-time candidate) scores 0 here.
    """

    def __init__(self, config: LameConfig):
        super().__init__()
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, document_vectors: torch.Tensor) -> torch.Tensor:
        """`(batch, hidden)` masked mean token states -> `(batch, num_labels)` logits."""
        return self.linear(self.dropout(document_vectors))

    @torch.no_grad()
    def follow_labels(self, old_names: list[str], new_names: list[str]) -> None:
        """Keep each row with its label by name after the label set changed; new labels get zero rows."""
        old = {name: index for index, name in enumerate(old_names)}
        weight = self.linear.weight.new_zeros(len(new_names), self.linear.in_features)
        bias = self.linear.bias.new_zeros(len(new_names))
        for index, name in enumerate(new_names):
            if name in old:
                weight[index], bias[index] = self.linear.weight[old[name]], self.linear.bias[old[name]]
        self.linear.weight = nn.Parameter(weight)
        self.linear.bias = nn.Parameter(bias)
        self.linear.out_features = len(new_names)


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


def infer_problem_type(config: LameConfig, labels: torch.Tensor) -> None:
    """Set an unset `config.problem_type` from the labels, as transformers' own classifiers do: integer
    class ids `(batch,)` mean single-label, anything else multi-label."""
    if config.problem_type is None:
        integer = labels.dtype in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8)
        config.problem_type = (
            "single_label_classification" if integer and labels.dim() == 1 else "multi_label_classification"
        )


def classification_loss(
    config: LameConfig,
    logits: torch.Tensor,
    labels: torch.Tensor,
    label_ids: torch.Tensor | None = None,
    label_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy (single-label), binary cross-entropy or F-measure loss (multi-label).

    `logits` `(batch, k)`; `labels` `(batch,)` class ids or `(batch, num_labels)` 0/1 floats. When
    `config.problem_type` is unset it is inferred from the labels ([`infer_problem_type`]).

    Under sampled training `logits` `(batch, k)` belong to the labels `label_ids` `(k,)`, and
    `label_weights` `(k,)` say how many labels each stands for: the binary cross-entropy is
    their weighted sum divided by batch x num_labels (the all-label mean, estimated), and the
    F-measure counts are weighted likewise.
    """
    infer_problem_type(config, labels)
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.float(), labels.view(-1).long())
    targets = labels.to(torch.float32)
    num_cells = targets.numel()
    if label_ids is not None:
        targets = targets[:, label_ids]
    if config.loss == "f_measure":
        return f_measure_loss(
            torch.sigmoid(logits.float()), targets, average=config.f_measure_average, label_weights=label_weights
        )
    pos_weight = None
    if config.pos_weight is not None:
        pos_weight = torch.tensor(config.pos_weight, dtype=torch.float32, device=logits.device)
        if label_ids is not None:
            pos_weight = pos_weight[label_ids]
    if label_weights is None:
        return F.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=pos_weight)
    cells = F.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=pos_weight, reduction="none")
    return (cells * label_weights).sum() / num_cells


def add_first_stage_loss(
    config: LameConfig, loss: torch.Tensor, first_stage_logits: torch.Tensor | None, labels: torch.Tensor
) -> torch.Tensor:
    """`loss` plus `config.first_stage_loss_weight` times the first stage's all-label binary
    cross-entropy `(batch, num_labels)` logits against `labels` (multi-label problems with a first stage)."""
    if first_stage_logits is None or config.problem_type == "single_label_classification":
        return loss
    # The first stage learns to score every label (it is a plain all-label classifier
    # over cheap features), which makes its hard negatives and shortlists worth having.
    first_stage_loss = F.binary_cross_entropy_with_logits(first_stage_logits.float(), labels.to(torch.float32))
    return loss + config.first_stage_loss_weight * first_stage_loss

