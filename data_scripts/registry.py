"""Name -> builder class registry behind ``load_corpus``."""

from __future__ import annotations

from typing import Any

from .base import CorpusBuilder, config_options
from .ade import Ade
from .brat import Brat
from .conll import Conll
from .demo import Demo, DemoHierarchical, DemoNer
from .eurlex57k import Eurlex57k
from .hoc import Hoc
from .medical_abstracts import MedicalAbstracts
from .mimic3 import Mimic3
from .tac2017 import Tac2017

CORPORA: dict[str, type[CorpusBuilder]] = {
    "demo": Demo,
    "demo_hierarchical": DemoHierarchical,
    "demo_ner": DemoNer,
    "hoc": Hoc,
    "medical_abstracts": MedicalAbstracts,
    "eurlex57k": Eurlex57k,
    "mimic3": Mimic3,
    "ade": Ade,
    "tac2017": Tac2017,
    "brat": Brat,
    "conll": Conll,
}

ALIASES: dict[str, str] = {"disease5": "medical_abstracts", "disease-5": "medical_abstracts", "ade_corpus_v2": "ade", "eurlex": "eurlex57k", "mimic": "mimic3", "mimic-iii": "mimic3", "tac": "tac2017"}


def resolve_name(name: str) -> str:
    """Canonical corpus name, or a ValueError listing the choices."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in CORPORA:
        choices = ", ".join(sorted(CORPORA)) + " (aliases: " + ", ".join(f"{a}={t}" for a, t in sorted(ALIASES.items())) + ")"
        raise ValueError(f"unknown corpus {name!r}; choose one of: {choices}")
    return key


def get_builder(
    name: str,
    data_dir: str | None = None,
    *,
    cache_dir: str | None = None,
    config_name: str | None = None,
    **config: Any,
) -> CorpusBuilder:
    """Instantiate the builder of corpus `name` with its options (nothing is generated yet)."""
    key = resolve_name(name)
    klass = CORPORA[key]
    valid = config_options(klass)
    unknown = sorted(set(config) - set(valid) - {"hash", "features", "writer_batch_size"})
    if unknown:
        raise ValueError(f"corpus {key!r} has no option(s) {unknown}; its options: {', '.join(valid)}")
    return klass(config_name=config_name, data_dir=data_dir, cache_dir=cache_dir, **config)
