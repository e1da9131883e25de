"""labelwise.analysis.viewer: words get their own label's weights, text is escaped, spans sit at their offsets."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from labelwise.analysis.viewer import prediction_kind, render_fragment, render_html

VOID = {"input", "meta", "br", "img", "link", "hr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]):
        self.tag, self.attrs, self.children = tag, attrs, []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)]


class TreeBuilder(HTMLParser):
    """A minimal DOM (the standard library has no HTML DOM); unescapes text and attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(markup: str) -> Node:
    builder = TreeBuilder()
    builder.feed(markup)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def words_of(text: str, pattern: str = r"\w+|[^\w\s]") -> list[dict]:
    return [{"word": m.group(), "start": m.start(), "end": m.end()} for m in re.finditer(pattern, text)]


def lame_prediction(text: str, weights: dict[str, list[float]], scores: dict[str, float], **extra) -> dict:
    labels = [
        {"label": name, "score": score, "description": f"about {name}", "predicted": score >= 0.5, "evidence": []}
        for name, score in scores.items()
    ]
    return {"text": text, "labels": labels, "words": words_of(text), "word_weights": weights, **extra}


TEXT = "Tumour  growth\nwas induced (angiogenesis)."  # two spaces, a newline, punctuation


def weight_vars(node: Node) -> dict[int, float]:
    style = node.attrs.get("style") or ""
    return {int(i): float(v) for i, v in re.findall(r"--w(\d+):([0-9.]+)", style)}


def test_each_word_carries_its_own_normalised_weight_per_label():
    words = words_of(TEXT)
    assert [w["word"] for w in words] == ["Tumour", "growth", "was", "induced", "(", "angiogenesis", ")", "."]
    growth = [0.1, 0.4, 0.0, 0.05, 0.0, 0.2, 0.0, 0.05]
    vessel = [0.0, 0.0, 0.0, 0.1, 0.0, 0.5, 0.25, 0.0]
    prediction = lame_prediction(TEXT, {"growth": growth, "vessel": vessel}, {"vessel": 0.7, "growth": 0.9})
    root = parse(render_fragment(prediction))

    radios = root.find_all("input")
    # labels by descending score: growth (0.9) first, and the top label is selected
    assert [r.attrs["value"] for r in radios] == ["growth", "vessel"]
    assert "checked" in radios[0].attrs and "checked" not in radios[1].attrs
    spans = root.find_all("span", "lw-w")
    assert [s.text() for s in spans] == [w["word"] for w in words]
    for index, span in enumerate(spans):
        expected = {0: growth[index] / 0.4, 1: vessel[index] / 0.5}
        expected = {k: v for k, v in expected.items() if round(v, 3) > 0}
        assert weight_vars(span) == pytest.approx(expected, abs=1e-3), span.text()
    # one CSS rule per label, each tied to its own radio and variable
    style = root.find_all("style")[-1].text()
    for i, radio in enumerate(radios):
        assert f"#{radio.attrs['id']}:checked~.lw-doc .lw-w{{background:rgba(255, 128, 0,var(--w{i},0))}}" in style


def test_document_text_is_reproduced_exactly_between_and_inside_words():
    prediction = lame_prediction(TEXT, {"x": [1.0] * 8}, {"x": 0.6})
    doc = parse(render_fragment(prediction)).find_all("div", "lw-doc")
    assert len(doc) == 1 and doc[0].text() == TEXT


def test_selected_label_and_unknown_label():
    prediction = lame_prediction(TEXT, {"a": [1.0] * 8, "b": [1.0] * 8}, {"a": 0.9, "b": 0.2})
    radios = parse(render_fragment(prediction, selected_label="b")).find_all("input")
    assert ["checked" in r.attrs for r in radios] == [False, True]
    with pytest.raises(ValueError, match="'zzz' is not one of the switchable labels"):
        render_fragment(prediction, selected_label="zzz")


def test_predicted_labels_always_get_a_switch_and_the_rest_are_capped():
    scores = {f"L{i:02d}": 0.49 - i * 0.01 for i in range(30)}
    scores["rare"] = 0.51  # predicted
    weights = {name: [0.5] * 8 for name in scores}
    root = parse(render_fragment(lame_prediction(TEXT, weights, scores), max_switch_labels=5))
    switch = [r.attrs["value"] for r in root.find_all("input")]
    assert switch == ["rare", "L00", "L01", "L02", "L03"]
    chips = root.find_all(cls="lw-label")
    assert len(chips) == 31 and sum("lw-off" in c.classes for c in chips) == 26
    assert [c.attrs["data-predicted"] for c in chips if "lw-pred" in c.classes] == ["true"]


HOSTILE = 'Rash <script>alert("x")</script> and <img src=x onerror="alert(1)"> " onmouseover="alert(2)" \' & done'


def assert_inert(markup: str) -> Node:
    root = parse(markup)
    tags = {node.tag for node in root.iter()}
    assert "script" not in tags and "img" not in tags
    for node in root.iter():
        assert not any(name.startswith("on") for name in node.attrs), (node.tag, node.attrs)
    return root


def test_markup_in_text_labels_and_descriptions_is_escaped():
    hostile_label = '<b onclick="alert(3)">bold</b>'
    # markup between words, after the last word, and one "word" that is a whole tag
    tag = '<img src=x onerror="alert(1)">'
    start = HOSTILE.index(tag)
    words = [w for w in words_of(HOSTILE, r"\w+") if not start <= w["start"] < start + len(tag)]
    words = sorted(words + [{"word": tag, "start": start, "end": start + len(tag)}], key=lambda w: w["start"])
    prediction = lame_prediction(HOSTILE, {hostile_label: [0.3] * len(words)}, {hostile_label: 0.8}, truncated=True)
    prediction["words"] = words
    prediction["labels"][0]["description"] = HOSTILE
    prediction["labels"][0]["evidence"] = [dict(words_of(HOSTILE)[1], weight=0.3)]
    page = render_html(prediction, title=HOSTILE)
    root = assert_inert(page)
    assert root.find_all("div", "lw-doc")[0].text() == HOSTILE
    assert root.find_all("title")[0].text() == HOSTILE
    assert hostile_label in [node.text() for node in root.find_all("span", "lw-name")]
    assert "<script>" not in page and 'onmouseover="' not in page

    middle = HOSTILE.index("and")
    ner = {
        "text": HOSTILE,
        "entities": [
            {"entity_group": '"><i>', "start": 0, "end": 4, "word": "Rash", "score": 0.9},
            {"entity_group": "ADR", "start": middle, "end": middle + 10, "word": "and <img s", "score": 0.9},
        ],
    }
    root = assert_inert(render_html(ner))
    assert root.find_all("div", "lw-doc")[0].text().replace('"><i>', "").replace("and <img sADR", "and <img s") == HOSTILE

    levels = {"text": HOSTILE, "levels": {"1": [{"label": "<script>x</script>", "score": 0.9, "predicted": True}]}}
    assert_inert(render_html(levels))


def test_page_is_self_contained():
    page = render_html(lame_prediction(TEXT, {"x": [1.0] * 8}, {"x": 0.6}))
    assert page.startswith("<!DOCTYPE html>") and 'charset="utf-8"' in page
    for pattern in ("http://", "https://", "src=", "href=", "@import", "url("):
        assert pattern not in page


def test_ner_spans_sit_at_their_offsets_with_scores_on_hover():
    text = "After the drug: severe rash, fever and nausea."
    spans = [
        {"entity_group": "ADR", "start": 29, "end": 34, "word": "fever", "score": 0.75},
        {"entity_group": "ADR", "start": 16, "end": 27, "word": "severe rash", "score": 0.9123},
    ]
    root = parse(render_fragment({"text": text, "entities": spans}))
    marks = [m for m in root.find_all("mark", "lw-ent") if "data-start" in m.attrs]
    assert [(int(m.attrs["data-start"]), int(m.attrs["data-end"])) for m in marks] == [(16, 27), (29, 34)]
    assert [m.children[0] for m in marks] == ["severe rash", "fever"]
    assert [m.attrs["title"] for m in marks] == ["ADR (score 0.912)", "ADR (score 0.750)"]
    doc = root.find_all("div", "lw-doc")[0]
    # the text outside the marks plus the marked words is the document, in order
    pieces = [c if isinstance(c, str) else c.children[0] for c in doc.children]
    assert "".join(pieces) == text


@pytest.mark.parametrize(
    "prediction, message",
    [
        ({"text": "ab", "entities": [{"entity_group": "ADR", "start": 1, "end": 5, "score": 1}]}, r"\['entities'\]\[0\]: span \(1, 5\) lies outside"),
        (
            {"text": "abcdef", "entities": [{"start": 0, "end": 3, "score": 1}, {"start": 2, "end": 4, "score": 1}]},
            r"\['entities'\]\[1\]: span \(2, 4\) overlaps",
        ),
        ({"text": "ab", "labels": [{"label": "x", "score": 0.5}], "words": [{"start": 0}], "word_weights": {}}, r"\['words'\]\[0\] needs integer"),
        (
            {"text": "a b", "labels": [{"label": "x", "score": 0.5}], "words": words_of("a b"), "word_weights": {"x": [1.0]}},
            r"\['word_weights'\]\['x'\] has 1 weights for 2 words",
        ),
        ({"text": "a", "labels": [{"score": 0.5}]}, r"\['labels'\]\[0\] has no 'label'"),
        (
            {"text": "a", "labels": [{"label": "x", "score": 0.9, "predicted": True}], "words": words_of("a"), "word_weights": {"y": [1.0]}},
            r"\['word_weights'\] has no weights for label\(s\) \['x'\]",
        ),
        ({"text": "a", "stuff": 1}, "Cannot tell the prediction kind"),
    ],
)
def test_inconsistent_predictions_are_rejected_with_the_field_named(prediction, message):
    with pytest.raises(ValueError, match=message):
        render_fragment(prediction)


def test_layerwise_levels_list_labels_by_score_with_predicted_marked():
    prediction = {
        "text": "Council directive on fish imports.",
        "levels": {
            "2": [{"label": "trade.fish", "score": 0.7, "predicted": True}, {"label": "trade.meat", "score": 0.1, "predicted": False}],
            "1": [{"label": "health", "score": 0.2, "predicted": False}, {"label": "trade", "score": 0.95, "predicted": True}],
        },
    }
    assert prediction_kind(prediction) == "levels"
    root = parse(render_fragment(prediction))
    tables = root.find_all("table")
    assert [t.attrs["data-level"] for t in tables] == ["1", "2"]
    rows = [[(r.attrs["data-label"], r.attrs["data-predicted"]) for r in t.find_all("tr")] for t in tables]
    assert rows == [[("trade", "true"), ("health", "false")], [("trade.fish", "true"), ("trade.meat", "false")]]
    assert [h.text() for h in root.find_all("h2")] == ["Level 1: 1 of 2 labels predicted", "Level 2: 1 of 2 labels predicted"]


def test_labels_without_word_weights_render_a_plain_label_list():
    prediction = {"text": "x y", "labels": [{"label": "b", "score": 0.2, "predicted": False}, {"label": "a", "score": 0.8, "predicted": True}]}
    root = parse(render_fragment(prediction))
    assert [c.attrs["data-label"] for c in root.find_all(cls="lw-label")] == ["a", "b"]
    assert root.find_all("span", "lw-w") == [] and root.find_all("div", "lw-doc")[0].text() == "x y"
