"""How a fine-tuned BERT uses its layers: the analysis of the layer-wise paper (section 5, appendix E).

For a set of documents it measures

- the mean **angular distance** between the [CLS] vectors of every pair of layers (Figure 3):
  `arccos(cos(u, v)) / pi` on L2-normalised vectors, in [0, 1]; 0.5 is a right angle;
- per layer, the **entropy of the head-averaged attention distribution** and the **mean KL
  divergence between the attention distributions of every pair of heads** (Table 2);
- the **KL divergence between the head-averaged attention distributions of two layers** (Figure 4).

The paper gives these quantities in words only; the conventions below are ours and stated
where the paper is silent:

- Layers are numbered 1..L: layer i is the output of transformer block i (`hidden_states[i]`,
  `attentions[i - 1]`); the embedding output is not a layer.
- An attention distribution is one row of a head's attention matrix: what one query token
  attends to. Padding is excluded on both sides: padded keys are zeroed and every row is
  renormalised over the real tokens (with an eager mask the padded weights are already ~0),
  and padded queries are ignored. [CLS] and [SEP] count as ordinary tokens.
- `query_tokens="all"` (default) averages a statistic over every real query token of a document;
  `query_tokens="cls"` uses only the [CLS] row, the one the classifiers read.
- Each document weighs the same: a statistic is first averaged over the document's query tokens,
  then over documents.
- Entropy and KL divergence are in nats (natural logarithm); a uniform distribution over n
  tokens has entropy log(n). KL(P || Q) = sum_k P_k log(P_k / Q_k) with Q clamped at 1e-12, so a
  key that one distribution ignores completely gives a large but finite value.
- Head KL: the mean of KL(head_i || head_j) over the H(H-1) ordered pairs i != j (equal to the mean
  over unordered pairs of the symmetrised KL). Layer KL is a full matrix: entry [a, b] is
  KL(layer a || layer b), not symmetric.

Attention weights are only returned by the eager attention implementation; `analyse_utilisation`
switches the encoder to eager for the analysis and restores the previous implementation after.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import math
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = [
    "UtilisationReport",
    "analyse_utilisation",
    "angular_distances",
    "attention_statistics",
    "find_encoder",
    "main",
]

logger = logging.getLogger(__name__)

_EPS = 1e-12
QUERY_TOKENS = ("all", "cls")


# ----------------------------------------------------------------------------------- the measures


def angular_distances(cls_vectors: torch.Tensor) -> torch.Tensor:
    """Pairwise angular distances between the [CLS] vectors of the layers, per document.

    Args:
        cls_vectors: `[batch, n_layers, hidden]`.

    Returns:
        `[batch, n_layers, n_layers]`, `arccos(cosine) / pi` in [0, 1], zero diagonal.
    """
    unit = torch.nn.functional.normalize(cls_vectors.double(), dim=-1)
    cosine = (unit @ unit.transpose(1, 2)).clamp(-1.0, 1.0)
    distances = torch.arccos(cosine) / math.pi
    # arccos is steep near 1: rounding leaves ~1e-8 on the diagonal; a vector is at distance 0 from itself.
    return distances * (1 - torch.eye(distances.shape[-1], dtype=distances.dtype))


def _masked_mean(values: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
    """Mean over the query axis (last) of `values` `[..., batch, T]` where `query_mask` `[batch, T]` is 1."""
    mask = query_mask.to(values.dtype)
    return (values * mask).sum(-1) / mask.sum(-1).clamp_min(1)


def attention_statistics(
    attentions: Sequence[torch.Tensor], key_mask: torch.Tensor, query_mask: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Entropy and KL statistics of one batch of attention maps, one value per document.

    Args:
        attentions: one tensor per layer, `[batch, heads, T, T]` (queries x keys), as returned
            by a BERT with `output_attentions=True`.
        key_mask: `[batch, T]`, 1 for real tokens, 0 for padding.
        query_mask: `[batch, T]`, 1 for the query rows to average over; defaults to `key_mask`.

    Returns:
        `entropy` `[batch, L]` (head-averaged distribution), `head_kl` `[batch, L]` (mean over
        ordered head pairs), `layer_kl` `[batch, L, L]` (KL(layer a || layer b) of the
        head-averaged distributions); each averaged over the document's query rows.
    """
    if query_mask is None:
        query_mask = key_mask
    # float32 for the [B, H, T, T] work (float64 doubles the time on CPU for no visible gain);
    # per-document means are returned in float64 and accumulated in float64 by the caller.
    keys = key_mask.to(torch.float32)[:, None, None, :]  # [B, 1, 1, T]
    queries = query_mask.to(torch.float32)
    entropies, head_kls, log_means, means = [], [], [], []
    for attention in attentions:
        probs = attention.to(torch.float32) * keys
        probs = probs / probs.sum(-1, keepdim=True).clamp_min(_EPS)  # [B, H, T, T]
        n_heads = probs.shape[1]
        log_probs = probs.clamp_min(_EPS).log()
        # sum_k p_i log p_i per head, and sum_k p_i log p_j for all head pairs in one batched matmul.
        self_term = torch.xlogy(probs, probs).sum(-1)  # [B, H, T]
        cross = torch.matmul(probs.transpose(1, 2), log_probs.permute(0, 2, 3, 1)).permute(0, 2, 3, 1)  # [B, H, H, T]
        pair_kl = self_term[:, :, None, :] - cross  # KL(head i || head j), [B, H, H, T]
        off_diagonal = 1 - torch.eye(n_heads, dtype=pair_kl.dtype)[None, :, :, None]
        head_kl = (pair_kl * off_diagonal).sum((1, 2)) / max(n_heads * (n_heads - 1), 1)  # [B, T]
        head_kls.append(_masked_mean(head_kl, queries))
        mean = probs.mean(1)  # head-averaged distribution, [B, T, T]
        entropies.append(_masked_mean(-torch.xlogy(mean, mean).sum(-1), queries))
        means.append(mean)
        log_means.append(mean.clamp_min(_EPS).log())
    stacked = torch.stack(means)  # [L, B, T, T]
    stacked_log = torch.stack(log_means)
    self_terms = torch.xlogy(stacked, stacked).sum(-1)  # [L, B, T]
    cross = torch.einsum("abtk,cbtk->acbt", stacked, stacked_log)  # [L, L, B, T]
    layer_kl = _masked_mean(self_terms[:, None] - cross, queries)  # [L, L, B]
    n_layers = layer_kl.shape[0]
    layer_kl = layer_kl * (1 - torch.eye(n_layers, dtype=layer_kl.dtype))[:, :, None]
    return {
        "entropy": torch.stack(entropies, dim=1).double(),
        "head_kl": torch.stack(head_kls, dim=1).double(),
        "layer_kl": layer_kl.permute(2, 0, 1).double(),
    }


# ------------------------------------------------------------------------------------ the report


@dataclass
class UtilisationReport:
    """The analysis of one model on one set of documents; all arrays indexed by layer 1..L."""

    angular_distance: np.ndarray  # [L, L]
    attention_entropy: np.ndarray  # [L]
    head_kl: np.ndarray  # [L]
    layer_kl: np.ndarray  # [L, L], row a, column b: KL(layer a || layer b)
    n_documents: int
    query_tokens: str = "all"
    max_length: int | None = None
    model_name: str = ""
    layers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.layers:
            self.layers = list(range(1, len(self.attention_entropy) + 1))

    def to_markdown(self) -> str:
        """Table 2 of the paper: per layer, entropy and mean head-pair KL divergence (nats)."""
        lines = [
            "| Layer | Entropy of head-averaged attention | Mean KL divergence between heads |",
            "|---:|---:|---:|",
        ]
        for layer, entropy, kl in zip(self.layers, self.attention_entropy, self.head_kl):
            lines.append(f"| {layer} | {entropy:.3f} | {kl:.3f} |")
        queries = "every real token" if self.query_tokens == "all" else "the [CLS] token"
        lines.append("")
        lines.append(
            f"{self.model_name + ': ' if self.model_name else ''}{self.n_documents} documents"
            f"{f', at most {self.max_length} tokens' if self.max_length else ''}; query rows of {queries}, "
            "padding excluded; natural logarithm."
        )
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {
            "model": self.model_name,
            "n_documents": self.n_documents,
            "max_length": self.max_length,
            "query_tokens": self.query_tokens,
            "layers": self.layers,
            "angular_distance": self.angular_distance.tolist(),
            "attention_entropy": self.attention_entropy.tolist(),
            "head_kl": self.head_kl.tolist(),
            "layer_kl": self.layer_kl.tolist(),
        }

    def save(self, output_dir: str | os.PathLike) -> dict[str, Path]:
        """Write `utilisation.json`, `attention_table.md`, `angular_distance.png` and
        `attention_kl_layers.png` into `output_dir`; return their paths by name."""
        output = Path(output_dir)
        output.mkdir(parents=True, exist_ok=True)
        paths = {
            "json": output / "utilisation.json",
            "table": output / "attention_table.md",
            "angular_distance_png": output / "angular_distance.png",
            "layer_kl_png": output / "attention_kl_layers.png",
        }
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        paths["table"].write_text(self.to_markdown(), encoding="utf-8")
        suffix = f"{self.model_name}, " if self.model_name else ""
        _heatmap(
            self.angular_distance,
            self.layers,
            f"Angular distance between [CLS] representations\n({suffix}{self.n_documents} documents)",
            "Angular distance (0.5 = 90°)",
            paths["angular_distance_png"],
            value_range=(0.0, None),
        )
        _heatmap(
            self.layer_kl,
            self.layers,
            f"KL divergence between head-averaged attention of layers\n({suffix}{self.n_documents} documents)",
            "KL(row layer || column layer), nats",
            paths["layer_kl_png"],
            value_range=(0.0, None),
        )
        return paths


def _heatmap(matrix: np.ndarray, layers: list[int], title: str, colour_label: str, path: Path, value_range) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    size = max(4.5, 0.45 * len(layers) + 2.5)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(matrix, cmap="viridis", vmin=value_range[0], vmax=value_range[1])
    ticks = range(len(layers))
    axes.set_xticks(ticks, [str(layer) for layer in layers])
    axes.set_yticks(ticks, [str(layer) for layer in layers])
    axes.set_xlabel("Layer")
    axes.set_ylabel("Layer")
    axes.set_title(title, fontsize=10)
    if len(layers) <= 16:  # values stay legible up to BERT-base depth
        threshold = np.nanmax(matrix) * 0.6 if matrix.size else 0
        for row in range(len(layers)):
            for column in range(len(layers)):
                value = matrix[row, column]
                axes.text(
                    column, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if value > threshold else "white",
                )
    colour_bar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colour_bar.set_label(colour_label)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# ---------------------------------------------------------------------------------- the analysis


def find_encoder(model: torch.nn.Module) -> torch.nn.Module:
    """The transformer encoder inside `model`: `model` itself if it is one (a `BertModel`, `RobertaModel`,
    `ModernBertModel`, ...), else `model.bert`, else `model.backbone` (LAME and the layer-wise model),
    else `model.base_model`.

    An encoder has `.embeddings` and its layers under `.encoder` (BERT, RoBERTa, DeBERTa, ELECTRA,
    XLM-R) or `.layers` (ModernBERT).
    """
    for name in ("", "bert", "backbone", "base_model"):
        candidate = getattr(model, name, None) if name else model
        if candidate is not None and hasattr(candidate, "embeddings") and (
            hasattr(candidate, "encoder") or hasattr(candidate, "layers")
        ):
            return candidate
    raise TypeError(
        f"{type(model).__name__} has no transformer encoder: expected an encoder model (e.g. BertModel, "
        "ModernBertModel), or a model with a `.bert`, `.backbone` or `.base_model` attribute that has "
        "`.embeddings` and `.encoder` or `.layers`."
    )


@contextmanager
def _eager_attention(encoder: torch.nn.Module):
    previous = encoder.config._attn_implementation
    encoder.set_attn_implementation("eager")
    if encoder.config._attn_implementation != "eager":
        raise RuntimeError(
            f"Could not switch {type(encoder).__name__} to eager attention (it stays "
            f"{encoder.config._attn_implementation!r}); attention weights are only returned by the eager implementation."
        )
    try:
        yield
    finally:
        if previous is not None and previous != "eager":
            encoder.set_attn_implementation(previous)


@torch.no_grad()
def analyse_utilisation(
    model: torch.nn.Module,
    tokenizer,
    texts: Sequence[str],
    *,
    max_length: int = 512,
    batch_size: int = 8,
    query_tokens: str = "all",
    device: str | torch.device | None = None,
    model_name: str = "",
    show_progress: bool = True,
) -> UtilisationReport:
    """Run the utilisation analysis of `model`'s encoder over `texts`.

    Args:
        model: an encoder (`BertModel`, `ModernBertModel`, ...), or a model holding one (LAME, the
            layer-wise model, a sequence classifier; see `find_encoder`); only the encoder runs.
        tokenizer: the model's tokenizer (adds [CLS]/[SEP], pads, truncates at `max_length`).
        texts: the documents, e.g. a development split's `text` column.
        max_length: truncation length in tokens (the paper uses 512).
        batch_size: documents per forward pass; attention maps take
            `batch * layers * heads * max_length^2 * 4` bytes.
        query_tokens: "all" (every real token's attention row) or "cls" (the [CLS] row only).
        device: where to run; defaults to the model's device.
        model_name: a name for titles and the table caption.
    """
    if query_tokens not in QUERY_TOKENS:
        raise ValueError(f"query_tokens must be one of {QUERY_TOKENS}; got {query_tokens!r}.")
    texts = list(texts)
    if not texts:
        raise ValueError("No texts to analyse.")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"Text {index} is {'empty' if isinstance(text, str) else type(text).__name__}; expected a non-empty string.")
    encoder = find_encoder(model)
    accepts_segments = "token_type_ids" in inspect.signature(encoder.forward).parameters
    original_device = next(encoder.parameters()).device
    device = torch.device(device) if device is not None else original_device
    was_training = encoder.training
    encoder.eval().to(device)
    sums: dict[str, torch.Tensor] = {}
    try:
        with _eager_attention(encoder):
            for start in tqdm(range(0, len(texts), batch_size), desc="Utilisation analysis", unit="batch", disable=not show_progress):
                # Right padding whatever the tokenizer's default: [CLS] must sit at position 0.
                batch = tokenizer(
                    texts[start : start + batch_size],
                    padding=True,
                    padding_side="right",
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                ).to(device)
                # Encoders without segment embeddings (ModernBERT) take no `token_type_ids` argument.
                segments = {"token_type_ids": batch["token_type_ids"]} if accepts_segments and "token_type_ids" in batch else {}
                outputs = encoder(
                    input_ids=batch["input_ids"],
                    attention_mask=batch["attention_mask"],
                    **segments,
                    output_hidden_states=True,
                    output_attentions=True,
                    return_dict=True,
                )
                if not outputs.attentions:
                    raise RuntimeError("The encoder returned no attention weights although eager attention is on.")
                key_mask = batch["attention_mask"]
                query_mask = key_mask
                if query_tokens == "cls":
                    query_mask = torch.zeros_like(key_mask)
                    query_mask[:, 0] = 1
                cls = torch.stack([state[:, 0] for state in outputs.hidden_states[1:]], dim=1)  # [B, L, H]
                values = attention_statistics(outputs.attentions, key_mask, query_mask)
                values["angular_distance"] = angular_distances(cls)
                for name, value in values.items():
                    total = value.sum(0).cpu()
                    sums[name] = sums[name] + total if name in sums else total
    finally:
        encoder.train(was_training).to(original_device)
    n = len(texts)
    return UtilisationReport(
        angular_distance=(sums["angular_distance"] / n).numpy(),
        attention_entropy=(sums["entropy"] / n).numpy(),
        head_kl=(sums["head_kl"] / n).numpy(),
        layer_kl=(sums["layer_kl"] / n).numpy(),
        n_documents=n,
        query_tokens=query_tokens,
        max_length=max_length,
        model_name=model_name,
    )


# ---------------------------------------------------------------------------------------- the CLI


def _read_texts(args: argparse.Namespace) -> list[str]:
    path = Path(args.texts)
    if path.is_file():
        texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        texts = [text for text in texts if text]
        if not texts:
            raise SystemExit(f"{path} has no non-empty line; expected one document per line.")
    else:
        try:
            from labelwise.data_scripts import ALIASES, CORPORA, load_corpus
        except ImportError as error:
            raise SystemExit(f"--texts {args.texts!r} is not a file, and corpora cannot be loaded here ({error}).") from error
        try:
            corpus = load_corpus(args.texts, data_dir=args.data_dir)
        except ValueError as error:
            if args.texts in CORPORA or args.texts in ALIASES:  # a real corpus error, not a typo
                raise
            raise SystemExit(f"--texts {args.texts!r} is neither a file nor a corpus: {error}") from error
        if args.split not in corpus:
            raise SystemExit(f"Corpus {args.texts!r} has no split {args.split!r}; it has {', '.join(corpus)}.")
        split = corpus[args.split]
        if args.text_column not in split.column_names:
            raise SystemExit(
                f"Split {args.split!r} of {args.texts!r} has no column {args.text_column!r}; "
                f"it has {', '.join(split.column_names)} (choose one with --text_column)."
            )
        texts = list(split[args.text_column])
    if args.max_documents is not None:
        texts = texts[: args.max_documents]
    return texts


def _display_name(model: str) -> str:
    from labelwise import DEFAULT_BACKBONE

    if model == DEFAULT_BACKBONE:
        return "all-MiniLM-L6-v2 (default backbone)"
    return Path(model.rstrip("/")).name or model


def main(argv: Sequence[str] | None = None) -> UtilisationReport:
    parser = argparse.ArgumentParser(
        prog="python -m labelwise.analysis.utilisation",
        description="Layer-utilisation analysis of a BERT-family model (layer-wise paper, section 5): "
        "angular distances between layers' [CLS] vectors, attention entropy and KL divergences.",
    )
    parser.add_argument("--model", required=True, help="Model folder (or a backbone name resolved by labelwise).")
    parser.add_argument("--tokenizer", default=None, help="Tokenizer folder (default: --model).")
    parser.add_argument("--texts", required=True, help="A text file with one document per line, or a corpus name (with --data_dir).")
    parser.add_argument("--data_dir", default=None, help="Corpus folder in its original format, when --texts is a corpus name.")
    parser.add_argument("--split", default="validation", help="Corpus split (default: validation, the paper's development data).")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--max_length", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_documents", type=int, default=None, help="Analyse only the first N documents.")
    parser.add_argument("--query_tokens", choices=QUERY_TOKENS, default="all")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--trust_remote_code", action="store_true")
    parser.add_argument("--name", default=None, help="Model name for figure titles and the table (default: the folder name).")
    args = parser.parse_args(argv)

    from transformers import AutoModel, AutoTokenizer

    from labelwise import resolve_backbone

    try:
        import labelwise.modeling  # noqa: F401  registers labelwise architectures with the Auto classes
    except ImportError as error:  # a model file being written must not break the analysis of plain BERTs
        logger.warning("labelwise.modeling could not be imported (%s); only standard architectures load.", error)
    model_path = resolve_backbone(args.model)
    texts = _read_texts(args)
    model = AutoModel.from_pretrained(model_path, trust_remote_code=args.trust_remote_code)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or model_path)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    report = analyse_utilisation(
        model,
        tokenizer,
        texts,
        max_length=args.max_length,
        batch_size=args.batch_size,
        query_tokens=args.query_tokens,
        device=device,
        model_name=args.name or _display_name(args.model),
    )
    paths = report.save(args.output_dir)
    print(report.to_markdown())
    for name, path in paths.items():
        print(f"{name}: {path}")
    return report


if __name__ == "__main__":
    main()
