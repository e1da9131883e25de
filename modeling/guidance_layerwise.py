"""Guidance variants of layer-wise guided training and the label-hierarchy graph search.

The algorithms behind [`LayerwiseConfig`] (which stays plain data and calls these to validate and
resolve itself) and [`LayerwiseBertForHierarchicalClassification`]. Shipped with every checkpoint
as remote code next to them (a single-dot sibling import): it imports only the standard library.
"""

from __future__ import annotations

GUIDANCE_VARIANTS = ("flat", "last_six", "one_by_one", "in_pairs", "hybrid")
"""The named variants of section 3 / Figure 1 of the paper, declared here once."""

DEFAULT_GUIDANCE = "last_six"
"""The paper's best variant: the default of `LayerwiseConfig` and of `train.py --guidance`."""


def normalise_guidance(variant: str) -> str:
    """`variant` as a name of `GUIDANCE_VARIANTS` (case, dashes and spaces forgiven); raises on others."""
    name = variant.strip().lower().replace("-", "_").replace(" ", "_")
    if name not in GUIDANCE_VARIANTS:
        raise ValueError(
            f"LayerwiseConfig.guidance must be one of {list(GUIDANCE_VARIANTS)} (or None with an explicit "
            f"layer_assignment), got {variant!r}."
        )
    return name


def resolve_guidance(variant: str, num_levels: int, num_layers: int) -> dict[int, list[int]]:
    """The layer assignment `{level: [layers]}` of a named variant (levels and layers 1-based).

    For a 12-layer encoder and 6 levels this is exactly the paper's Figure 1 / section 3:

    | variant      | L1     | L2     | L3     | L4     | L5      | L6      |
    |--------------|--------|--------|--------|--------|---------|---------|
    | `flat`       | 12     | 12     | 12     | 12     | 12      | 12      |
    | `last_six`   | 7      | 8      | 9      | 10     | 11      | 12      |
    | `one_by_one` | 2      | 4      | 6      | 8      | 10      | 12      |
    | `in_pairs`   | 1+2    | 3+4    | 5+6    | 7+8    | 9+10    | 11+12   |
    | `hybrid`     | 4      | 5      | 6+7    | 8+9    | 10+11   | 12      |

    Generalisation to N encoder layers and D levels (every variant ends at the last layer and the
    lower layers it does not use are left unguided, as in the paper):

    * `flat`: every level on layer N (one classifier over all labels, split by level). Any N, D.
    * `last_six`: the last D layers, level n on layer N - D + n. Needs N >= D.
    * `one_by_one`: "skip one, use one" downwards from the top, level n on layer N - 2(D - n).
      Needs N >= 2D.
    * `in_pairs`: level n on the pair (N - 2(D - n) - 1, N - 2(D - n)). Needs N >= 2D.
    * `hybrid`: positional: the two most general levels and the most specific level get one layer
      each, the D - 3 levels between them a pair each, packed against the top of the encoder
      (2D - 3 layers): level 1 on layer s, level 2 on s + 1, level k (3 <= k < D) on
      (s + 2k - 4, s + 2k - 3), level D on N, with s = N - 2D + 4. Needs D >= 3 and N >= 2D - 3.
      (The paper picks L1, L2 and L6 because they have the fewest labels; the general rule keeps
      the positions, not the label counts.) With D = 3 there is no level in between, so `hybrid`
      is `last_six` (`same_wiring` names such coincidences).

    Raises:
        ValueError: when the encoder is too shallow for the variant; the message gives the rule.
    """
    name = normalise_guidance(variant)
    D, N = num_levels, num_layers
    if D < 1 or N < 1:
        raise ValueError(f"LayerwiseConfig: need at least one level and one layer, got {D} levels and {N} layers.")

    def too_shallow(rule: str, needed: int) -> ValueError:
        return ValueError(
            f"LayerwiseConfig.guidance={name!r} cannot map {D} hierarchy levels onto a {N}-layer encoder: "
            f"{rule}, so it needs at least {needed} layers. Pick another guidance variant or give an explicit "
            f"layer_assignment={{level: [layers]}} (levels 1..{D}, layers 1..{N})."
        )

    if name == "flat":
        return {n: [N] for n in range(1, D + 1)}
    if name == "last_six":
        if N < D:
            raise too_shallow("last_six puts level n on layer N - D + n (one layer per level)", D)
        return {n: [N - D + n] for n in range(1, D + 1)}
    if name == "one_by_one":
        if N < 2 * D:
            raise too_shallow("one_by_one puts level n on layer N - 2(D - n) (skip one, use one)", 2 * D)
        return {n: [N - 2 * (D - n)] for n in range(1, D + 1)}
    if name == "in_pairs":
        if N < 2 * D:
            raise too_shallow("in_pairs puts level n on the layer pair (N - 2(D - n) - 1, N - 2(D - n))", 2 * D)
        return {n: [N - 2 * (D - n) - 1, N - 2 * (D - n)] for n in range(1, D + 1)}
    # hybrid
    if D < 3:
        raise ValueError(
            f"LayerwiseConfig.guidance='hybrid' needs at least 3 hierarchy levels (single layers for levels 1, 2 "
            f"and the last one, pairs in between), got {D}. Use 'last_six' or an explicit layer_assignment."
        )
    if N < 2 * D - 3:
        raise too_shallow("hybrid uses one layer for levels 1, 2 and D and a pair for each level in between", 2 * D - 3)
    start = N - 2 * D + 4
    assignment = {1: [start], 2: [start + 1]}
    for k in range(3, D):
        assignment[k] = [start + 2 * k - 4, start + 2 * k - 3]
    assignment[D] = [N]
    return assignment


def parent_generations(parents: list[list[int]], names: list[str] | None = None) -> list[list[int]]:
    """Label ids grouped so that every label comes after all its parents (roots first).

    Generation g holds the labels whose longest parent chain has g links. `parents[i]` lists the
    parent ids of label i; `names` (label names by id) only make the error message readable.

    Raises:
        ValueError: when the parent links have a cycle; the message names a label on it.
    """
    depth: dict[int, int] = {}
    for start in range(len(parents)):
        if start in depth:
            continue
        # Iterative DFS so deep hierarchies do not hit the recursion limit.
        stack = [(start, iter(parents[start]))]
        on_path = {start}
        while stack:
            node, pending = stack[-1]
            advanced = False
            for parent in pending:
                if parent in depth:
                    continue
                if parent in on_path:
                    name = names[parent] if names is not None else parent
                    raise ValueError(
                        f"LayerwiseConfig.label_parents has a cycle through label {name!r} "
                        f"(id {parent}); the hierarchy must be acyclic."
                    )
                stack.append((parent, iter(parents[parent])))
                on_path.add(parent)
                advanced = True
                break
            if not advanced:
                depth[node] = 1 + max((depth[p] for p in parents[node]), default=-1)
                on_path.discard(node)
                stack.pop()
    generations: list[list[int]] = [[] for _ in range(1 + max(depth.values(), default=0))]
    for label in range(len(parents)):
        generations[depth[label]].append(label)
    return [generation for generation in generations if generation]


def same_wiring(variant: str, num_levels: int, num_layers: int) -> list[str]:
    """The other named variants whose layer assignment equals `variant`'s for this depth and encoder.

    On a shallow hierarchy or encoder some variants coincide (`hybrid` is `last_six` at 3 levels,
    `one_by_one`, `last_six` and `flat` are all "level 1 on the last layer" at 1 level), and a grid
    over all five would then train the same model twice. Variants that cannot map this shape are
    skipped.
    """
    name = normalise_guidance(variant)
    wiring = resolve_guidance(name, num_levels, num_layers)
    same = []
    for other in GUIDANCE_VARIANTS:
        if other == name:
            continue
        try:
            if resolve_guidance(other, num_levels, num_layers) == wiring:
                same.append(other)
        except ValueError:
            continue
    return same
