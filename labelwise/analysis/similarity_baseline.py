"""The similarity baseline for labels unseen in training: cosine between document and description embeddings.

An untuned encoder (by default the packaged all-MiniLM-L6-v2, a sentence-embedding model) embeds
every document and every label description as the attention-masked mean of its last-layer token
states; a label's score for a document is the cosine of the two. Nothing is trained, so every label
is "zero-shot" here: it is the floor a label-agnostic model must clear on labels it never saw
(issue 13; `labelwise.experiments.label_groups` scores it beside the trained methods).

    from labelwise.analysis.similarity_baseline import similarity_scores
    scores = similarity_scores(documents, descriptions)   # (num_documents, num_labels) cosines in [-1, 1]
"""

from __future__ import annotations

import numpy as np
import torch

from labelwise.modeling.segments import masked_mean


def mean_pooled_embeddings(
    texts: list[str],
    model,
    tokenizer,
    max_length: int = 256,
    batch_size: int = 32,
    progress: str | None = None,
    pooling: str = "mean",
) -> np.ndarray:
    """`(len(texts), hidden)` L2-normalised masked means of the last-layer token states ([CLS]/[SEP] included,
    as sentence-transformers pools), computed without gradient in eval mode; texts truncated to `max_length` pieces.

    `progress` names a tqdm bar (none when `None`). `pooling="cls"` takes the [CLS] state instead of
    the mean (what LAME uses as a description's embedding), for comparing the two.
    """
    if pooling not in ("mean", "cls"):
        raise ValueError(f"pooling must be 'mean' or 'cls'; got {pooling!r}.")
    from tqdm.auto import tqdm

    if not texts:
        raise ValueError("mean_pooled_embeddings: no texts given.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    # Similar lengths together: less padding; the rows are put back in order afterwards.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts = []
    try:
        with torch.no_grad():
            for start in tqdm(range(0, len(texts), batch_size), desc=progress, disable=progress is None):
                rows = [texts[i] for i in order[start : start + batch_size]]
                encoded = tokenizer(rows, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
                encoded = {key: value.to(device) for key, value in encoded.items()}
                states = model(**encoded).last_hidden_state.float()  # (batch, seq, hidden)
                pooled = states[:, 0] if pooling == "cls" else masked_mean(states, encoded["attention_mask"])
                parts.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
    finally:
        model.train(was_training)
    embeddings = torch.cat(parts)[torch.as_tensor(order).argsort()]
    return embeddings.numpy()


def similarity_scores(
    documents: list[str],
    descriptions: list[str],
    model_name_or_path: str | None = None,
    max_length: int = 256,
    batch_size: int = 32,
    progress: bool = False,
    pooling: str = "mean",
) -> np.ndarray:
    """`(len(documents), len(descriptions))` cosine similarities between the untuned encoder's
    mean-pooled document and description embeddings.

    Args:
        documents: the texts to label.
        descriptions: one description per label, in label order.
        model_name_or_path: the encoder (a local folder or Hub id of a BERT-family model); default the
            packaged all-MiniLM-L6-v2 (`labelwise.default_backbone_path()`), loaded without network.
        max_length: word pieces per text (documents and descriptions).
        batch_size: texts per forward pass.
        progress: show tqdm bars.
        pooling: "mean" (masked mean of the token states, how the packaged MiniLM was trained) or
            "cls" (the [CLS] state).
    """
    from transformers import AutoModel, AutoTokenizer

    from labelwise.backbone import resolve_backbone

    if not descriptions:
        raise ValueError("similarity_scores: no label descriptions given.")
    for index, text in enumerate(descriptions):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"similarity_scores: description {index} is empty; every label needs one.")
    path = resolve_backbone(model_name_or_path or "default")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    labels = mean_pooled_embeddings(descriptions, model, tokenizer, max_length, batch_size,
                                    "descriptions" if progress else None, pooling)
    docs = mean_pooled_embeddings(documents, model, tokenizer, max_length, batch_size,
                                  "documents" if progress else None, pooling)
    return docs @ labels.T
