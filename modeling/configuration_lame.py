"""Configuration of LAME (Label Attention Modeling for Explainability).

This file is shipped with every LAME checkpoint as remote code: it imports only `transformers` and
its siblings, nothing from labelwise.
"""

from __future__ import annotations

from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .decision_thresholds import validate_thresholds
from .encoders import (
    LEGACY_ENCODER_TYPE,
    EncoderFields,
    build_encoder_config,
    own_fields_of,
    route_encoder_fields,
    split_encoder_fields,
)
from .labels_lame import LameLabelSetFields
from .large_labels_lame import (  # noqa: F401
    LARGE_LABEL_SET, SCALE_OPTIONS, SCALE_OPTIONS_BEFORE_AUTO, SHORTLIST_SIZE, LameScaleFields, scale_defaults,
)
from .segments import validate_segment_options

PROBLEM_TYPES = ("single_label_classification", "multi_label_classification")
LOSSES = ("bce", "f_measure")
F_MEASURE_AVERAGES = ("micro", "macro")
LABEL_EMBEDDING_MODES = ("auto", "joint", "static")
FEATURE_HEADS = ("none", "cnn")
LABEL_SAMPLING = ("auto", "none", "sampled")
FIRST_STAGES = ("auto", "none", "bilinear")
LABEL_SCORINGS = ("auto", "label_specific", "label_agnostic")
ALL_LABEL_LOSS_GRADIENTS = ("full", "output_layer")
DESCRIPTION_GRADIENTS = ("auto", "sample", "positives")
DESCRIPTION_POOLINGS = ("auto", "cls", "mean")
class LameConfig(LameLabelSetFields, LameScaleFields, EncoderFields, PretrainedConfig):
    r"""Configuration of [`LameForSequenceClassification`]: an encoder plus the label-attention head.

    The encoder's own config is the sub-config `encoder`, so
    `LameForSequenceClassification.from_pretrained(<any encoder checkpoint>, label_descriptions=[...])`
    reads the encoder's `config.json` and adds the fields below.

    The fields are grouped by what they decide. "auto" values are resolved when the config is built
    (`_resolve_auto`) and stored, so a saved `config.json` says what the model does; configs saved
    with "auto" still load and resolve it the same way. `train.py`'s LAME options are these fields,
    with the defaults and the help written here (`labelwise/kinds/lame.py` derives them).

    Label set:
        label_descriptions (`list[str]` or `dict[str, str]`):
            One natural-language description per label, in label-id order (or a `{label: description}`
            dict, which also names the labels). The encoder turns each into its label's query vector.
        id2label / label2id:
            The usual transformers label maps. When only descriptions are given the labels are
            named `LABEL_0`, `LABEL_1`, ...
        label_description_token_ids (`list[list[int]]`, *optional*):
            The descriptions tokenized with the checkpoint's tokenizer (no padding), filled by
            [`LameConfig.tokenize_label_descriptions`] so a saved checkpoint needs no tokenizer to
            build its label queries.
        max_description_length (`int`, defaults to 64):
            Token budget of one description, [CLS] and [SEP] included.
        description_pooling (`str`, defaults to `"auto"`):
            How a description's token states become its label embedding (the label's query and, with
            `label_scoring="label_agnostic"`, what its output row is computed from). `"cls"`: the [CLS]
            state (the paper). `"mean"`: the masked mean of the description's token states, the pooling
            sentence encoders such as all-MiniLM-L6-v2 were trained with; their [CLS] state was never
            trained to summarise a text (docs/RESULTS.md compares the two for unseen labels). `"auto"`:
            `"mean"` for label-agnostic heads, `"cls"` otherwise ([`~LameConfig.pools_descriptions`]).
        label_scoring (`str`, defaults to `"auto"`):
            How a label's vector after label attention becomes its logit. `"label_specific"`: a weight
            row and a bias per label (section 2.4 of the paper); the model is tied to its training
            label set. `"label_agnostic"`: the weight row and bias are computed from the label's
            description embedding by shared layers, `logit = <f(s), W e> / sqrt(hidden) + <a, e> + b`
            (`s` the label-attended vector, `e` the description's embedding; the first stage's
            per-label bias is replaced the same way). It is the label-specific head with its free rows
            replaced by a function of the description, so no parameter belongs to one label, and a
            label never seen in training is scored from its description alone: the label set can be
            replaced or extended after training (`set_label_descriptions`, `add_labels`, the
            pipeline's `candidate_labels`). `"auto"`: as [`scale_defaults`] says for the label count.
        problem_type (`str`, *optional*):
            `"single_label_classification"` (softmax) or `"multi_label_classification"` (sigmoid).
            Pipelines read it to pick the output function.

    Architecture:
        encoder (`PretrainedConfig` or `dict`, *optional*):
            The encoder's own config (any `AutoModel`: BERT, RoBERTa, DeBERTa-v2, ELECTRA, XLM-R,
            ModernBERT, ...). `from_pretrained(<encoder checkpoint>, ...)` takes the checkpoint's config;
            a config saved with BERT's fields at the top level (before this field) gets a BERT one.
            The encoder fields the head reads (`hidden_size`, `max_position_embeddings`, ...) are read-only
            properties of this config ([`EncoderFields`]).
        num_label_attention_blocks (`int`, defaults to 1):
            Number of stacked label-attention blocks.
        label_attention_heads (`int`, defaults to 12):
            Heads of the label-to-token cross-attention; must divide `hidden_size`.
        label_attention_intermediate_size (`int`, *optional*):
            Inner size of the block's feed-forward layer. Defaults to `hidden_size`: the block runs
            once per label and document, so its cost grows with the label count.
        document_classifier (`bool` or `"auto"`, defaults to `"auto"`):
            Add plain fine-tuning's classifier: a free row and bias per label on the document's mean token
            state, its logit added to the head's and trained through the sum (0 for labels added later and
            for call-time candidate labels, which the head alone scores). "auto": on beside the
            label-agnostic head above 256 labels ([`scale_defaults`]).
        light_label_head (`bool`, defaults to `False`):
            Drop the label block's feed-forward layer and the output layer's dense layer: per
            (document, label) pair the head computes attention, the output projection and a dot
            product, about half the multiply-adds of the full head.
        feature_head (`str`, defaults to `"none"`):
            `"cnn"` runs a 1-D convolution over the token states before the label attention (the
            frozen baseline's feature extractor); `"none"` feeds the token states directly.
        cnn_kernel_size (`int`, defaults to 3):
            Width of that convolution (odd, so the sequence length is kept).
        similarity_term (`bool`, *optional*):
            Label-agnostic heads only: add `t * cos(m, e)` to every logit, where `m` is the masked mean of
            the document's token states, `e` the label's description embedding and `t` a learned scale
            (starting at `similarity_scale`). With `description_pooling="mean"` and a sentence encoder,
            the untrained head then starts from the encoder's own document-description similarity, which
            ranks unseen labels well before any training (docs/RESULTS.md); training learns a correction.
            Unset (`None`, or `"auto"` in older configs): on for label-agnostic heads, off otherwise
            ([`~LameConfig.uses_similarity_term`]). On HoC hallmarks held out of training, mean pooling
            with this term lifted the label-agnostic head's mean AUC from 0.64 to 0.81, above the
            untuned encoder's cosine ranking (0.78), and the seen labels' micro-F1 from 63.2 to 66.6
            (docs/RESULTS.md), hence the default.
        similarity_scale (`float`, defaults to 10.0):
            Initial value of that scale: cosines between a document and descriptions differ by tenths,
            which this turns into logit differences of about one.

    Large label sets:
        label_sampling (`str`, defaults to `"auto"`):
            How many descriptions a training step encodes with gradient. `"none"`: all of them (the
            paper's joint training). `"sampled"`: the batch's positive labels plus
            `label_sample_negatives` negatives; the training loss covers those labels only, with the
            random negatives weighted so the loss is an unbiased estimate of the all-label loss.
            `"auto"`: `"sampled"` for multi-label problems with more than 256 labels, else `"none"`.
            Inference and evaluation always score every label (or the shortlist, see below).
        label_sample_negatives (`int` or `"auto"`, defaults to `"auto"`):
            Negative labels per training step (per batch, shared by its documents) under sampling; with
            the batch's positives, the labels a step scores (and, with joint descriptions, encodes: at 4,271
            labels 16, 32, 64 cost the label-agnostic head 1.74x, 2.02x, 2.35x vanilla's step; with static
            ones 128 cost 1.16x-1.24x, docs/BENCHMARKS.md). `"auto"`: 128 with static descriptions, 32 with joint.
        description_gradients (`str`, defaults to `"auto"`):
            Under sampled training with `label_embedding_mode="joint"`, which descriptions are encoded
            with gradient: `"sample"`, the step's positives and sampled negatives; `"positives"`, the
            positives only, the negatives read the training cache (about 40 descriptions a step instead
            of about 70 for 8 EURLEX57K documents; it learned far more slowly, docs/RESULTS.md). `"auto"`: as [`scale_defaults`] says.
        all_label_loss (`bool` or `"auto"`, defaults to `"auto"`):
            Under sampled training, put every label's logit in the loss at every step (the plain
            all-label binary cross-entropy). The sampled labels' descriptions are still the only ones
            encoded with gradient; every other label's query comes from the training cache. Without
            it the loss covers the sampled labels only, so a label's output row and bias are trained
            only in the steps that sample it. Costs the head's forward and backward pass over every
            label in each training step (docs/BENCHMARKS.md). `"auto"`: as [`scale_defaults`] says.
        all_label_loss_gradient (`str`, defaults to `"full"`):
            With `all_label_loss`, where the loss of the labels outside the sample sends its gradient:
            `"full"`, through the whole head, as for the sampled labels; `"output_layer"`, into the
            output layer only (their states are computed without gradient or dropout, which saves most
            of the extra cost, docs/BENCHMARKS.md); every label's output row still trains every step.
        hard_negative_fraction (`float`, defaults to 0.5):
            Share of those negatives taken as the first stage's highest-scored non-positive labels for the
            batch (hard negatives); the rest are drawn uniformly (all of them without a first stage).
        label_cache_refresh_steps (`int`, defaults to 100):
            Under sampling, every description is encoded without gradient into a training cache, re-encoded
            after this many optimizer steps and whenever the encoder's parameters are replaced or reloaded.
            Evaluation never reads this cache; it encodes with the current weights.
        first_stage (`str`, defaults to `"auto"`):
            A cheap scorer of every label (`"bilinear"`: the document's mean token state against each label's
            embedding, with an all-label loss); it chooses the hard negatives and the shortlist. `"auto"`:
            `"bilinear"` above 256 labels, else `"none"`.
        first_stage_loss_weight (`float`, defaults to 1.0):
            Weight of the first stage's loss in the total loss.
        shortlist_size (`int` or `"auto"`, defaults to `"auto"`):
            In eval mode, run the label-attention head on each document's top-`shortlist_size` first-stage
            labels only; the others get the smaller of their first-stage logit and the lowest shortlisted
            one, so they rank after the shortlist. 0: every label through the head (exact). `"auto"`: 256
            above 256 labels, else 0 ([`scale_defaults`]; the resolved value is `effective_shortlist_size`).
        label_chunk_size (`int`, defaults to 512):
            Labels the head processes together: bounds the memory of the (batch, heads, labels, tokens)
            attention at thousands of labels. Results do not depend on it. 0: all labels at once.
        description_batch_size (`int`, defaults to 64):
            Most descriptions encoded together without gradient (the label caches), so that thousands of
            descriptions add little to peak memory; batches are grouped by length (at least half real tokens).

    Long documents:
        max_document_length (`int`, *optional*):
            Pieces a document is tokenized to (special tokens included), beyond the encoder's
            `max_position_embeddings`. The model splits each document into segments of the encoder's
            length (each with its own [CLS] and [SEP]), encodes all segments of the batch as one
            batch, and the label attention reads the token states of all of a document's segments
            together (`segments.py`). `None` (default): documents are truncated at the encoder's
            length, as without this option. Not exportable to ONNX.
        segment_stride (`int`, defaults to 0):
            Pieces shared by consecutive segments of a long document (overlap), at most
            `max_position_embeddings - 3`.

    Decisions:
        decision_threshold (`float`, defaults to 0.5):
            Multi-label models: the probability from which the pipeline predicts a label.
            `train.py --tune_thresholds` sets it to the value that maximises micro-F1 on the
            validation split.
        label_thresholds (`list[float]`, *optional*):
            One such probability per label (`--tune_thresholds per_label`); overrides
            `decision_threshold` where given.

    Training only (they do not change what a saved model computes):
        label_embedding_mode (`str`, defaults to `"auto"`):
            `"joint"`: descriptions are re-encoded by the shared encoder in every training step and
            fine-tuned with it (section 2.2 of the paper). `"static"`: encoded without gradient by the current
            encoder (sampled: the training cache). `"auto"`: as [`scale_defaults`] says (static above 256 labels).
        label_attention_dropout (`float`, *optional*):
            Dropout on the attention weights and block outputs; defaults to `hidden_dropout_prob`.
        classifier_dropout (`float`, *optional*):
            Dropout before the per-label output layer; defaults to `hidden_dropout_prob`.
        loss (`str`, defaults to `"bce"`):
            Multi-label loss: `"bce"` (binary cross-entropy) or `"f_measure"` (1 minus the mean of
            the soft positive- and negative-class F-measures of the mini-batch). Multi-class
            problems always use cross-entropy.
        f_measure_average (`str`, defaults to `"micro"`):
            How the F-measure loss counts: `"micro"` sums tp/fp/fn/tn over every (document, label)
            cell of the batch (the paper's text); `"macro"` computes both F-measures per label over
            the batch and averages them over labels (the LAME authors' public code).
        pos_weight (`list[float]`, *optional*):
            Per-label positive weight for the binary cross-entropy.
        freeze_encoder (`bool`, defaults to `False`):
            Keep the encoder fixed (the paper's "frozen BERT + LA" baseline).
    """

    model_type = "lame"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type=LEGACY_ENCODER_TYPE)}

    def __init__(
        self,
        label_descriptions: list[str] | None = None,
        label_description_token_ids: list[list[int]] | None = None,
        max_description_length: int = 64,
        description_pooling: str = "auto",
        label_embedding_mode: str = "auto",
        num_label_attention_blocks: int = 1,
        label_attention_heads: int = 12,
        label_attention_intermediate_size: int | None = None,
        label_attention_dropout: float | None = None,
        classifier_dropout: float | None = None,
        loss: str = "bce",
        f_measure_average: str = "micro",
        pos_weight: list[float] | None = None,
        freeze_encoder: bool = False,
        feature_head: str = "none",
        cnn_kernel_size: int = 3,
        label_sampling: str = "auto",
        label_sample_negatives: int | str = "auto",
        description_gradients: str = "auto",
        all_label_loss: bool | str = "auto",
        all_label_loss_gradient: str = "full",
        hard_negative_fraction: float = 0.5,
        label_cache_refresh_steps: int = 100,
        first_stage: str = "auto",
        first_stage_loss_weight: float = 1.0,
        shortlist_size: int | str = "auto",
        label_chunk_size: int = 512,
        description_batch_size: int = 64,
        light_label_head: bool = False,
        document_classifier: bool | str = "auto",
        max_document_length: int | None = None,
        segment_stride: int = 0,
        label_scoring: str = "auto",
        similarity_term: bool | None = None,
        similarity_scale: float = 10.0,
        decision_threshold: float = 0.5,
        label_thresholds: list[float] | None = None,
        encoder: PretrainedConfig | dict | None = None,
        **kwargs,
    ):
        # Set first: the encoder's fields (`hidden_size`, ...) are read through it from here on.
        encoder_fields, kwargs = split_encoder_fields(kwargs, own_fields_of(type(self)))
        self.encoder = build_encoder_config(encoder, encoder_fields)
        if isinstance(label_descriptions, dict):
            # {label: description} names the labels too, in insertion order.
            kwargs.setdefault("id2label", {i: label for i, label in enumerate(label_descriptions)})
            kwargs.setdefault("label2id", {label: i for i, label in enumerate(label_descriptions)})
            label_descriptions = list(label_descriptions.values())
        label_descriptions = list(label_descriptions) if label_descriptions is not None else None
        if label_descriptions is not None and "id2label" not in kwargs and "num_labels" not in kwargs:
            kwargs["num_labels"] = len(label_descriptions)
        kwargs.setdefault(
            "auto_map",
            {
                "AutoConfig": "configuration_lame.LameConfig",
                "AutoModel": "modeling_lame.LameForSequenceClassification",
                "AutoModelForSequenceClassification": "modeling_lame.LameForSequenceClassification",
            },
        )
        # What `pipeline(model=folder, trust_remote_code=True)` runs (the form `Pipeline.save_pretrained`
        # writes); the model's `save_pretrained` puts the file it names next to the model.
        kwargs.setdefault(
            "custom_pipelines",
            {
                "label-attention-classification": {
                    "impl": "pipeline_lame.LameClassificationPipeline",
                    "pt": ["AutoModelForSequenceClassification"],
                    "type": "text",
                }
            },
        )
        super().__init__(**kwargs)
        self.classifier_dropout = classifier_dropout
        self.label_descriptions = label_descriptions
        self.label_description_token_ids = label_description_token_ids
        self.max_description_length = max_description_length
        self.description_pooling = description_pooling
        self.label_embedding_mode = label_embedding_mode
        self.num_label_attention_blocks = num_label_attention_blocks
        self.label_attention_heads = label_attention_heads
        self.label_attention_intermediate_size = label_attention_intermediate_size or self.hidden_size
        self.label_attention_dropout = self.hidden_dropout_prob if label_attention_dropout is None else label_attention_dropout
        self.loss = loss
        self.f_measure_average = f_measure_average
        self.pos_weight = list(pos_weight) if pos_weight is not None else None
        self.freeze_encoder = freeze_encoder
        self.feature_head = feature_head
        self.cnn_kernel_size = cnn_kernel_size
        self.label_sampling = label_sampling
        self.label_sample_negatives = label_sample_negatives
        self.description_gradients = description_gradients
        self.all_label_loss = all_label_loss
        self.all_label_loss_gradient = all_label_loss_gradient
        self.hard_negative_fraction = hard_negative_fraction
        self.label_cache_refresh_steps = label_cache_refresh_steps
        self.first_stage = first_stage
        self.first_stage_loss_weight = first_stage_loss_weight
        self.shortlist_size = shortlist_size
        self.label_chunk_size = label_chunk_size
        self.description_batch_size = description_batch_size
        self.light_label_head = light_label_head
        self.document_classifier = document_classifier
        self.max_document_length = max_document_length
        self.segment_stride = segment_stride
        self.label_scoring = label_scoring
        self.similarity_term = "auto" if similarity_term in (None, "auto") else similarity_term
        self.similarity_scale = float(similarity_scale)
        self.decision_threshold = float(decision_threshold)
        self.label_thresholds = [float(t) for t in label_thresholds] if label_thresholds is not None else None
        self._resolve_auto()
        self._validate()

    def _resolve_auto(self) -> None:
        """Replace "auto" by what it means for this model, once, so that `config.json` says what the
        model does. The label-count rules ([`scale_defaults`]) need the label set: a config without
        descriptions (the config of a plain encoder checkpoint) keeps "auto" for them."""
        if self.label_descriptions is not None:
            resolved = self.resolved_scale_options()
            for field in SCALE_OPTIONS:
                setattr(self, field, resolved[field])
        if self.label_scoring in ("label_specific", "label_agnostic"):  # pooling and the term follow the head
            if self.description_pooling == "auto":
                self.description_pooling = self.pools_descriptions
            if self.similarity_term == "auto":
                self.similarity_term = self.uses_similarity_term

    def _validate(self) -> None:
        def choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
            if value not in allowed:
                raise ValueError(f"LameConfig.{field} must be one of {list(allowed)}, got {value!r}.")

        choice("label_embedding_mode", self.label_embedding_mode, LABEL_EMBEDDING_MODES)
        choice("loss", self.loss, LOSSES)
        choice("f_measure_average", self.f_measure_average, F_MEASURE_AVERAGES)
        choice("feature_head", self.feature_head, FEATURE_HEADS)
        if self.problem_type is not None:
            choice("problem_type", self.problem_type, PROBLEM_TYPES)
        if self.hidden_size % self.label_attention_heads:
            raise ValueError(
                f"LameConfig.label_attention_heads={self.label_attention_heads} must divide "
                f"hidden_size={self.hidden_size}."
            )
        if self.num_label_attention_blocks < 1:
            raise ValueError("LameConfig.num_label_attention_blocks must be at least 1.")
        if self.cnn_kernel_size < 1 or self.cnn_kernel_size % 2 == 0:
            raise ValueError(f"LameConfig.cnn_kernel_size must be a positive odd number, got {self.cnn_kernel_size}.")
        choice("label_sampling", self.label_sampling, LABEL_SAMPLING)
        choice("first_stage", self.first_stage, FIRST_STAGES)
        choice("label_scoring", self.label_scoring, LABEL_SCORINGS)
        choice("all_label_loss_gradient", self.all_label_loss_gradient, ALL_LABEL_LOSS_GRADIENTS)
        choice("description_gradients", self.description_gradients, DESCRIPTION_GRADIENTS)
        choice("description_pooling", self.description_pooling, DESCRIPTION_POOLINGS)
        if self.similarity_term not in ("auto", True, False):
            raise ValueError(f"LameConfig.similarity_term must be True, False or 'auto', got {self.similarity_term!r}.")
        if self.similarity_term is True and self.label_scoring == "label_specific":
            raise ValueError(
                "LameConfig.similarity_term=True needs label_scoring='label_agnostic' (a label-specific head "
                "learns a free weight row per label instead)."
            )
        positive_fields = ("label_cache_refresh_steps", "description_batch_size")
        for field in ("label_sample_negatives", "shortlist_size", "label_chunk_size") + positive_fields:
            value = getattr(self, field)
            if field in ("shortlist_size", "label_sample_negatives") and value == "auto":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if field in positive_fields else 0):
                minimum = "a positive" if field in positive_fields else "a non-negative"
                raise ValueError(f"LameConfig.{field} must be {minimum} integer, got {value!r}.")
        for field in ("document_classifier", "all_label_loss"):
            if getattr(self, field) not in ("auto", True, False):
                raise ValueError(f"LameConfig.{field} must be one of ['auto', True, False], got {getattr(self, field)!r}.")
        if not 0.0 <= self.hard_negative_fraction <= 1.0:
            raise ValueError(f"LameConfig.hard_negative_fraction must lie in [0, 1], got {self.hard_negative_fraction}.")
        if self.label_sampling == "sampled" and self.problem_type == "single_label_classification":
            raise ValueError(
                "LameConfig.label_sampling='sampled' needs a multi-label problem (a softmax over a sample of "
                "classes is a different loss); use label_sampling='none' for single_label_classification."
            )
        validate_segment_options("LameConfig", self.max_document_length, self.segment_stride, self.max_position_embeddings)
        if self.effective_shortlist_size and not self.uses_first_stage:
            raise ValueError(
                f"LameConfig.shortlist_size={self.shortlist_size} needs a first stage to choose the shortlist: "
                "set first_stage='bilinear' (or shortlist_size=0 for the exact all-label head)."
            )

        descriptions = self.label_descriptions
        if descriptions is None:
            return
        labels = [self.id2label[i] for i in range(self.num_labels)]
        if len(descriptions) != len(labels):
            raise ValueError(
                f"LameConfig got {len(descriptions)} label descriptions for {len(labels)} labels "
                f"({labels[:5]}{'...' if len(labels) > 5 else ''}); give exactly one description per label."
            )
        for index, (label, text) in enumerate(zip(labels, descriptions)):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"LameConfig: the description of label {label!r} (id {index}) is empty.")
        seen: dict[str, int] = {}
        for index, label in enumerate(labels):
            if label in seen:
                raise ValueError(f"LameConfig: label {label!r} appears twice (ids {seen[label]} and {index}).")
            seen[label] = index
        validate_thresholds("LameConfig", self.decision_threshold, self.label_thresholds, len(labels))
        if self.pos_weight is not None and len(self.pos_weight) != len(labels):
            raise ValueError(f"LameConfig.pos_weight has {len(self.pos_weight)} values for {len(labels)} labels.")
        token_ids = self.label_description_token_ids
        if token_ids is not None and len(token_ids) != len(labels):
            raise ValueError(
                f"LameConfig.label_description_token_ids has {len(token_ids)} entries for {len(labels)} labels; "
                "call tokenize_label_descriptions(tokenizer) again."
            )

    @classmethod
    def from_dict(cls, config_dict: dict, **kwargs):
        """Build from a checkpoint's config dict plus keyword overrides.

        transformers builds the config from the file and sets keyword arguments as attributes
        afterwards; LAME's fields must instead be known to `__init__`, which derives the label set
        from the descriptions and validates everything together. New descriptions replace the label
        maps of the checkpoint (a plain BERT checkpoint often carries a default two-label map).
        """
        # A warm-start checkpoint's config (any encoder) becomes the encoder sub-config, and so do the
        # BERT fields a LAME config saved before the sub-config holds at its top level.
        config_dict = route_encoder_fields(config_dict, kwargs, cls.model_type, cls.own_fields())
        if "label_descriptions" in config_dict:  # a LAME config, maybe saved before some options had "auto"
            config_dict = {**SCALE_OPTIONS_BEFORE_AUTO, **config_dict}
        if config_dict.get("label_scoring") == "label_agnostic":  # saved before the two fields: [CLS], no term
            config_dict = {"description_pooling": "cls", "similarity_term": False, **config_dict}
        label_fields = {"id2label", "label2id", "num_labels", "problem_type"}
        moved = {key for key in kwargs if key in cls.own_fields() or key in label_fields}
        if "label_descriptions" in moved and not moved & {"id2label", "label2id", "num_labels"}:
            for key in ("id2label", "label2id", "num_labels"):
                config_dict.pop(key, None)
        if "label_descriptions" in moved and "label_description_token_ids" not in moved:
            # The checkpoint's token ids belong to its own descriptions: kept, a new set of the same size
            # would be scored from the old descriptions. Without them from_pretrained tokenizes the new ones.
            config_dict.pop("label_description_token_ids", None)
        for key in moved:
            config_dict[key] = kwargs.pop(key)
        return super().from_dict(config_dict, **kwargs)

    @classmethod
    def own_fields(cls) -> frozenset[str]:
        """The fields LameConfig declares (its `__init__` parameters), the encoder sub-config included."""
        return own_fields_of(cls)

    @property
    def pools_descriptions(self) -> str:
        """How description token states become label embeddings, "cls" or "mean" (`description_pooling` resolved)."""
        if self.description_pooling == "auto":
            return "mean" if self.label_agnostic else "cls"
        return self.description_pooling

    @property
    def uses_similarity_term(self) -> bool:
        """Whether each logit gets the learned document-description cosine term (`similarity_term` resolved)."""
        if self.similarity_term == "auto":
            return self.label_agnostic
        return self.similarity_term

    @property
    def labels(self) -> list[str]:
        """Label names in id order."""
        return [self.id2label[i] for i in range(self.num_labels)]

    @property
    def label_agnostic(self) -> bool:
        """Whether no parameter belongs to one label (`label_scoring="label_agnostic"`): the label set can change."""
        return self.label_scoring == "label_agnostic"
