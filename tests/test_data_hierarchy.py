"""Hierarchy: levels with several parents, ancestors, augmentation, truncation, errors, JSON."""

import json

import pytest

from labelwise.data_scripts import Hierarchy, HierarchyError

# r1 -> a -> a1 -> a1x ; r2 -> b ; "m" has parents a (level 2) and r2 (level 1): level 2.
PARENTS = {
    "r1": [],
    "r2": [],
    "a": ["r1"],
    "b": ["r2"],
    "a1": ["a"],
    "m": ["a", "r2"],
    "a1x": ["a1"],
}


def test_levels_use_shortest_path_for_multi_parent_labels():
    h = Hierarchy(PARENTS)
    assert h.levels() == {"r1": 1, "r2": 1, "a": 2, "b": 2, "a1": 3, "m": 2, "a1x": 4}
    assert h.depth == 4
    assert h.labels_at_level(2) == ["a", "b", "m"]
    assert h.roots() == ["r1", "r2"]
    assert h.children("a") == ["a1", "m"]


def test_ancestors_and_augment_are_order_independent():
    h = Hierarchy(PARENTS)
    assert h.ancestors("m") == {"a", "r1", "r2"}
    assert h.ancestors("r1") == set()
    assert h.augment(["a1x", "b"]) == ["r1", "r2", "a", "b", "a1", "a1x"]
    assert h.augment(["b", "a1x", "b"]) == h.augment(["a1x", "b"])
    with pytest.raises(HierarchyError, match="unknown label 'zz'"):
        h.augment(["zz"])
    assert h.augment(["zz", "b"], on_unknown="ignore") == ["r2", "b"]
    assert h.warnings["unknown_label"] == 1


def test_cycle_is_reported_with_its_path():
    with pytest.raises(HierarchyError, match=r"cycle .*(x -> y -> z -> x|y -> z -> x -> y|z -> x -> y -> z)"):
        Hierarchy({"root": [], "x": ["y"], "y": ["z"], "z": ["x"]})
    with pytest.raises(HierarchyError, match="cycle"):
        Hierarchy({"self": ["self"]})


def test_unknown_parent_error_or_counted_drop():
    with pytest.raises(HierarchyError, match="'c' -> 'ghost'"):
        Hierarchy({"c": ["ghost"]})
    h = Hierarchy({"c": ["ghost"], "d": ["c"]}, on_unknown_parent="drop")
    assert h.warnings["unknown_parent"] == 1
    assert h.levels() == {"c": 1, "d": 2}


def test_truncate_drops_levels_and_redirects_deeper_labels():
    h = Hierarchy(PARENTS)
    top = h.truncate(1, 2)
    assert top.labels == ["r1", "r2", "a", "b", "m"]
    # a1x (level 4) and a1 (level 3) map to their nearest kept ancestor a.
    assert top.augment(["a1x"]) == ["r1", "a"]
    assert top.map_label("a1") == ("a",)

    low = h.truncate(2, 4)
    # Level-2 labels become roots; the shallower r1/r2 vanish from documents.
    assert low.levels() == {"a": 1, "b": 1, "a1": 2, "m": 1, "a1x": 3}
    assert low.augment(["r1", "a1x"]) == ["a", "a1", "a1x"]

    middle = h.truncate(2, 3)
    assert middle.augment(["a1x", "r2"]) == ["a", "a1"]
    # Without ancestors: too-deep labels still map to their nearest kept ancestor, too-shallow ones vanish.
    assert middle.kept_labels(["a1x", "r2", "b"]) == ["b", "a1"]
    assert h.kept_labels(["a1x", "b", "a1x"]) == ["b", "a1x"]
    with pytest.raises(HierarchyError, match="unknown label 'zz'"):
        h.kept_labels(["zz"])
    with pytest.raises(ValueError, match="min_level"):
        h.truncate(3, 2)


def test_json_round_trip_keeps_truncation_maps():
    h = Hierarchy(PARENTS).truncate(2, 3)
    again = Hierarchy.from_dict(json.loads(json.dumps(h.to_dict())))
    assert again == h
    assert again.augment(["a1x"]) == h.augment(["a1x"])


def test_from_paths_builds_taxonomy_tree():
    h = Hierarchy.from_paths(["A--B--C", "A--D", "E"])
    assert h.to_dict()["parents"] == {"A": [], "A--B": ["A"], "A--B--C": ["A--B"], "A--D": ["A"], "E": []}


def test_restrict_to_used_labels_skips_dropped_intermediates():
    h = Hierarchy(PARENTS).restrict(["r1", "a1", "a1x", "m"])
    assert h.to_dict()["parents"] == {"r1": [], "a1": ["r1"], "m": ["r1"], "a1x": ["a1"]}
    assert h.levels() == {"r1": 1, "a1": 2, "m": 2, "a1x": 3}
    # "a" was dropped: it maps to its nearest kept ancestor; "r2"/"b" have none and vanish.
    assert h.augment(["a", "b"]) == ["r1"]
    with pytest.raises(HierarchyError, match="unknown"):
        Hierarchy(PARENTS).restrict(["nope"])
