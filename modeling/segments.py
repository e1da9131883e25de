"""Documents longer than the encoder's window: split into segments, encode them as one batch, put back.

Shared by LAME and the layer-wise model (`max_document_length`, `segment_stride`, and the layer-wise
`segment_pooling`). Shipped with their checkpoints as remote code: it imports only torch.

How inputs reach the model: exactly as for a short document. The tokenizer is called with
`truncation=True, max_length=config.max_document_length`, which gives the usual
`input_ids` / `attention_mask` of shape `(batch, doc_len)`: one [CLS] first, one [SEP] last, padding
on the right. The model cuts each document into the fewest segments of at most
`max_position_embeddings` pieces, of even size: every segment is `[CLS] + a window of the document's
pieces + [SEP]` (the document's own first and last tokens are copied, so the special-token ids need
not be known), consecutive windows overlap by `segment_stride` pieces. Keeping the flat `(batch, doc_len)` layout means the Trainer's
`DataCollatorWithPadding`, `Trainer.predict` and the pipelines need nothing new, and per-piece
outputs (attention weights) can be mapped back to the flat positions, hence to the tokenizer's
character offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SEGMENT_POOLINGS = ("mean", "max")


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`(batch, seq_len, hidden)` states and their `(batch, seq_len)` 0/1 mask -> `(batch, hidden)` mean of
    the real positions (a row without any gives zeros). Here because both models pool token states
    this way (documents, descriptions, layers) and both ship this file."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1)


def validate_segment_options(
    owner: str, max_document_length: int | None, segment_stride: int, max_position_embeddings: int
) -> None:
    """Raise a `ValueError` naming `owner.<field>` when the long-document options do not fit the encoder."""
    if max_document_length is not None and (
        not isinstance(max_document_length, int) or isinstance(max_document_length, bool) or max_document_length < 2
    ):
        raise ValueError(
            f"{owner}.max_document_length must be None (truncate at the encoder's length) or an integer of at "
            f"least 2, got {max_document_length!r}."
        )
    window = max_position_embeddings - 2  # pieces per segment between its [CLS] and [SEP]
    if not isinstance(segment_stride, int) or isinstance(segment_stride, bool) or not 0 <= segment_stride < window:
        raise ValueError(
            f"{owner}.segment_stride must be an integer in [0, {window - 1}] (the overlap between consecutive "
            f"segments of {max_position_embeddings} pieces, [CLS] and [SEP] included), got {segment_stride!r}."
        )


def input_length_limit(config, tokenizer=None) -> int:
    """How many pieces (special tokens included) a document is tokenized to for this model: its
    `config.max_document_length` when set, else the encoder's `max_position_embeddings` (or the
    tokenizer's `model_max_length`, when smaller)."""
    if getattr(config, "max_document_length", None):
        return config.max_document_length
    limit = config.max_position_embeddings
    if tokenizer is not None and tokenizer.model_max_length:
        limit = min(limit, tokenizer.model_max_length)
    return limit


def require_tokenizer(pipeline) -> None:
    """Raise a ValueError naming the fix when a pipeline of these models got no tokenizer: the
    model's folder has none (`model.save_pretrained` does not write it)."""
    if pipeline.tokenizer is None:
        source = getattr(pipeline.model, "name_or_path", "") or "the model's folder"
        raise ValueError(
            f"{type(pipeline).__name__} needs the encoder's tokenizer and none could be loaded from {source!r}. "
            "Save it next to the model with `tokenizer.save_pretrained(folder)`, or pass `tokenizer=` to `pipeline()`."
        )


def _ceil_div(numerator, denominator):
    return -(-numerator // denominator)


def segment_count(length: int, segment_length: int, stride: int) -> int:
    """How many segments a document of `length` pieces (its [CLS] and [SEP] included) is cut into."""
    content, most = length - 2, segment_length - 2
    return 1 if content <= most else _ceil_div(content - stride, most - stride)


def plan_segments(
    lengths: torch.Tensor, document_length: int, segment_length: int, stride: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The segment plan of documents of `lengths` real pieces, as tensors: the one place that decides it.

    Each document takes as few segments as windows of at most `segment_length - 2` pieces allow, and
    its pieces are spread evenly over them: segments of a batch are padded to the widest, so 1,022
    pieces as 3 x 341 cost 3 x 343 encoder positions where 510 + 510 + 2 would cost 3 x 512. Segment
    k of a document holds its [CLS] (position 0), the window of `step + stride` pieces from
    `1 + k * step`, and its [SEP] (position `length - 1`); a document that fits is one segment, itself.

    Computed with tensor operations only, in shapes that depend on `document_length` (the input's
    `doc_len`) and never on the lengths' values, so that `torch.compile(fullgraph=True)` and
    `torch.export` trace it: `(num_documents, segment_count(document_length), min(segment_length,
    document_length))` positions and 0/1 slot mask, padding slots and padding segments at 0.
    """
    most = segment_length - 2
    device = lengths.device
    content = lengths - 2
    over = content > most
    # Rows that fit take one segment, so `count` is at least 1 in every row `step` divides by
    # (`where` computes both branches for every row).
    count = torch.where(over, _ceil_div(content - stride, most - stride), torch.ones_like(content))
    step = torch.where(over, _ceil_div(content - stride, count), content.clamp(min=0))
    segment = torch.arange(segment_count(document_length, segment_length, stride), device=device)
    slot = torch.arange(min(segment_length, document_length), device=device)
    start = step[:, None] * segment  # (documents, segments)
    window = (torch.minimum(start + step[:, None] + stride, content[:, None]) - start).clamp(min=0)
    window = window[..., None]
    inside = (slot >= 1) & (slot <= window)
    last = slot == window + 1
    real = ((slot == 0) & (lengths >= 1)[:, None, None]) | inside | (last & (lengths >= 2)[:, None, None])
    real = real & (segment < count[:, None])[..., None]
    positions = torch.where(inside, start[..., None] + slot, torch.zeros_like(slot))
    positions = torch.where(last, (lengths - 1)[:, None, None], positions).masked_fill(~real, 0)
    return positions, real.long()


def segment_windows(length: int, segment_length: int, stride: int) -> list[list[int]]:
    """The flat positions each segment of one document of `length` pieces reads, `[0, window..., length - 1]`
    ([`plan_segments`] for one document, as lists)."""
    positions, real = plan_segments(torch.tensor([length]), length, segment_length, stride)
    return [row[mask.bool()].tolist() for row, mask in zip(positions[0], real[0]) if mask.any()] or [[]]


def is_tracing() -> bool:
    """Whether this forward is being captured (torch.compile, torch.export, ONNX tracing) rather than run."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


@dataclass
class DocumentSegments:
    """The segments of a batch of documents, and how they map back.

    Attributes:
        positions: `(num_documents, max_segments, width)` long: the flat document position that each
            slot of each segment holds (0 in padding slots).
        slot_mask: `(num_documents, max_segments, width)` long: 1 for a real slot, 0 for padding
            (including every slot of a padding segment, where a document has fewer segments).
        segment_mask: `(num_documents, max_segments)` bool: which segments exist.
        document_length: the flat input's `doc_len`.
        every_segment: whether the encoder reads every segment, padding segments included. Run
            eagerly, the plan is cut to the batch's most segments and widest segment and padding
            segments are left out, so they cost no encoder time; being traced, shapes must not depend
            on the mask's values, so all `segment_count(doc_len)` segments of `min(window, doc_len)`
            slots are encoded and padding segments are zeroed afterwards. Both give the same
            per-document results (up to float rounding from the padding slots).
    """

    positions: torch.Tensor
    slot_mask: torch.Tensor
    segment_mask: torch.Tensor
    document_length: int
    every_segment: bool = False

    @classmethod
    def split(cls, attention_mask: torch.Tensor, segment_length: int, stride: int = 0) -> "DocumentSegments":
        """Plan the segments of `(batch, doc_len)` right-padded documents (1 = piece, 0 = padding)."""
        mask = attention_mask.bool()
        lengths = mask.sum(1)
        positions, slot_mask = plan_segments(lengths, mask.shape[1], segment_length, stride)
        if is_tracing():
            # A traced graph cannot raise on values: left padding is checked in eager runs only.
            return cls(positions, slot_mask, slot_mask.bool().any(-1), mask.shape[1], every_segment=True)
        expected = torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]
        if not torch.equal(mask, expected):
            raise ValueError(
                "Segmenting long documents (config.max_document_length) needs right-padded inputs: every "
                "attention_mask row must be 1s followed by 0s. Tokenize with padding_side='right'."
            )
        most = max(int(slot_mask.bool().any(-1).sum(1).max()), 1) if len(lengths) else 1
        width = int(slot_mask.sum(-1).max()) if len(lengths) else 0
        positions, slot_mask = positions[:, :most, :width], slot_mask[:, :most, :width]
        return cls(positions, slot_mask, slot_mask.bool().any(-1), mask.shape[1])

    def gather(self, values: torch.Tensor, fill: int = 0) -> torch.Tensor:
        """Encoder inputs of the segments: `(batch, doc_len)` -> `(num_segments, width)`, `fill` in padding slots.

        Run eagerly, only existing segments are kept, so padding segments cost no encoder time.
        """
        per_slot = torch.gather(values, 1, self.positions.flatten(1)).view_as(self.positions)
        per_slot = per_slot.masked_fill(self.slot_mask == 0, fill)
        return per_slot.flatten(0, 1) if self.every_segment else per_slot[self.segment_mask]

    def encoder_inputs(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None, pad_token_id: int) -> dict:
        """`input_ids`, `attention_mask` (and `token_type_ids`) of the segments, `(num_segments, width)` each."""
        if self.every_segment:
            # A padding segment attends to its first slot only: a row without any key would give the
            # encoder's softmax nothing to normalise (NaN under sdpa); its outputs are zeroed later.
            first = torch.zeros_like(self.slot_mask)
            first[..., 0] = 1
            attention_mask = torch.where(self.segment_mask[..., None], self.slot_mask, first).flatten(0, 1)
        else:
            attention_mask = self.slot_mask[self.segment_mask]
        inputs = {"input_ids": self.gather(input_ids, pad_token_id), "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = self.gather(token_type_ids)
        return inputs

    def _per_document(self, per_segment: torch.Tensor) -> torch.Tensor:
        """`(num_segments, ...)` -> `(num_documents, max_segments, ...)`, zeros for padding segments."""
        if self.every_segment:
            per_document = per_segment.reshape(*self.segment_mask.shape, *per_segment.shape[1:])
            present = self.segment_mask.view(*self.segment_mask.shape, *([1] * (per_segment.dim() - 1)))
            return torch.where(present, per_document, torch.zeros_like(per_document))
        out = per_segment.new_zeros(*self.segment_mask.shape, *per_segment.shape[1:])
        out[self.segment_mask] = per_segment
        return out

    def token_states(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each document's segments side by side: `(num_segments, width, hidden)` ->
        `(num_documents, max_segments * width, hidden)` states and the `(num_documents, max_segments * width)`
        mask of real slots (every segment's [CLS] and [SEP] included, padding excluded)."""
        per_document = self._per_document(states)
        return per_document.flatten(1, 2), self.slot_mask.flatten(1)

    def fold(self, weights: torch.Tensor) -> torch.Tensor:
        """Per-slot values back onto the flat document: `(num_documents, ..., max_segments * width)` ->
        `(num_documents, ..., doc_len)`.

        Values of slots that hold the same piece are added: the pieces two segments share (the
        stride) and every segment's copy of [CLS] and [SEP]. Attention weights that sum to 1 over
        the slots therefore still sum to 1 over the document's pieces.
        """
        index = self.positions.flatten(1)
        masked = weights * self.slot_mask.flatten(1).to(weights.dtype).view(
            index.shape[0], *([1] * (weights.dim() - 2)), index.shape[1]
        )
        index = index.view(index.shape[0], *([1] * (weights.dim() - 2)), index.shape[1]).expand_as(masked)
        out = weights.new_zeros(*weights.shape[:-1], self.document_length)
        return out.scatter_add(-1, index, masked)

    def pool(self, per_segment: torch.Tensor, how: str) -> torch.Tensor:
        """One vector per document from one per segment: `(num_segments, hidden)` -> `(num_documents, hidden)`.

        `how` is `"mean"` (average over the document's segments) or `"max"` (element-wise maximum);
        padding segments never count.
        """
        per_document = self._per_document(per_segment)  # (docs, max_segments, hidden)
        present = self.segment_mask.unsqueeze(-1)
        if how == "mean":
            weights = present.to(per_segment.dtype)
            return (per_document * weights).sum(1) / weights.sum(1).clamp(min=1)
        if how == "max":
            return per_document.masked_fill(~present, torch.finfo(per_segment.dtype).min).amax(1)
        raise ValueError(f"segment pooling must be one of {list(SEGMENT_POOLINGS)}, got {how!r}.")


def split_for_encoder(
    config,
    input_ids: torch.Tensor | None,
    attention_mask: torch.Tensor | None = None,
    token_type_ids: torch.Tensor | None = None,
    position_ids: torch.Tensor | None = None,
    inputs_embeds: torch.Tensor | None = None,
) -> tuple[DocumentSegments | None, dict]:
    """The segments of this batch and the encoder's keyword inputs.

    Without `config.max_document_length`: `None` and the inputs unchanged, `(batch, seq_len)` each (the
    plain forward). With it: the [`DocumentSegments`] of the batch and `input_ids`, `attention_mask`
    (and `token_type_ids`) of all its real segments, `(num_segments, width)` each, to be encoded as one
    batch. `position_ids` and `inputs_embeds` have no per-segment meaning: given with
    `max_document_length` they raise, naming the option.
    """
    if getattr(config, "max_document_length", None) is None:
        return None, {
            "input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
            "position_ids": position_ids, "inputs_embeds": inputs_embeds,
        }
    given = [name for name, value in (("position_ids", position_ids), ("inputs_embeds", inputs_embeds)) if value is not None]
    if given or input_ids is None:
        raise ValueError(
            f"config.max_document_length={config.max_document_length} segments documents from input_ids; "
            f"{given or ['missing input_ids']} cannot be split into segments. Pass input_ids (and attention_mask) "
            "only, or set max_document_length=None."
        )
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    segments = DocumentSegments.split(attention_mask, config.max_position_embeddings, config.segment_stride)
    return segments, segments.encoder_inputs(input_ids, token_type_ids, config.pad_token_id or 0)
