"""Configuration of layer-wise guided training (Manginas, Chalkidis and Malakasiotis, 2020).

Specific encoder layers are tied to specific levels of a label hierarchy: the [CLS] vector of a
level's layer(s) feeds the classifier of that level's labels.

This file is shipped with every checkpoint as remote code: it imports only `transformers`.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .decision_thresholds import validate_thresholds
from .encoders import LEGACY_ENCODER_TYPE, EncoderFields, build_encoder_config, own_fields_of, route_encoder_fields, split_encoder_fields
from .segments import SEGMENT_POOLINGS, validate_segment_options
from .guidance_layerwise import DEFAULT_GUIDANCE, normalise_guidance, parent_generations, resolve_guidance

LAYER_POOLINGS = ("cls", "mean")
PROBLEM_TYPE = "multi_label_classification"

# Common fields that also decide the resolved layer assignment and loss weights: `from_dict` routes
# them through `__init__` together with LayerwiseConfig's own fields (`LayerwiseConfig.own_fields`).
_REVALIDATED_FIELDS = ("id2label", "label2id")


class LayerwiseConfig(EncoderFields, PretrainedConfig):
    r"""Configuration of [`LayerwiseBertForHierarchicalClassification`]: an encoder whose layers are
    guided to predict the labels of specific hierarchy levels.

    The encoder's own config is the sub-config `encoder`, so
    `LayerwiseBertForHierarchicalClassification.from_pretrained(<any encoder checkpoint>, label_levels=[...])`
    reads the encoder's own `config.json` and adds the fields below, grouped by what they decide.
    `train.py`'s layer-wise options are these fields, with the defaults and help written here.

    Label set:
        label_levels (`list[int]`):
            Hierarchy level of each label in label-id order, 1 = most general. Levels must be
            1..D with at least one label each. Required to build a model.
        id2label / label2id:
            The usual transformers label maps (default names `LABEL_0`, ...).
        label_parents (`list[list[int]]`, *optional*):
            Parent label ids of each label (empty list for a root); needed for
            `hierarchical_consistency`. Must be acyclic.
        problem_type (`str`):
            Always `"multi_label_classification"` (sigmoid per label), which the transformers
            text-classification pipeline reads.

    Architecture:
        encoder (`PretrainedConfig` or `dict`, *optional*):
            The encoder's own config (any `AutoModel` that returns `hidden_states`). `from_pretrained(<encoder
            checkpoint>, ...)` takes the checkpoint's config; a config saved with BERT's fields at the top level
            (before this field) gets a BERT one. `num_hidden_layers`, `hidden_size` and the other encoder fields
            the heads read are read-only properties of this config ([`EncoderFields`]).
        guidance (`str`, *optional*):
            The named variant of section 3 / Figure 1, one of `GUIDANCE_VARIANTS` (`"flat"`,
            `"last_six"`, `"one_by_one"`, `"in_pairs"`, `"hybrid"`; `guidance_layerwise.py`).
            Defaults to `DEFAULT_GUIDANCE` (`"last_six"`, the paper's best) when no
            `layer_assignment` is given. The exact paper layouts for 12 layers / 6 levels and the
            rule for other depths are documented in [`resolve_guidance`]; a variant that does not fit raises a `ValueError`. In short, for
            N layers and D levels, every variant is packed against the top layer: `flat` level n ->
            N; `last_six` -> N - D + n (needs N >= D); `one_by_one` -> N - 2(D - n) (N >= 2D);
            `in_pairs` -> (N - 2(D - n) - 1, N - 2(D - n)) (N >= 2D); `hybrid` -> single layers for
            levels 1, 2 and D, pairs in between, on the top 2D - 3 layers (D >= 3, N >= 2D - 3).
            E.g. the 6-layer MiniLM with 6 levels admits only `flat` and `last_six`; with 4 levels
            also `hybrid` ({1: [2], 2: [3], 3: [4, 5], 4: [6]}).
        layer_assignment (`dict[int, list[int]]`, *optional*):
            Explicit mapping level -> encoder layers (1-based over the hidden layers, the embedding
            output is not a layer) whose [CLS] vectors are concatenated for that level's classifier.
            Leave `guidance=None` to use it. After construction this field always holds the
            resolved assignment, so a saved checkpoint states its wiring explicitly.
        layer_pooling (`str`, defaults to `"cls"`):
            What a level's classifier reads from each of its layers: `"cls"`, the layer's [CLS]
            state (the paper), or `"mean"`, the mean of the layer's token states over the
            attention mask. Mean pooling suits encoders trained as sentence embedders (such as
            all-MiniLM-L6-v2), whose intermediate [CLS] states never learned to summarise a text.
        hierarchical_consistency (`bool`, defaults to `False`):
            Our addition, not in the paper. At inference (model in eval mode) each label's score
            is capped by its parents' capped scores, visiting labels parents-first:
            `s'(l) = min(s(l), min_{p in parents(l)} s'(p))` on logits (equivalently on
            probabilities, sigmoid being monotone). Then for any threshold, a label is predicted
            only if all its ancestors are. Training losses always use the raw scores.

    Long documents:
        max_document_length (`int`, *optional*):
            Pieces a document is tokenized to (special tokens included), beyond the encoder's
            `max_position_embeddings`. The model splits each document into segments of the encoder's
            length (each with its own [CLS] and [SEP]), encodes all segments of the batch as one
            batch, and pools each layer's per-segment representation (`layer_pooling`) over the
            document's segments (`segment_pooling`); `segments.py`. `None` (default): documents are
            truncated at the encoder's length, as without this option. Not exportable to ONNX.
        segment_stride (`int`, defaults to 0):
            Pieces shared by consecutive segments of a long document (overlap), at most
            `max_position_embeddings - 3`.
        segment_pooling (`str`, defaults to `"mean"`):
            How a long document's per-segment layer vectors become one: `"mean"` or `"max"`
            (element-wise). Read only with `max_document_length`.

    Decisions:
        decision_threshold (`float`, defaults to 0.5):
            The probability from which the pipeline predicts a label; `train.py --tune_thresholds`
            sets it to the value that maximises micro-F1 on the validation split.
        label_thresholds (`list[float]`, *optional*):
            One such probability per label (`--tune_thresholds per_label`), in label-id order.

    Training only (they do not change what a saved model computes):
        level_loss_weights (`list[float]`, *optional*):
            Weight of each level's binary cross-entropy (level 1 first). Defaults to
            |L_n| / |L| (appendix B); with these weights the total loss equals the mean BCE over
            all labels, i.e. FLAT's loss. Stored resolved.
        classifier_dropout (`float`, *optional*):
            Dropout on the [CLS] features before each level's classifier; defaults to
            `hidden_dropout_prob`.
    """

    model_type = "labelwise_layerwise"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type=LEGACY_ENCODER_TYPE)}
    # Trainer.predict/evaluate then hand compute_metrics the (N, num_labels) logits alone, as for
    # BertForSequenceClassification, instead of a tuple with the per-level logits.
    keys_to_ignore_at_inference = ["level_logits", "hidden_states", "attentions"]

    def __init__(
        self,
        label_levels: list[int] | None = None,
        label_parents: list[list[int]] | None = None,
        guidance: str | None = None,
        layer_assignment: dict[int, list[int]] | None = None,
        level_loss_weights: list[float] | None = None,
        classifier_dropout: float | None = None,
        hierarchical_consistency: bool = False,
        layer_pooling: str = "cls",
        max_document_length: int | None = None,
        segment_stride: int = 0,
        segment_pooling: str = "mean",
        decision_threshold: float = 0.5,
        label_thresholds: list[float] | None = None,
        encoder: PretrainedConfig | dict | None = None,
        **kwargs,
    ):
        # Set first: the encoder's fields (`num_hidden_layers`, ...) are read through it from here on.
        encoder_fields, kwargs = split_encoder_fields(kwargs, own_fields_of(type(self)))
        self.encoder = build_encoder_config(encoder, encoder_fields)
        if label_levels is not None and "id2label" not in kwargs and "num_labels" not in kwargs:
            kwargs["num_labels"] = len(label_levels)
        # Fixed: one sigmoid per label. A warm-start checkpoint's own problem_type (e.g. a fine-tuned
        # single-label classifier) does not apply to the new heads.
        kwargs.pop("problem_type", None)
        kwargs.setdefault(
            "auto_map",
            {
                "AutoConfig": "configuration_layerwise.LayerwiseConfig",
                "AutoModel": "modeling_layerwise.LayerwiseBertForHierarchicalClassification",
                "AutoModelForSequenceClassification": "modeling_layerwise.LayerwiseBertForHierarchicalClassification",
            },
        )
        # What `pipeline(model=folder, trust_remote_code=True)` runs (the form `Pipeline.save_pretrained`
        # writes); the model's `save_pretrained` puts the file it names next to the model.
        kwargs.setdefault(
            "custom_pipelines",
            {
                "hierarchical-classification": {
                    "impl": "pipeline_layerwise.HierarchicalClassificationPipeline",
                    "pt": ["AutoModelForSequenceClassification"],
                    "type": "text",
                }
            },
        )
        super().__init__(problem_type=PROBLEM_TYPE, **kwargs)
        self.classifier_dropout = classifier_dropout
        self.label_levels = [int(level) for level in label_levels] if label_levels is not None else None
        self.label_parents = [[int(p) for p in parents] for parents in label_parents] if label_parents is not None else None
        self.guidance = normalise_guidance(guidance) if guidance is not None else None
        self.layer_assignment = (
            {int(level): [int(layer) for layer in layers] for level, layers in layer_assignment.items()}
            if layer_assignment is not None
            else None
        )
        self.level_loss_weights = [float(w) for w in level_loss_weights] if level_loss_weights is not None else None
        self.hierarchical_consistency = bool(hierarchical_consistency)
        if layer_pooling not in LAYER_POOLINGS:
            raise ValueError(f"LayerwiseConfig.layer_pooling must be one of {list(LAYER_POOLINGS)}, got {layer_pooling!r}.")
        self.layer_pooling = layer_pooling
        validate_segment_options("LayerwiseConfig", max_document_length, segment_stride, self.max_position_embeddings)
        if segment_pooling not in SEGMENT_POOLINGS:
            raise ValueError(
                f"LayerwiseConfig.segment_pooling must be one of {list(SEGMENT_POOLINGS)}, got {segment_pooling!r}."
            )
        self.max_document_length = max_document_length
        self.segment_stride = segment_stride
        self.segment_pooling = segment_pooling
        self.decision_threshold = float(decision_threshold)
        self.label_thresholds = [float(t) for t in label_thresholds] if label_thresholds is not None else None
        if self.id2label is not None and not self.label2id:
            self.label2id = {name: index for index, name in self.id2label.items()}
        self._validate_and_resolve()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs) -> "LayerwiseConfig":
        """Build from a `config.json` dict plus `from_pretrained` keyword overrides.

        transformers sets unknown keyword overrides with `setattr` *after* `__init__`, which would
        skip validation and leave the stored assignment unresolved (e.g. warm-starting from a plain
        BERT folder with `label_levels=[...]`). Our fields are therefore merged into the dict first.
        When an override changes the variant, the labels or the depth, a stored assignment that came
        from a named variant (and stored default weights) are recomputed rather than kept stale.
        """
        # A new depth reshapes the stored assignment like a new variant does; the depth itself is the encoder's.
        deeper = "num_hidden_layers" in kwargs
        # A warm-start checkpoint's config (any encoder) becomes the encoder sub-config, and so do the
        # BERT fields a config saved before the sub-config holds at its top level.
        config_dict = route_encoder_fields(config_dict, kwargs, cls.model_type, cls.own_fields())
        routed = cls.own_fields() | set(_REVALIDATED_FIELDS)
        overrides = {key: kwargs.pop(key) for key in list(kwargs) if key in routed}
        if overrides or deeper:
            reshaping = {"guidance", "label_levels"} & overrides.keys() or deeper
            if "layer_assignment" in overrides:
                # An explicit mapping replaces the stored variant unless one is given with it.
                overrides.setdefault("guidance", None)
            elif reshaping and ("guidance" in overrides or config_dict.get("guidance") is not None):
                config_dict.pop("layer_assignment", None)
            if "label_levels" in overrides and "level_loss_weights" not in overrides:
                config_dict.pop("level_loss_weights", None)
            if "label_levels" in overrides:
                # A new label set: the stored names (or a plain BERT's default two) and parent ids do
                # not apply to it unless given again.
                if "id2label" not in overrides:
                    for key in ("id2label", "label2id", "num_labels"):
                        config_dict.pop(key, None)
                if "label_parents" not in overrides:
                    config_dict.pop("label_parents", None)
            config_dict.update(overrides)
        return super().from_dict(config_dict, **kwargs)

    @classmethod
    def own_fields(cls) -> frozenset[str]:
        """The fields LayerwiseConfig declares (its `__init__` parameters), the encoder sub-config included."""
        return own_fields_of(cls)

    # --------------------------------------------------------------- validation
    def _validate_and_resolve(self) -> None:
        if self.classifier_dropout is not None and not 0.0 <= self.classifier_dropout < 1.0:
            raise ValueError(f"LayerwiseConfig.classifier_dropout must be in [0, 1), got {self.classifier_dropout}.")
        levels = self.label_levels
        if levels is None:
            # A bare config (e.g. AutoConfig of a plain checkpoint) is allowed; the model needs levels.
            if self.layer_assignment is not None or self.level_loss_weights is not None or self.label_parents is not None:
                raise ValueError(
                    "LayerwiseConfig: layer_assignment, level_loss_weights and label_parents need label_levels "
                    "(the level of each label)."
                )
            return
        num_labels = self.num_labels
        if len(levels) != num_labels:
            raise ValueError(
                f"LayerwiseConfig.label_levels has {len(levels)} entries but there are {num_labels} labels "
                f"(id2label); give one level per label."
            )
        seen: dict[str, int] = {}
        for index, name in enumerate(self.labels):
            if name in seen:
                raise ValueError(f"LayerwiseConfig: label {name!r} appears twice in id2label (ids {seen[name]} and {index}).")
            seen[name] = index
        bad = [(i, level) for i, level in enumerate(levels) if level < 1]
        if bad:
            index, level = bad[0]
            raise ValueError(
                f"LayerwiseConfig.label_levels[{index}] (label {self.id2label[index]!r}) is {level}; levels are 1-based."
            )
        num_levels = max(levels)
        missing = sorted(set(range(1, num_levels + 1)) - set(levels))
        if missing:
            raise ValueError(
                f"LayerwiseConfig.label_levels: levels {missing} have no labels (levels found: 1..{num_levels}); "
                "renumber the levels 1..D without gaps."
            )
        self._validate_parents(levels)
        validate_thresholds("LayerwiseConfig", self.decision_threshold, self.label_thresholds, num_labels)
        if self.hierarchical_consistency and self.label_parents is None:
            raise ValueError("LayerwiseConfig.hierarchical_consistency=True needs label_parents.")

        num_layers = self.num_hidden_layers
        if self.layer_assignment is None:
            self.guidance = self.guidance or DEFAULT_GUIDANCE
            self.layer_assignment = resolve_guidance(self.guidance, num_levels, num_layers)
        else:
            self._validate_assignment(self.layer_assignment, num_levels, num_layers)
            if self.guidance is not None:
                expected = resolve_guidance(self.guidance, num_levels, num_layers)
                if expected != self.layer_assignment:
                    raise ValueError(
                        f"LayerwiseConfig.layer_assignment={self.layer_assignment} does not match "
                        f"guidance={self.guidance!r} ({expected}) for {num_levels} levels and {num_layers} layers; "
                        "pass guidance=None to use a custom assignment."
                    )
        self.layer_assignment = {level: list(self.layer_assignment[level]) for level in sorted(self.layer_assignment)}

        counts = [levels.count(n) for n in range(1, num_levels + 1)]
        if self.level_loss_weights is None:
            self.level_loss_weights = [count / num_labels for count in counts]
        elif len(self.level_loss_weights) != num_levels:
            raise ValueError(
                f"LayerwiseConfig.level_loss_weights has {len(self.level_loss_weights)} values for {num_levels} "
                "hierarchy levels; give one weight per level (level 1 first)."
            )
        elif any(w < 0 for w in self.level_loss_weights):
            raise ValueError(f"LayerwiseConfig.level_loss_weights must be non-negative, got {self.level_loss_weights}.")

    @staticmethod
    def _validate_assignment(assignment: dict[int, list[int]], num_levels: int, num_layers: int) -> None:
        expected = set(range(1, num_levels + 1))
        if set(assignment) != expected:
            raise ValueError(
                f"LayerwiseConfig.layer_assignment covers levels {sorted(assignment)} but label_levels has levels "
                f"1..{num_levels}; give exactly one entry per level."
            )
        for level, layers in assignment.items():
            if not layers:
                raise ValueError(f"LayerwiseConfig.layer_assignment[{level}] is empty; each level needs at least one layer.")
            out = [layer for layer in layers if not 1 <= layer <= num_layers]
            if out:
                raise ValueError(
                    f"LayerwiseConfig.layer_assignment[{level}] uses layer(s) {out}, but the encoder has layers "
                    f"1..{num_layers} (num_hidden_layers={num_layers}; the embedding output is not a layer)."
                )
            if len(set(layers)) != len(layers):
                raise ValueError(f"LayerwiseConfig.layer_assignment[{level}] repeats a layer: {layers}.")

    def _validate_parents(self, levels: list[int]) -> None:
        parents = self.label_parents
        if parents is None:
            return
        if len(parents) != len(levels):
            raise ValueError(
                f"LayerwiseConfig.label_parents has {len(parents)} entries for {len(levels)} labels; give one "
                "(possibly empty) list of parent ids per label."
            )
        for child, ids in enumerate(parents):
            for parent in ids:
                if not 0 <= parent < len(levels) or parent == child:
                    raise ValueError(
                        f"LayerwiseConfig.label_parents[{child}] (label {self.id2label[child]!r}) names parent id "
                        f"{parent}; parent ids must be other labels' ids in 0..{len(levels) - 1}."
                    )
        self.consistency_generations()  # raises on a cycle

    # ----------------------------------------------------------------- helpers
    @property
    def labels(self) -> list[str]:
        """Label names in id order."""
        return [self.id2label[i] for i in range(self.num_labels)]

    @property
    def num_levels(self) -> int:
        """Depth D of the label hierarchy (0 when no `label_levels` are set)."""
        return max(self.label_levels) if self.label_levels else 0

    def level_label_ids(self) -> list[list[int]]:
        """Label ids of each level (level 1 first), ascending within a level."""
        if self.label_levels is None:
            raise ValueError("LayerwiseConfig.label_levels is not set.")
        return [[i for i, level in enumerate(self.label_levels) if level == n] for n in range(1, self.num_levels + 1)]

    def consistency_generations(self) -> list[list[int]]:
        """Labels grouped so that every label comes after all its parents (roots first); see
        [`parent_generations`]. Raises on a cycle."""
        if self.label_parents is None:
            raise ValueError("LayerwiseConfig.label_parents is not set.")
        return parent_generations(self.label_parents, self.labels)
