"""LAME: fine-tuning an encoder with a label-attention head (Nguyen and Ji, 2022).

The encoder reads the document and every label's description. Each description's first-token state
(or the mean of its token states, `config.pools_descriptions`) is its label's query; a stack of
multi-head cross-attention blocks lets every label read the document's token states; an output
layer turns each label's vector into one logit.

The model is split by job into sibling files, all shipped with every LAME checkpoint as remote code
(they import only torch, transformers and each other):

- `labels_lame.py`: the label set, its descriptions' embeddings and their caches;
- `head_lame.py`: the label-attention blocks, the output layers and the F-measure loss;
- `large_labels_lame.py`: the first stage, sampled training and inference shortlists;
- `segments.py`: documents longer than the encoder's window;
- `saved_folder.py`: `save_pretrained` that also writes the pipeline's code;
- this file: the model, which runs them in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import BertPreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ModelOutput

from .configuration_lame import LameConfig
from .encoders import ENCODER_ATTRIBUTE, build_encoder, load_with_encoder, run_encoder
from .head_lame import (  # noqa: F401  (padding_fill_value: part of this module's interface)
    LameConvFeatures,
    LameDescriptionOutput,
    LameDocumentClassifier,
    LameLabelBlock,
    LameLabelwiseOutput,
    add_first_stage_loss,
    classification_loss,
    f_measure_loss,
    infer_problem_type,
    padding_fill_value,
)
from .labels_lame import LameLabelSet, check_label_names, length_chunks  # noqa: F401
from .large_labels_lame import LabelChoice, LameFirstStage, LameLargeLabelSets, shortlist_recall  # noqa: F401
from .saved_folder import CompleteFolderMixin
from .segments import DocumentSegments, masked_mean, split_for_encoder


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



@dataclass
class DocumentStates:
    """What the label attention reads of a batch of documents ([`LameForSequenceClassification.read_documents`]).

    Attributes:
        encoder_output: the encoder's output (per segment when segmenting).
        tokens: `(batch, seq_len, hidden)` token states (segments side by side for long documents;
            CNN features with `config.feature_head="cnn"`).
        mask: `(batch, seq_len)` 1 for real tokens, 0 for padding.
        segments: how long documents were split, or `None`.
        vectors: `(batch, hidden)` masked mean token states, or `None` when nothing reads them.
    """

    encoder_output: ModelOutput
    tokens: torch.Tensor
    mask: torch.Tensor
    segments: DocumentSegments | None
    vectors: torch.Tensor | None


class LameForSequenceClassification(CompleteFolderMixin, LameLabelSet, LameLargeLabelSets, BertPreTrainedModel):
    """An encoder with a label-attention head, for multi-class (softmax) or multi-label (sigmoid) classification.

    The encoder is any `AutoModel` (BERT, RoBERTa, DeBERTa-v2, ELECTRA, XLM-R, ModernBERT, ...), built
    from `config.encoder` and held as `self.backbone`. Warm-start from any encoder checkpoint::

        model = LameForSequenceClassification.from_pretrained(
            "dmis-lab/biobert-base-cased-v1.2",
            label_descriptions={"neoplasms": "Tumours and cancers ...", ...},
            problem_type="single_label_classification",
        )

    The encoder weights load with the encoder's own class (weights the checkpoint lacks are named in
    a warning); the head is initialised fresh. The label descriptions are tokenized with the
    checkpoint's own tokenizer and stored in the config, so the saved model is self-contained.
    """

    config_class = LameConfig
    base_model_prefix = ENCODER_ATTRIBUTE
    # The loss is a mean over the batch and does not use `num_items_in_batch`: tell the Trainer,
    # or gradient accumulation scales gradients by the number of accumulation steps.
    accepts_loss_kwargs = False

    def __init__(self, config: LameConfig):
        super().__init__(config)
        self.backbone = build_encoder(config.encoder)
        self.feature_head = LameConvFeatures(config) if config.feature_head == "cnn" else None
        self.label_blocks = nn.ModuleList(LameLabelBlock(config) for _ in range(config.num_label_attention_blocks))
        self.classifier = LameDescriptionOutput(config) if config.label_agnostic else LameLabelwiseOutput(config)
        self.first_stage = LameFirstStage(config) if config.uses_first_stage else None
        self.document_classifier = LameDocumentClassifier(config) if config.uses_document_classifier else None
        self._init_label_caches()
        if config.freeze_encoder:
            self.backbone.requires_grad_(False)
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
        With `config.document_classifier` the head's biases start at that mean and the document
        classifier's at each label's difference from it, so that their sum is the label's log-odds.
        """
        if log_odds.shape != (self.config.num_labels,):
            raise ValueError(f"initialize_label_biases: expected {self.config.num_labels} log-odds, got {tuple(log_odds.shape)}.")
        for layer in (self.classifier, self.first_stage):
            if layer is None:
                continue
            if getattr(layer, "bias", None) is None:
                layer.label_bias.bias.fill_(log_odds.mean().item())
            elif layer is self.classifier and self.document_classifier is not None:
                layer.bias.fill_(log_odds.mean().item())
            else:
                layer.bias.copy_(log_odds.to(layer.bias.dtype))
        if self.document_classifier is not None:
            bias = self.document_classifier.linear.bias
            bias.copy_((log_odds - log_odds.mean()).to(bias.dtype))

    # ----------------------------------------------------------------- label embeddings
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load a LAME checkpoint (of any release), or warm-start one from a plain encoder checkpoint
        ([`load_with_encoder`]).

        When the config has descriptions but no description token ids (a plain encoder checkpoint plus
        `label_descriptions=`), the checkpoint's tokenizer is loaded to tokenize them.
        """
        model, info = load_with_encoder(cls, pretrained_model_name_or_path, model_args, kwargs)
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
            model.backbone.requires_grad_(False)  # loading weights re-creates the parameters
            model.backbone.eval()
        return (model, info) if kwargs.get("output_loading_info") else model

    def train(self, mode: bool = True):
        self.clear_label_cache()
        super().train(mode)
        if self.config.freeze_encoder:
            # A frozen encoder is a feature extractor: no dropout noise in its features.
            self.backbone.eval()
        return self

    def load_state_dict(self, *args, **kwargs):
        self.clear_label_cache()
        self._training_cache = None
        return super().load_state_dict(*args, **kwargs)


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
            input_ids: `(batch, seq_len)` document token ids; up to `config.max_document_length` when set
                (split into segments of the encoder's length, [`encode_documents`]).
            attention_mask: `(batch, seq_len)`, 1 for tokens, 0 for (right) padding.
            labels: `(batch,)` class ids (single-label) or `(batch, num_labels)` 0/1 floats (multi-label).
            output_cross_attentions: also return every block's label-attention weights,
                `(batch, heads, num_labels, seq_len)`; column j is input position j, also for a segmented
                document. (Not "label...": the Trainer takes such forward arguments for targets.)
            description_embeddings: `(k, hidden)` from [`encode_descriptions`]: score these k
                descriptions instead of the model's labels (label-agnostic heads, inference only).

        Returns:
            [`LameClassifierOutput`], `logits` `(batch, num_labels)` (or `(batch, k)`).
        """
        self._check_description_embeddings(description_embeddings, labels)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        documents = self.read_documents(
            input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_attentions, output_hidden_states
        )
        if labels is not None:
            infer_problem_type(self.config, labels)
        choice = self.choose_labels(documents.vectors, labels, description_embeddings)
        partial, weights = self.run_head(
            choice.embeddings, choice.label_ids, documents.tokens, documents.mask,
            bool(output_cross_attentions) and not choice.sampled, documents.vectors,
        )
        logits = self.complete_logits(partial, choice, documents)
        # The free per-label rows score the model's own labels only, not call-time descriptions.
        document_logits = None
        if self.document_classifier is not None and description_embeddings is None:
            document_logits = self.document_classifier(documents.vectors)
            logits = logits + document_logits.to(logits.dtype)
        loss = None
        if labels is not None:
            # Sampled training: the loss covers the sampled labels, weighted to estimate the all-label loss.
            sample_only = choice.column_weights is not None
            if sample_only and document_logits is not None:
                partial = partial + document_logits[:, choice.label_ids].to(partial.dtype)
            loss = self.compute_loss(
                partial if sample_only else logits, labels, choice.label_ids if sample_only else None, choice.column_weights
            )
            loss = add_first_stage_loss(self.config, loss, choice.first_stage_logits, labels)
        output = LameClassifierOutput(
            loss=loss,
            logits=logits,
            cross_attentions=self._input_attentions(weights, choice, documents, logits.shape[-1]),
            hidden_states=documents.encoder_output.hidden_states,
            attentions=documents.encoder_output.attentions,
        )
        return output if return_dict else output.to_tuple()

    def read_documents(self, *encoder_args) -> DocumentStates:
        """[`encode_documents`] (same arguments), plus the documents' mean token states when the first
        stage or the similarity term reads them (computed once) and the CNN features when configured."""
        encoder_output, tokens, mask, segments = self.encode_documents(*encoder_args)
        needs_mean = self.first_stage is not None or self.config.uses_similarity_term or self.document_classifier is not None
        vectors = masked_mean(tokens, mask) if needs_mean else None
        if self.feature_head is not None:
            tokens = self.feature_head(tokens, mask)
        return DocumentStates(encoder_output, tokens, mask, segments, vectors)

    def _input_attentions(
        self, weights: list[torch.Tensor] | None, choice: LabelChoice, documents: DocumentStates, num_labels: int
    ) -> tuple[torch.Tensor, ...] | None:
        """The head's per-block weights -> `(batch, heads, num_labels, seq_len)` over the input's positions."""
        if not weights:
            return None
        weights = self.all_label_rows(weights, choice, num_labels)
        if documents.segments is not None:
            # Weights over segment slots -> weights over the input's pieces, so that column j is
            # input_ids[:, j] (and the tokenizer's offsets of position j) for the pipeline.
            weights = [documents.segments.fold(block_weights) for block_weights in weights]
        return tuple(weights)

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
        # An explicit None would stop the encoder from falling back to its config: resolve against ours.
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        encoder_out = run_encoder(
            self.backbone, **encoder_inputs, output_attentions=output_attentions, output_hidden_states=output_hidden_states
        )
        tokens = encoder_out.last_hidden_state
        if segments is not None:
            tokens, token_mask = segments.token_states(tokens)
        elif attention_mask is None:
            token_mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
        else:
            token_mask = attention_mask
        return encoder_out, tokens, token_mask, segments


    def run_head(
        self,
        label_embeddings: torch.Tensor,
        label_ids: torch.Tensor | None,
        tokens: torch.Tensor,
        token_mask: torch.Tensor,
        need_weights: bool,
        document_vectors: torch.Tensor | None = None,
        blocks_with_gradient: bool = True,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """The label-attention blocks and the output layer, `config.label_chunk_size` labels at a time.

        Each label's path through the head reads only its own state and the document, so chunks
        give the same logits as one pass, with the (batch, heads, labels, tokens) attention held
        for one chunk at a time.

        Args:
            label_embeddings: `(k, hidden)` shared by the batch, or `(batch, k, hidden)` per document.
            label_ids: `None` when the k labels are all labels in id order, else `(k,)` or `(batch, k)`.
            tokens: `(batch, seq_len, hidden)` token states the labels read.
            token_mask: `(batch, seq_len)`.
            need_weights: also return each block's `(batch, heads, k, seq_len)` attention weights.
            document_vectors: `(batch, hidden)` mean token states, for `config.uses_similarity_term`.
            blocks_with_gradient: `False` runs the blocks without gradient (nothing of their
                activations is kept), so only the output layer is trained by these logits
                (`config.all_label_loss_gradient="output_layer"`).

        Returns:
            `(batch, k)` logits and the per-block weights (or `None`).
        """
        block_gradient = blocks_with_gradient and torch.is_grad_enabled()
        # Each block's keys and values are computed once and shared by every chunk of labels.
        with torch.set_grad_enabled(block_gradient):
            keys_values = [block.project_tokens(tokens) for block in self.label_blocks]
        count = label_embeddings.shape[-2]
        chunk = self.config.label_chunk_size or count
        logits, weights = [], [[] for _ in self.label_blocks]
        for start in range(0, count, chunk):
            states = label_embeddings[..., start : start + chunk, :]
            ids = slice(start, start + chunk) if label_ids is None else label_ids[..., start : start + chunk]
            with torch.set_grad_enabled(block_gradient):
                for index, (block, (keys, values)) in enumerate(zip(self.label_blocks, keys_values)):
                    states, block_weights = block.attend(states, keys, values, token_mask, need_weights)
                    if need_weights:
                        weights[index].append(block_weights)
            logits.append(self.classifier(states, ids, label_embeddings[..., start : start + chunk, :], document_vectors))
        logits = torch.cat(logits, dim=-1)
        return logits, [torch.cat(parts, dim=2) for parts in weights] if need_weights else None


    def compute_loss(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        label_ids: torch.Tensor | None = None,
        label_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The loss of `logits` against `labels` ([`classification_loss`], which documents the arguments)."""
        return classification_loss(self.config, logits, labels, label_ids, label_weights)
