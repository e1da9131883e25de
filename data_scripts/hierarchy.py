"""Label hierarchies (EUROVOC, ICD-9, HoC taxonomy, demo): levels, ancestors, truncation.

A :class:`Hierarchy` is built from a parent map ``{label: [parent, ...]}`` in which roots
have an empty list. Labels may have several parents (EUROVOC has 241 such concepts), so the
structure is a directed acyclic graph, not a tree; every rule below is stated for that case
and is deterministic (it never depends on set or hash order).

Levels
    ``level(root) = 1`` and ``level(label) = 1 + min(level(parent) for parent in parents)``,
    i.e. the length of the *shortest* path from any root. A concept reachable both directly
    under a root and deeper down therefore sits at the shallower level, once.

Truncation (``truncate(min_level, max_level)``)
    Labels whose level is outside ``[min_level, max_level]`` are dropped. Kept labels at
    ``min_level`` become the roots (any other parent links they had are dropped too, so that
    every kept label's level shifts by exactly ``min_level - 1``). A dropped *deeper* label
    (level > ``max_level``) is redirected to its nearest kept ancestors (all of them when
    several parents lead to different kept ancestors) when documents are augmented; a dropped
    *shallower* label (level < ``min_level``) is simply removed from a document's labels,
    since it does not determine which of its descendants applies.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterable, Mapping

logger = logging.getLogger(__name__)


class HierarchyError(ValueError):
    """A parent map that is not a valid hierarchy (cycle, unknown parent, unknown label).

    Attributes:
        cycle: for a cycle, its labels ``[a, b, ..., a]`` (child -> parent), else None.
        unknown_links: for parents that are not labels, the ``(label, parent)`` links, else None.
        Readers of hierarchy files use them to name the lines at fault.
    """

    def __init__(
        self, message: str, *, cycle: list[str] | None = None, unknown_links: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.cycle = cycle
        self.unknown_links = unknown_links


class Hierarchy:
    """An acyclic label hierarchy with levels, ancestors, augmentation and truncation.

    Args:
        parents: ``{label: [parent, ...]}``; roots map to an empty list. The order of the
            keys is the hierarchy's label order, used wherever a stable order is needed.
        on_unknown_parent: ``"error"`` (default) raises :class:`HierarchyError` when a parent
            is not itself a key; ``"drop"`` removes such links, counts them in
            ``self.warnings["unknown_parent"]`` and logs one warning.
        redirect: internal, set by :meth:`truncate`: dropped deeper labels mapped to their
            nearest kept ancestors.
        dropped: internal, set by :meth:`truncate`: dropped shallower labels.
    """

    def __init__(
        self,
        parents: Mapping[str, Iterable[str]],
        *,
        on_unknown_parent: str = "error",
        redirect: Mapping[str, Iterable[str]] | None = None,
        dropped: Iterable[str] | None = None,
    ) -> None:
        if on_unknown_parent not in ("error", "drop"):
            raise ValueError(f"on_unknown_parent must be 'error' or 'drop', got {on_unknown_parent!r}")
        self.warnings: Counter[str] = Counter()
        self._parents: dict[str, tuple[str, ...]] = {}
        for label, label_parents in parents.items():
            label = str(label)
            # Keep the first occurrence of a repeated parent; order stays the given order.
            unique = tuple(dict.fromkeys(str(p) for p in label_parents))
            self._parents[label] = unique
        unknown = [(label, p) for label, ps in self._parents.items() for p in ps if p not in self._parents]
        if unknown:
            if on_unknown_parent == "error":
                shown = ", ".join(f"{label!r} -> {p!r}" for label, p in unknown[:5])
                raise HierarchyError(
                    f"{len(unknown)} parent link(s) point to labels that are not in the hierarchy "
                    f"(first: {shown}); pass on_unknown_parent='drop' to drop them with a warning",
                    unknown_links=unknown,
                )
            self.warnings["unknown_parent"] += len(unknown)
            logger.warning("Dropped %d parent link(s) to unknown labels, e.g. %r", len(unknown), unknown[0])
            self._parents = {
                label: tuple(p for p in ps if p in self._parents) for label, ps in self._parents.items()
            }
        self._index = {label: i for i, label in enumerate(self._parents)}
        self._children: dict[str, list[str]] = {label: [] for label in self._parents}
        for label, ps in self._parents.items():
            for p in ps:
                self._children[p].append(label)
        self._check_acyclic()
        self._levels = self._compute_levels()
        self._redirect = {str(k): tuple(v) for k, v in (redirect or {}).items()}
        self._dropped = frozenset(dropped or ())
        self._ancestor_cache: dict[str, frozenset[str]] = {}

    # ------------------------------------------------------------------ construction checks
    def _check_acyclic(self) -> None:
        """Raise HierarchyError naming one cycle (iterative DFS, so deep trees do not recurse)."""
        state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
        for start in self._parents:
            if start in state:
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            path: list[str] = []
            while stack:
                node, i = stack.pop()
                if i == 0:
                    state[node] = 1
                    path.append(node)
                parents = self._parents[node]
                if i < len(parents):
                    stack.append((node, i + 1))
                    nxt = parents[i]
                    if state.get(nxt) == 1:
                        cycle = path[path.index(nxt):] + [nxt]
                        raise HierarchyError(
                            "cycle in the label hierarchy: " + " -> ".join(cycle) + " (child -> parent)", cycle=cycle
                        )
                    if nxt not in state:
                        stack.append((nxt, 0))
                else:
                    state[node] = 2
                    path.pop()

    def _compute_levels(self) -> dict[str, int]:
        # Multi-source BFS from the roots over child links gives the shortest root distance.
        levels: dict[str, int] = {}
        queue = deque()
        for label, ps in self._parents.items():
            if not ps:
                levels[label] = 1
                queue.append(label)
        while queue:
            node = queue.popleft()
            for child in self._children[node]:
                if child not in levels:
                    levels[child] = levels[node] + 1
                    queue.append(child)
        return {label: levels[label] for label in self._parents}

    # ------------------------------------------------------------------ queries
    @property
    def labels(self) -> list[str]:
        """All labels, in the order of the parent map."""
        return list(self._parents)

    def __len__(self) -> int:
        return len(self._parents)

    def __contains__(self, label: object) -> bool:
        return label in self._parents

    def __repr__(self) -> str:
        return f"Hierarchy({len(self)} labels, {len(self.roots())} roots, depth {self.depth})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hierarchy) and self.to_dict() == other.to_dict()

    def parents(self, label: str) -> tuple[str, ...]:
        """Direct parents of `label` (empty for a root)."""
        return self._parents[self._require(label)]

    def children(self, label: str) -> list[str]:
        """Direct children of `label`, in hierarchy order."""
        return list(self._children[self._require(label)])

    def roots(self) -> list[str]:
        """Labels without parents, in hierarchy order."""
        return [label for label, ps in self._parents.items() if not ps]

    def levels(self) -> dict[str, int]:
        """``{label: level}`` with roots at 1 and ``1 + min`` over parents otherwise (module docstring)."""
        return dict(self._levels)

    def level(self, label: str) -> int:
        """The level of one label."""
        return self._levels[self._require(label)]

    @property
    def depth(self) -> int:
        """The deepest level (0 for an empty hierarchy)."""
        return max(self._levels.values(), default=0)

    def labels_at_level(self, n: int) -> list[str]:
        """Labels whose level is `n`, in hierarchy order."""
        return [label for label, lvl in self._levels.items() if lvl == n]

    def ancestors(self, label: str) -> set[str]:
        """All labels reachable through parent links (the label itself excluded)."""
        return set(self._ancestors(self._require(label)))

    def _ancestors(self, label: str) -> frozenset[str]:
        cached = self._ancestor_cache.get(label)
        if cached is None:
            found: set[str] = set()
            todo = list(self._parents[label])
            while todo:
                p = todo.pop()
                if p not in found:
                    found.add(p)
                    todo.extend(self._parents[p])
            cached = self._ancestor_cache[label] = frozenset(found)
        return cached

    def _require(self, label: str) -> str:
        if label not in self._parents:
            raise HierarchyError(f"unknown label {label!r}: not in this hierarchy of {len(self)} labels")
        return label

    # ------------------------------------------------------------------ document labels
    def augment(self, labels: Iterable[str], *, on_unknown: str = "error") -> list[str]:
        """Add all ancestors to a document's labels (after :meth:`kept_labels`).

        The result holds each label once, sorted by (level, hierarchy order), so it does not depend
        on the input order. ``on_unknown`` as in :meth:`kept_labels`.
        """
        out: set[str] = set()
        for label in self.kept_labels(labels, on_unknown=on_unknown):
            out.add(label)
            out.update(self._ancestors(label))
        return sorted(out, key=lambda x: (self._levels[x], self._index[x]))

    def kept_labels(self, labels: Iterable[str], *, on_unknown: str = "error") -> list[str]:
        """A document's own labels as this hierarchy keeps them, without ancestors.

        Each label as :meth:`map_label` maps it (labels dropped as too deep by :meth:`truncate` become
        their nearest kept ancestors, those dropped as too shallow vanish). Sorted as :meth:`augment` sorts.

        Args:
            labels: the document's labels.
            on_unknown: ``"error"`` raises :class:`HierarchyError` for a label that is
                neither in the hierarchy nor dropped by truncation; ``"ignore"`` skips it and
                counts it in ``self.warnings["unknown_label"]``.
        """
        out: set[str] = set()
        for label in labels:
            try:
                out.update(self.map_label(label))
            except HierarchyError:
                if on_unknown != "ignore":
                    raise
                self.warnings["unknown_label"] += 1
        return sorted(out, key=lambda x: (self._levels[x], self._index[x]))

    def map_label(self, label: str) -> tuple[str, ...]:
        """What `label` becomes in this (possibly truncated) hierarchy: itself, its nearest
        kept ancestors, or nothing."""
        if label in self._parents:
            return (label,)
        if label in self._redirect:
            return self._redirect[label]
        if label in self._dropped:
            return ()
        raise HierarchyError(f"unknown label {label!r}: not in this hierarchy of {len(self)} labels")

    # ------------------------------------------------------------------ truncation
    def truncate(self, min_level: int = 1, max_level: int | None = None) -> "Hierarchy":
        """Keep the levels ``min_level..max_level`` (1-based, inclusive), as the module docstring states.

        The returned hierarchy numbers its own levels from 1 (old level ``min_level``)."""
        max_level = self.depth if max_level is None else max_level
        if min_level < 1 or max_level < min_level:
            raise ValueError(f"need 1 <= min_level <= max_level, got min_level={min_level}, max_level={max_level}")
        kept = {label for label, lvl in self._levels.items() if min_level <= lvl <= max_level}

        nearest_cache: dict[str, tuple[str, ...]] = {}

        def nearest_kept(label: str) -> tuple[str, ...]:
            # Nearest kept ancestors of a label deeper than max_level, in hierarchy order.
            if label in nearest_cache:
                return nearest_cache[label]
            found: dict[str, None] = {}
            for p in self._parents[label]:
                if p in kept:
                    found[p] = None
                elif self._levels[p] > max_level:
                    found.update(dict.fromkeys(nearest_kept(p)))
            result = tuple(sorted(found, key=self._index.__getitem__))
            nearest_cache[label] = result
            return result

        new_parents: dict[str, list[str]] = {}
        for label, ps in self._parents.items():
            if label not in kept:
                continue
            if self._levels[label] == min_level:
                new_parents[label] = []
                continue
            mapped: dict[str, None] = {}
            for p in ps:
                if p in kept:
                    mapped[p] = None
                elif self._levels[p] > max_level:
                    mapped.update(dict.fromkeys(nearest_kept(p)))
            new_parents[label] = list(mapped)

        redirect: dict[str, tuple[str, ...]] = {}
        for label, lvl in self._levels.items():
            if lvl > max_level:
                redirect[label] = nearest_kept(label)
        # Earlier truncations chain: what was redirected before is redirected again.
        for label, targets in self._redirect.items():
            new_targets: dict[str, None] = {}
            for t in targets:
                if t in kept:
                    new_targets[t] = None
                elif t in redirect:
                    new_targets.update(dict.fromkeys(redirect[t]))
            redirect[label] = tuple(new_targets)
        dropped = {label for label, lvl in self._levels.items() if lvl < min_level} | set(self._dropped)
        # A redirect that leads nowhere (all kept ancestors were shallower) means "dropped".
        for label in [k for k, v in redirect.items() if not v]:
            dropped.add(label)
            del redirect[label]
        return Hierarchy(new_parents, redirect=redirect, dropped=dropped)

    def restrict(self, labels: Iterable[str]) -> "Hierarchy":
        """The hierarchy induced on a subset of labels (e.g. the codes a corpus uses).

        A kept label's parents become its nearest kept ancestors (walking up through dropped
        labels); levels are recomputed by the usual rule. Dropped labels redirect to their
        nearest kept ancestors when augmenting (or are dropped when they have none). The
        label order is this hierarchy's order."""
        keep = set(labels)
        unknown = keep - set(self._parents)
        if unknown:
            raise HierarchyError(f"cannot restrict to {len(unknown)} unknown label(s), e.g. {sorted(unknown)[:3]}")
        cache: dict[str, tuple[str, ...]] = {}

        def nearest(label: str) -> tuple[str, ...]:
            # Nearest kept ancestors of `label` (excluding itself), in hierarchy order.
            if label not in cache:
                found: dict[str, None] = {}
                for p in self._parents[label]:
                    if p in keep:
                        found[p] = None
                    else:
                        found.update(dict.fromkeys(nearest(p)))
                cache[label] = tuple(sorted(found, key=self._index.__getitem__))
            return cache[label]

        parents = {label: list(nearest(label)) for label in self._parents if label in keep}
        redirect, dropped = {}, set(self._dropped)
        for label in self._parents:
            if label not in keep:
                if nearest(label):
                    redirect[label] = nearest(label)
                else:
                    dropped.add(label)
        for label, targets in self._redirect.items():
            new: dict[str, None] = {}
            for t in targets:
                new.update(dict.fromkeys((t,) if t in keep else nearest(t)))
            if new:
                redirect[label] = tuple(new)
            else:
                dropped.add(label)
        return Hierarchy(parents, redirect=redirect, dropped=dropped)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        """JSON-serialisable form: ``{"parents": {...}, "redirect": {...}, "dropped": [...]}``."""
        return {
            "parents": {label: list(ps) for label, ps in self._parents.items()},
            "redirect": {label: list(ts) for label, ts in self._redirect.items()},
            "dropped": sorted(self._dropped),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Hierarchy":
        """Inverse of :meth:`to_dict`; also accepts a bare parent map."""
        if "parents" in data and isinstance(data["parents"], Mapping):
            return cls(data["parents"], redirect=data.get("redirect"), dropped=data.get("dropped"))
        return cls(data)

    @classmethod
    def from_paths(cls, paths: Iterable[str], separator: str = "--") -> "Hierarchy":
        """Build a tree from taxonomy paths such as ``"A--B--C"`` (every prefix becomes a node
        whose id is the prefix path)."""
        parents: dict[str, list[str]] = {}
        for path in paths:
            parts = [p.strip() for p in path.split(separator) if p.strip()]
            for i in range(len(parts)):
                node = separator.join(parts[: i + 1])
                if node not in parents:
                    parents[node] = [separator.join(parts[:i])] if i else []
        return cls(parents)
