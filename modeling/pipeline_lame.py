"""Pipeline for LAME models: labels, probabilities and the words each label attended to.

Shipped with LAME checkpoints as remote code (imports only torch and transformers). Use::

    from transformers import pipeline
    classify = pipeline(model="<repo or folder>", trust_remote_code=True)
    classify("Renal abscess in children ...")
"""

from __future__ import annotations

import torch
from transformers import Pipeline

from .decision_thresholds import config_thresholds, thresholds_for_labels
from .integrated_gradients import explained_labels, integrated_gradients, label_logit, padding_baseline
from .labels_lame import check_label_names
from .pipeline_parameters import check_integer, check_max_length, check_text, check_threshold
from .segments import input_length_limit, require_tokenizer

TASK_NAME = "label-attention-classification"
EVIDENCE_METHODS = ("attention", "integrated_gradients")


def check_evidence_method(method) -> None:
    """Refuse an `evidence_method` that is not offered, naming the choices."""
    if method not in EVIDENCE_METHODS:
        raise ValueError(f"evidence_method={method!r} is not offered; choose from {', '.join(EVIDENCE_METHODS)}.")


def merge_pieces_into_words(
    piece_weights: torch.Tensor, word_ids: list[int | None], offsets: list[tuple[int, int]], text: str
) -> tuple[list[dict], torch.Tensor]:
    """Merge WordPiece-level weights into word-level weights.

    A word's weight is the sum of its pieces' weights (attention mass), so a document's word
    weights still sum to at most 1 per label. Special tokens and padding (`word_id is None`) are
    dropped.

    Args:
        piece_weights: `(num_labels, seq_len)` weights of every token position.
        word_ids: the tokenizer's word index of each position (`None` for special tokens/padding).
        offsets: `(start, end)` character span of each position in `text`.
        text: the document.

    Returns:
        `(words, weights)`: `words[i] = {"word", "start", "end"}` in document order and a
        `(num_labels, num_words)` tensor.
    """
    spans: dict[int, list[int]] = {}
    for word_id, (start, end) in zip(word_ids, offsets):
        if word_id is None:
            continue
        if word_id not in spans:
            spans[word_id] = [start, end]
        spans[word_id][1] = max(spans[word_id][1], end)
    order = sorted(spans)
    column = {word_id: i for i, word_id in enumerate(order)}
    positions = [p for p, word_id in enumerate(word_ids) if word_id is not None]
    targets = torch.tensor([column[word_ids[p]] for p in positions], dtype=torch.long)
    weights = torch.zeros(piece_weights.shape[0], len(order), dtype=torch.float32)
    weights.index_add_(1, targets, piece_weights[:, positions].float())
    words = [{"word": text[spans[w][0] : spans[w][1]], "start": spans[w][0], "end": spans[w][1]} for w in order]
    return words, weights


class LameClassificationPipeline(Pipeline):
    """Text in; for every label its probability, whether it is predicted, and its evidence words.

    Each result is a dict::

        {"text": str, "truncated": bool,
         "labels": [{"label", "score", "description", "predicted", "evidence": [{"word", "start", "end", "weight"}]}],
         "words": [{"word", "start", "end"}],
         "word_weights": {label: [one weight per word]}}

    Call with a list of texts and `batch_size=n` to run n texts per forward pass: the results are
    those of one-by-one calls (up to float rounding). An empty or whitespace-only text raises
    `ValueError`: with no words there is nothing to attribute a label to.

    Labels are sorted by score. A multi-label model predicts every label whose sigmoid score is at
    least `threshold`, by default the model's decision thresholds (`config.label_thresholds`, else
    `config.decision_threshold`: 0.5 unless `train.py --tune_thresholds` chose them on the validation
    split); a multi-class model predicts the arg-max of the softmax.
    Word weights are the last label-attention block's weights averaged over heads, pieces of a
    word summed. `evidence` lists the `top_k_evidence` highest-weighted words of predicted labels.
    `evidence_method="integrated_gradients"` takes them from Integrated Gradients of each predicted
    label's logit instead (the most probable label's when none is predicted; `integrated_gradients.py`):
    more faithful on HoC and many forward passes per label. `word_weights` then holds those labels
    only, each word's score clipped at 0, and the result says `"evidence_method"`.

    Texts are tokenized to `config.max_document_length` pieces when the model has it (the model reads
    them in segments and maps the weights back onto the text's pieces, so `start`/`end` are offsets
    in the whole text), else to the encoder's length; `max_length=` overrides either. `truncated`
    says whether the text had more pieces than that.

    Labels at call time (models with `config.label_scoring="label_agnostic"`), as in transformers'
    zero-shot-classification pipeline: `candidate_labels={name: description}`, or a list of names
    with `candidate_descriptions=[...]` in the same order, or a list of the model's own label names
    (their stored descriptions). The result then has exactly those labels, each scored from its
    description; the model's label set is not changed. A candidate that is also a model label keeps
    its threshold, any other gets `config.decision_threshold` (or `threshold=`).
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    # Optional for transformers, so that a folder without a tokenizer gets __init__'s error naming the
    # fix instead of transformers' "Couldn't instantiate the backend tokenizer".
    _load_tokenizer = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        require_tokenizer(self)

    def _sanitize_parameters(
        self,
        threshold=None,
        top_k_evidence=None,
        max_length=None,
        candidate_labels=None,
        candidate_descriptions=None,
        evidence_method=None,
        **kwargs,
    ):
        if kwargs:
            # A misspelt option would otherwise be ignored and the defaults used without a word.
            raise TypeError(
                f"{type(self).__name__} got unknown argument(s) {sorted(kwargs)}; it takes threshold, "
                "top_k_evidence, max_length, candidate_labels, candidate_descriptions, evidence_method (and the "
                "pipeline's batch_size)."
            )
        preprocess, forward, postprocess = {}, {}, {}
        if candidate_labels is not None or candidate_descriptions is not None:
            candidates = self._candidates(candidate_labels, candidate_descriptions)
            forward["candidates"] = postprocess["candidates"] = candidates
        # Checked here, before any text is read: each bad value is one error naming the parameter.
        if max_length is not None:
            preprocess["max_length"] = check_max_length(max_length, input_length_limit(self.model.config))
        if threshold is not None:
            postprocess["threshold"] = check_threshold(threshold)
        if top_k_evidence is not None:
            postprocess["top_k_evidence"] = check_integer(top_k_evidence, "top_k_evidence", 0)
        if evidence_method is not None and evidence_method != "attention":
            self._check_evidence_method(evidence_method)
            forward.update(evidence_method=evidence_method, threshold=postprocess.get("threshold"))
        return preprocess, forward, postprocess

    def _check_evidence_method(self, method) -> None:
        check_evidence_method(method)
        name, config = type(self).__name__, self.model.config
        if getattr(config, "max_document_length", None):
            raise ValueError(
                f"{name}: evidence_method={method!r} attributes through the input embeddings, which this model cannot "
                f"take: it reads documents in segments (max_document_length={config.max_document_length})."
            )
        if not hasattr(self.model, "get_input_embeddings"):
            raise ValueError(f"{name}: evidence_method={method!r} needs the PyTorch model's gradients; "
                             f"{type(self.model).__name__} has none.")

    def _candidates(self, candidate_labels, candidate_descriptions) -> dict:
        """`{"names", "descriptions", "token_ids"}` of the call's candidate labels, checked.

        Errors name the candidate at fault: an empty set, an empty name or description, a name given
        twice, a name without a description.
        """
        name = type(self).__name__
        config = self.model.config
        if candidate_labels is None:
            raise ValueError(f"{name}: candidate_descriptions needs candidate_labels (the names, in the same order).")
        if not getattr(config, "label_agnostic", False):
            raise ValueError(
                f"{name}: candidate_labels needs a model trained with label_scoring='label_agnostic'; this one has "
                f"label_scoring={getattr(config, 'label_scoring', 'label_specific')!r} (one output row per training label)."
            )
        if not hasattr(self.model, "encode_descriptions"):
            raise ValueError(
                f"{name}: candidate_labels needs the PyTorch model; {type(self.model).__name__} (e.g. an ONNX graph) "
                "holds its own label set's embeddings only."
            )
        if isinstance(candidate_labels, str):
            candidate_labels = [candidate_labels]
        if isinstance(candidate_labels, dict):
            if candidate_descriptions is not None:
                raise ValueError(f"{name}: candidate_labels is a {{name: description}} dict; drop candidate_descriptions.")
            labels = dict(candidate_labels)
        else:
            names = list(candidate_labels)
            if not names:
                raise ValueError(f"{name}: candidate_labels is empty; give at least one label.")
            seen = set()
            for label in names:
                key = label.strip() if isinstance(label, str) else label
                if key in seen:
                    raise ValueError(f"{name}: candidate label {label!r} is given twice.")
                seen.add(key)
            if candidate_descriptions is not None:
                texts = list(candidate_descriptions)
                if len(texts) != len(names):
                    raise ValueError(
                        f"{name}: {len(names)} candidate_labels but {len(texts)} candidate_descriptions; give one each."
                    )
            else:
                own = dict(zip(config.labels, config.label_descriptions or []))
                for label in names:
                    if label not in own:
                        raise ValueError(
                            f"{name}: candidate label {label!r} is not one of the model's labels, so it has no "
                            "description: pass candidate_labels={name: description} or candidate_descriptions=[...]."
                        )
                texts = [own[label] for label in names]
            labels = dict(zip(names, texts))
        names = check_label_names(labels, f"{name} candidate_labels")
        descriptions = [labels[label] for label in names]
        return {
            "names": names,
            "descriptions": descriptions,
            "token_ids": config.tokenize_descriptions(descriptions, self.tokenizer),
        }

    def preprocess(self, text: str, max_length: int | None = None) -> dict:
        check_text(text, f"{type(self).__name__}: a text")
        if not text.strip():
            # With no words the model would still "predict" labels from [CLS] and [SEP] alone.
            raise ValueError(
                f"{type(self).__name__}: a text is empty or whitespace only ({text!r}); there is nothing to classify."
            )
        # A model with max_document_length reads that many pieces in segments; others stop at the encoder's length.
        limit = max_length or input_length_limit(self.model.config, self.tokenizer)
        encoded = self.tokenizer(
            text, truncation=True, max_length=limit, return_offsets_mapping=True, return_overflowing_tokens=False
        )
        # Counting the full length only to report truncation: silence the "longer than maximum" warning.
        full_length = len(self.tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])
        # Model inputs are top-level `(1, seq_len)` tensors, so the pipeline's batching pads and
        # stacks them; the other fields are per-text values it gathers into lists.
        inputs = {
            key: torch.tensor([encoded[key]])
            for key in ("input_ids", "attention_mask", "token_type_ids")
            if key in encoded
        }
        return {
            **inputs,
            "word_ids": encoded.word_ids(),
            "offsets": [tuple(span) for span in encoded["offset_mapping"]],
            "text": text,
            "truncated": full_length > limit,
        }

    def _forward(
        self, inputs: dict, candidates: dict | None = None, evidence_method: str = "attention", threshold: float | None = None
    ) -> dict:
        model_inputs = {key: inputs[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in inputs}
        if candidates is not None:
            # Encoded per batch (a handful of short descriptions); the model's own label set and its
            # cache are not touched.
            model_inputs["description_embeddings"] = self.model.encode_descriptions(candidates["token_ids"])
        output = self.model(**model_inputs, output_cross_attentions=True)
        attributions = None
        if evidence_method == "integrated_gradients":
            attributions = self._integrated_gradients(model_inputs, output.logits, self._thresholds(candidates, threshold))
        model_inputs.pop("description_embeddings", None)
        # "logits" first: the pipeline reads the batch size from the first value when it unbatches.
        return {
            "logits": output.logits,  # (batch, labels)
            # (batch, heads, labels, tokens) of the last block, averaged over heads -> (batch, labels, tokens)
            "attention": output.cross_attentions[-1].mean(1),
            "attention_mask": model_inputs["attention_mask"],  # (batch, tokens): where the text's pieces are
            **({} if attributions is None else {"attributions": attributions}),
            **{key: value for key, value in inputs.items() if key not in model_inputs},
        }

    def _integrated_gradients(self, model_inputs: dict, logits: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
        """`(batch, labels, tokens)`: each text's explained labels' Integrated Gradients scores per piece
        (from a baseline of [PAD] embeddings, special tokens kept), NaN for the labels not explained."""
        embed = self.model.get_input_embeddings()
        ids = model_inputs["input_ids"]
        keep = torch.isin(ids, torch.tensor(self.tokenizer.all_special_ids, device=ids.device))
        with torch.no_grad():
            embeddings = embed(ids)
        baselines = padding_baseline(embed, ids, keep, self.tokenizer.pad_token_id)
        shared = {key: model_inputs[key] for key in ("description_embeddings",) if key in model_inputs}
        scores = torch.full(logits.shape + ids.shape[1:], float("nan"))
        for row in range(ids.shape[0]):
            text_inputs = {key: value[row : row + 1] for key, value in model_inputs.items() if key not in shared}
            probabilities, predicted = self._decide(logits[row].float(), thresholds)
            for label in explained_labels(predicted.tolist(), probabilities.tolist()):
                logit = label_logit(self.model, label, text_inputs, shared)
                scores[row, label] = integrated_gradients(logit, embeddings[row : row + 1], baselines[row : row + 1])[0].cpu()
        return scores

    def _thresholds(self, candidates: dict | None, threshold: float | None) -> torch.Tensor:
        """`(labels,)` decision thresholds of the model's labels, or of the call's candidate labels."""
        if candidates is None:
            return config_thresholds(self.model.config, threshold)
        return thresholds_for_labels(self.model.config, candidates["names"], threshold)

    def _decide(self, logits: torch.Tensor, thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(probabilities, predicted)` of one text's `(labels,)` logits: the arg-max of the softmax for a
        multi-class model, a sigmoid and the thresholds for a multi-label one."""
        if self.model.config.problem_type == "single_label_classification":
            probabilities = torch.softmax(logits, dim=-1)
            predicted = torch.zeros_like(probabilities, dtype=torch.bool)
            predicted[probabilities.argmax()] = True
            return probabilities, predicted
        probabilities = torch.sigmoid(logits)
        return probabilities, probabilities >= thresholds.to(probabilities.device)

    def postprocess(
        self, outputs: dict, threshold: float | None = None, top_k_evidence: int = 5, candidates: dict | None = None
    ) -> dict:
        config = self.model.config
        if candidates is None:
            names = [config.id2label[i] for i in range(config.num_labels)]
            descriptions = config.label_descriptions or [""] * config.num_labels
        else:
            names, descriptions = candidates["names"], candidates["descriptions"]
        scores, predicted = self._decide(outputs["logits"][0].float(), self._thresholds(candidates, threshold))
        # One text: (1, labels) logits and (1, labels, tokens) attention, tokens padded to the longest
        # text of its batch on the tokenizer's side; keeping the unmasked columns drops the padding.
        attributed = "attributions" in outputs
        piece_scores = outputs["attributions" if attributed else "attention"][0][:, outputs["attention_mask"][0].bool()]
        explained = ~piece_scores.isnan().any(-1) if attributed else predicted
        words, weights = merge_pieces_into_words(
            piece_scores.nan_to_num(0.0), outputs["word_ids"], outputs["offsets"], outputs["text"]
        )
        labels = []
        for index in range(len(names)):
            evidence = []
            if explained[index]:
                top = torch.topk(weights[index], k=min(top_k_evidence, len(words))).indices.tolist()
                # An attribution can be negative (evidence against the label): those words are not evidence.
                evidence = [{**words[i], "weight": float(weights[index, i])} for i in top if not attributed or weights[index, i] > 0]
            labels.append(
                {
                    "label": names[index],
                    "score": float(scores[index]),
                    "description": descriptions[index],
                    "predicted": bool(predicted[index]),
                    "evidence": evidence,
                }
            )
        labels.sort(key=lambda item: item["score"], reverse=True)
        result = {"text": outputs["text"], "truncated": outputs["truncated"], "labels": labels, "words": words}
        if not attributed:
            return {**result, "word_weights": {names[i]: weights[i].tolist() for i in range(len(names))}}
        shown = {names[i]: weights[i].clamp(min=0).tolist() for i in range(len(names)) if explained[i]}
        return {**result, "word_weights": shown, "evidence_method": "integrated_gradients"}


def register_lame_pipeline() -> None:
    """Register the pipeline task, so `pipeline(TASK_NAME, model=...)` and `save_pretrained` know it."""
    from transformers import AutoModelForSequenceClassification
    from transformers.pipelines import PIPELINE_REGISTRY

    PIPELINE_REGISTRY.register_pipeline(
        TASK_NAME,
        pipeline_class=LameClassificationPipeline,
        pt_model=AutoModelForSequenceClassification,
        type="text",
    )
