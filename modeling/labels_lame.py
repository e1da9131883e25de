"""LAME's label set: the descriptions, their embeddings by the shared encoder, and the two caches of them.

`LameLabelSetFields` is the config's side (replacing the set, tokenizing descriptions), `LameLabelSet`
the model's. Shipped with every LAME checkpoint as remote code: it imports only torch and its
siblings `encoders` and `segments`.
"""

from __future__ import annotations

import torch

from .encoders import run_encoder
from .segments import masked_mean


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





def tokenize_descriptions(descriptions: list[str], tokenizer, max_description_length: int) -> list[list[int]]:
    """Label descriptions tokenized as the label queries are: [CLS]/[SEP], truncated to
    `max_description_length` pieces, unpadded (`LameConfig.label_description_token_ids`)."""
    encoded = tokenizer(list(descriptions), truncation=True, max_length=max_description_length, add_special_tokens=True)
    return [list(ids) for ids in encoded["input_ids"]]


class LameLabelSetFields:
    """The label-set methods of [`LameConfig`] (a mixin of it): replacing the set and tokenizing descriptions."""

    def replace_label_set(self, descriptions: dict[str, str], token_ids: list[list[int]]) -> None:
        """Make `descriptions` (`{label: description}`, in id order) the label set, all label fields together.

        `id2label`, `label2id`, `num_labels`, the descriptions and their token ids are replaced; the
        per-label fields follow the labels by name: a label kept from the old set keeps its
        `label_thresholds` entry and `pos_weight`, a new one gets `decision_threshold` and a weight
        of 1.0. Validated before anything is changed, so a refused set leaves the config as it was.
        """
        names = list(descriptions)
        if len(token_ids) != len(names):
            raise ValueError(f"LameConfig.replace_label_set: {len(token_ids)} token id lists for {len(names)} labels.")
        old = {name: index for index, name in enumerate(self.labels)} if self.label_descriptions is not None else {}

        def follow(values: list[float] | None, default: float) -> list[float] | None:
            if values is None:
                return None
            return [float(values[old[name]]) if name in old else default for name in names]

        fields = dict(
            id2label=dict(enumerate(names)),
            label2id={name: index for index, name in enumerate(names)},
            label_descriptions=list(descriptions.values()),
            label_description_token_ids=[list(ids) for ids in token_ids],
            label_thresholds=follow(self.label_thresholds, float(self.decision_threshold)),
            pos_weight=follow(self.pos_weight, 1.0),
        )
        previous = {field: getattr(self, field) for field in fields}
        for field, value in fields.items():
            setattr(self, field, value)
        try:
            self._validate()
        except ValueError:
            for field, value in previous.items():
                setattr(self, field, value)
            raise

    def tokenize_descriptions(self, descriptions: list[str], tokenizer) -> list[list[int]]:
        """`descriptions` tokenized as the label queries are: [CLS]/[SEP], truncated to `max_description_length`, unpadded."""
        return tokenize_descriptions(descriptions, tokenizer, self.max_description_length)

    def tokenize_label_descriptions(self, tokenizer) -> None:
        """Store the descriptions tokenized by `tokenizer` (with [CLS]/[SEP], truncated, unpadded)."""
        if self.label_descriptions is None:
            raise ValueError("LameConfig has no label_descriptions to tokenize.")
        self.label_description_token_ids = self.tokenize_descriptions(self.label_descriptions, tokenizer)


class LameLabelSet:
    """The label set of [`LameForSequenceClassification`] and the embeddings of its descriptions.

    A mixin of the model (it reads `self.config`, `self.backbone` and the head's dtype): changing the
    label set (`set_label_descriptions`, `add_labels`), encoding descriptions, and two caches of
    their embeddings, `(num_labels, hidden)` each:

    - the eval cache (`encode_label_descriptions`), exact: valid until the encoder's weights or the
      descriptions change;
    - the training cache (`training_label_embeddings`), read under sampled training for the labels
      outside a step's sample: refreshed every `config.label_cache_refresh_steps` optimizer steps.
    """

    def _init_label_caches(self) -> None:
        self._label_cache: tuple[tuple, torch.Tensor] | None = None
        # Training-time cache of every label's embedding under sampling: (parameter storages and
        # descriptions it was encoded for, parameter versions last seen, optimizer steps since the
        # encoding, embeddings). Separate from the eval cache, which is always exact.
        self._training_cache: dict | None = None
        self.label_cache_refreshes = 0  # how often the training cache was (re-)encoded

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
        old_names = self.config.labels
        self.config.replace_label_set(descriptions, self.config.tokenize_descriptions(list(descriptions.values()), tokenizer))
        self._follow_label_rows(old_names)
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
        old_names = self.config.labels
        self.config.replace_label_set(merged, token_ids)
        self._follow_label_rows(old_names)
        self._forget_label_embeddings()
        if cache is not None:
            # Extend the current eval cache instead of re-encoding every description.
            with torch.no_grad():
                added = self._encode_descriptions(list(range(old_count, self.config.num_labels)))
            self._label_cache = (self._weights_key(), torch.cat([cache[1], added.to(cache[1].dtype)]))

    def _follow_label_rows(self, old_names: list[str]) -> None:
        """After the label set changed: the document classifier's free rows follow their labels by name
        (`config.document_classifier`); a new label gets a zero row."""
        if getattr(self, "document_classifier", None) is not None:
            self.document_classifier.follow_labels(old_names, self.config.labels)

    def _refuse_new_labels(self, method: str, names: list[str]) -> None:
        current = self.config.labels
        raise ValueError(
            f"{method}: this LAME model has config.label_scoring='label_specific', one output row per training "
            f"label ({len(current)}: {current[:5]}{'...' if len(current) > 5 else ''}), so it cannot score another "
            f"label set ({len(names)}: {names[:5]}{'...' if len(names) > 5 else ''}). Train with "
            "`--label_scoring label_agnostic` (LameConfig.label_scoring) for a head that scores any description."
        )

    def _check_description_embeddings(self, description_embeddings: torch.Tensor | None, labels) -> None:
        if description_embeddings is None:
            return
        if not self.config.label_agnostic:
            self._refuse_new_labels("forward(description_embeddings=...)", [f"<{len(description_embeddings)} descriptions>"])
        if labels is not None:
            raise ValueError(
                "forward: description_embeddings scores labels outside the model's label set, for inference; "
                "it takes no `labels` (train on the model's own label set)."
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
        device = self.backbone.get_input_embeddings().weight.device
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
        # description passes never record them.
        return run_encoder(
            self.backbone, input_ids=input_ids, attention_mask=mask, output_attentions=False, output_hidden_states=False
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
        return tuple((p.data_ptr(), p._version) for p in self.backbone.parameters()) + (
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
        joint = self.config.resolved_scale_options()["label_embedding_mode"] == "joint"
        return self.training and joint and not self.config.freeze_encoder

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
        parameters = list(self.backbone.parameters())
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
        was_training = self.backbone.training
        self.backbone.eval()
        try:
            with torch.no_grad():
                embeddings = self._encode_descriptions()
        finally:
            self.backbone.train(was_training)
        self._training_cache = {
            "identity": identity, "descriptions": descriptions, "versions": versions, "steps": 0, "embeddings": embeddings
        }
        self.label_cache_refreshes += 1
        return embeddings

