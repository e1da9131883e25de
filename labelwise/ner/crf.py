"""A linear-chain CRF layer in torch: log-likelihood by the forward algorithm, Viterbi decoding.

Shapes: `emissions` (batch, time, num_tags) are per-position tag scores from the encoder;
`mask` (batch, time) is True on real tokens, a prefix per row (the first position is always
real); `tags` (batch, time) are gold tag ids (any value at masked positions).

The score of a tag path y over a sentence of length n is
    start[y_0] + sum_t emissions[t, y_t] + sum_{t>0} transitions[y_{t-1}, y_t] + end[y_{n-1}],
and p(y | x) = exp(score(y)) / Z with Z the sum over all num_tags**n paths.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LinearChainCRF"]


class LinearChainCRF(nn.Module):
    """Transition parameters plus the forward algorithm (training) and Viterbi (decoding)."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        # Small random values break the symmetry between tags without dominating the emissions.
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))  # [from, to]

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor) -> None:
        if emissions.dim() != 3 or emissions.size(-1) != self.num_tags:
            raise ValueError(f"emissions must be (batch, time, {self.num_tags}), got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask must be {tuple(emissions.shape[:2])}, got {tuple(mask.shape)}")
        if not bool(mask[:, 0].all()):
            raise ValueError("mask[:, 0] must be True: every sequence needs at least one token")

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of the `tags` paths, shape (batch,)."""
        self._check(emissions, mask)
        mask_f = mask.to(emissions.dtype)
        batch_index = torch.arange(emissions.size(0), device=emissions.device)
        score = self.start_transitions[tags[:, 0]] + emissions[batch_index, 0, tags[:, 0]]
        for t in range(1, emissions.size(1)):
            step = self.transitions[tags[:, t - 1], tags[:, t]] + emissions[batch_index, t, tags[:, t]]
            score = score + step * mask_f[:, t]
        last = tags[batch_index, mask.long().sum(1) - 1]
        return score + self.end_transitions[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z by the forward algorithm, shape (batch,)."""
        self._check(emissions, mask)
        alpha = self.start_transitions + emissions[:, 0]  # (batch, tags)
        for t in range(1, emissions.size(1)):
            # (batch, from, 1) + (from, to) + (batch, 1, to) -> logsumexp over `from`.
            candidate = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t : t + 1], candidate, alpha)
        return torch.logsumexp(alpha + self.end_transitions, dim=1)

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of -log p(tags | emissions), a scalar to minimise."""
        return (self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def viterbi_decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Highest-scoring tag path of each sequence, as lists of length `mask[i].sum()`."""
        self._check(emissions, mask)
        score = self.start_transitions + emissions[:, 0]  # (batch, tags)
        backpointers = []
        for t in range(1, emissions.size(1)):
            candidate = score.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1)  # (batch, from, to)
            best, index = candidate.max(dim=1)
            score = torch.where(mask[:, t : t + 1], best, score)
            backpointers.append(index)
        score = score + self.end_transitions
        lengths = mask.long().sum(1).tolist()
        paths = []
        for b, length in enumerate(lengths):
            tag = int(score[b].argmax())
            path = [tag]
            for t in range(length - 2, -1, -1):  # backpointers[t] maps the tag at t+1 to the best at t
                tag = int(backpointers[t][b, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths
