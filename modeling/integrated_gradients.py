"""Integrated Gradients of one logit w.r.t. the word-piece embeddings, for the pipelines' evidence words.

Shipped with checkpoints as remote code (imports only torch), so a pipeline loaded from the Hub can
offer Integrated Gradients without an attribution library. It computes what captum's
`IntegratedGradients` computes with its default Gauss-Legendre rule (the explanation evaluation,
`labelwise.explain`, measures captum's; `tests/test_explain.py` checks that the two agree): the
gradient at `steps` points between a baseline and the input, weighted by the rule and multiplied by
`input - baseline`. The step count doubles from `steps` until the attributions add up to the
logit's change from baseline to input within `tolerance` of it (completeness), at most `max_steps`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

IG_STEPS = (16, 256)
IG_TOLERANCE = 0.05


def explained_labels(predicted: list[bool], scores: list[float]) -> list[int]:
    """The labels that get evidence by a costly method: the predicted ones, or the most probable one
    when none is predicted (each costs the method's full price)."""
    chosen = [index for index, flag in enumerate(predicted) if flag]
    return chosen or [max(range(len(scores)), key=scores.__getitem__)]


def label_logit(model, label: int, inputs: dict, shared: dict | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """`embeddings (n, seq_len, hidden) -> (n,)`: the model's logit of `label` for one text whose other
    inputs (`attention_mask`, `token_type_ids`: `(1, seq_len)` each) are repeated for every point;
    `shared` inputs (e.g. candidate labels' `description_embeddings`) are passed as they are."""
    rows = {key: inputs[key] for key in ("attention_mask", "token_type_ids") if key in inputs}

    def logit(embeddings: torch.Tensor) -> torch.Tensor:
        batch = {key: value.expand(embeddings.shape[0], -1) for key, value in rows.items()}
        return model(inputs_embeds=embeddings, **batch, **(shared or {})).logits[:, label]

    return logit


def padding_baseline(embed: torch.nn.Module, input_ids: torch.Tensor, keep: torch.Tensor, pad_id: int | None) -> torch.Tensor:
    """The reference input: the embeddings of `input_ids` with every piece outside `keep` (the special
    tokens) replaced by the padding token, `(batch, seq_len, hidden)`."""
    with torch.no_grad():
        return embed(torch.where(keep, input_ids, torch.full_like(input_ids, pad_id or 0)))


def gauss_legendre(steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`(points, weights)` of the `steps`-point Gauss-Legendre rule on [0, 1] (float64; the weights
    sum to 1), from the eigenvalues of the Legendre polynomials' Jacobi matrix (Golub-Welsch)."""
    k = torch.arange(1, steps, dtype=torch.float64)
    off_diagonal = k / torch.sqrt(4 * k * k - 1)
    nodes, vectors = torch.linalg.eigh(torch.diag(off_diagonal, 1) + torch.diag(off_diagonal, -1))
    return (nodes + 1) / 2, vectors[0] ** 2


def integrated_gradients(
    logit: Callable[[torch.Tensor], torch.Tensor],
    embeddings: torch.Tensor,
    baseline: torch.Tensor,
    steps: int = IG_STEPS[0],
    max_steps: int = IG_STEPS[1],
    tolerance: float = IG_TOLERANCE,
    batch_size: int = 16,
) -> tuple[torch.Tensor, int, bool]:
    """Attributions of `logit` to every embedding value, summed over the hidden size.

    Args:
        logit: maps `(n, seq_len, hidden)` embeddings to the explained logit, `(n,)`.
        embeddings, baseline: `(1, seq_len, hidden)`, the input and the reference it is compared with.

    Returns:
        `(scores, steps, converged)`: `(seq_len,)` scores, the step count used, and whether the
        completeness gap was within `tolerance` of the logit change.
    """
    with torch.no_grad():
        change = float(logit(embeddings)[0] - logit(baseline)[0])
    difference = embeddings - baseline
    while True:
        points, weights = gauss_legendre(steps)
        gradient_sum = torch.zeros_like(embeddings)
        for start in range(0, steps, batch_size):
            alphas = points[start : start + batch_size].to(embeddings.dtype)
            path = (baseline + alphas[:, None, None] * difference).detach().requires_grad_(True)
            with torch.enable_grad():
                (gradients,) = torch.autograd.grad(logit(path).sum(), path)
            step_weights = weights[start : start + batch_size].to(embeddings.dtype)
            gradient_sum += (step_weights[:, None, None] * gradients).sum(0, keepdim=True)
        attributions = (gradient_sum * difference)[0]
        converged = abs(float(attributions.sum()) - change) <= tolerance * max(abs(change), 1e-6)
        if converged or steps >= max_steps:
            return attributions.sum(-1).detach(), steps, converged
        steps *= 2
