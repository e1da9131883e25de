"""Checks of the values a caller gives labelwise's pipelines and the endpoint handler.

Each bad value, of the wrong type or out of range, is one `ValueError` naming the parameter, the
value and the accepted range (a text that is not a string: `TypeError`), raised before any work is done: a string or NaN threshold would otherwise
predict nothing without a word, and a too-long `max_length` or a negative `top_k_evidence` would
surface as a tensor error deep in the model.

Remote code with no imports beyond the standard library: the pipelines import it as a sibling
(`from .pipeline_parameters import check_threshold`), and the endpoint handler loads the copy that
`push_to_hub.py` puts beside `handler.py`.
"""

from __future__ import annotations

import math
import numbers


def check_threshold(value, name: str = "threshold") -> float:
    """A decision threshold: a probability in [0, 1] (NaN, strings and booleans refused). Returns it as a float."""
    # bool is an int to Python, but `threshold=True` is a mistake, not 1.0.
    number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r} ({type(value).__name__}).")
    return number


def check_integer(value, name: str, low: int, high: int | None = None, why: str = "") -> int:
    """An integer in `[low, high]` (`high=None`: no upper bound); `why` says where the bound comes from."""
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not whole or value < low or (high is not None and value > high):
        accepted = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {accepted}{why}, got {value!r} ({type(value).__name__}).")
    return int(value)


def check_max_length(value, limit: int) -> int:
    """Tokenizer truncation length: at least one piece of text besides [CLS] and [SEP], at most `limit`,
    the longest input the model reads (`segments.input_length_limit(config)`: `max_document_length`,
    else the encoder's position embeddings)."""
    return check_integer(value, "max_length", 3, limit, why=" (the model reads at most that many pieces)")


def check_text(text, name: str = "text") -> str:
    """A text the tokenizer can read: a `str` that is valid Unicode (no lone surrogate, as left by a
    broken UTF-16 decoding or JSON's `"\\ud800"`)."""
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string (or a list of strings), got {type(text).__name__}.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{name} has a lone surrogate {text[error.start]!r} at character {error.start}: it is not valid "
            "Unicode (often a text decoded from broken UTF-16, or a JSON \\ud800-\\udfff escape without its pair). "
            "Fix or remove that character."
        ) from None
    return text
