"""Prepare a corpus once and publish it the Hub-native way: Parquet files plus a dataset card.

    python -m labelwise.data_scripts.prepare hoc --data_dir ../shared/data/hoc --output_dir out/hoc
    python -m labelwise.data_scripts.prepare demo --output_dir out/demo
    python -m labelwise.data_scripts.prepare medical_abstracts --data_dir ... --push_to_hub user/disease5
    python -m labelwise.data_scripts.prepare eurlex57k --data_dir ... --config max_level=3 --config augment=true

``--output_dir`` writes ``data/<split>.parquet`` (features, ClassLabel names included, are
kept in the Parquet schema), ``label_space.json`` (task, names, descriptions, hierarchy) and a
``README.md`` whose ``configs:`` section lets ``datasets.load_dataset(<output_dir>)`` or the Hub
read the splits. ``--push_to_hub`` uses ``DatasetDict.push_to_hub`` and uploads
``label_space.json`` next to the data. Never publish corpora whose licence forbids it
(MIMIC-III may not be redistributed).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import datasets

from labelwise.cli_errors import cli_main, note_output_path

from .base import LabelSpace, as_dataset_dict, prepare_builder
from .registry import CORPORA, get_builder, resolve_name


def parse_config(items: list[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` -> dict; values are read as JSON when they parse (numbers, lists,
    true/false/null), else kept as strings."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--config expects key=value, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def build(name: str, data_dir: str | None, cache_dir: str | None, config: dict[str, Any], force_rebuild: bool = False) -> tuple[datasets.DatasetDict, LabelSpace, Any]:
    """Prepare corpus `name` and return its splits, label space and builder."""
    builder = get_builder(name, data_dir=data_dir, cache_dir=cache_dir, **config)
    prepare_builder(builder, force_rebuild)
    return as_dataset_dict(builder), builder.label_space(), builder


def dataset_card(name: str, ds: datasets.DatasetDict, space: LabelSpace, config: dict[str, Any]) -> str:
    """README.md with the ``configs:`` section that maps splits to the Parquet files."""
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in ds:
        lines += [f"  - split: {split}", f"    path: data/{split}.parquet"]
    lines += ["---", "", f"# {name}", "", f"Prepared with `labelwise.data_scripts.prepare {name}`"]
    if config:
        lines[-1] += " and the options `" + json.dumps(config, sort_keys=True) + "`"
    lines += [".", "", f"Task: {space.task}; {space.num_labels} labels; label names, descriptions and hierarchy in `label_space.json`.", "", "| split | examples |", "|---|---|"]
    lines += [f"| {split} | {len(d)} |" for split, d in ds.items()]
    doc = CORPORA[resolve_name(name)].__module__
    lines += ["", f"Format, splits and bad-input policy: the docstring of `{doc}` and docs/DATA.md of labelwise.", ""]
    return "\n".join(lines)


def write_parquet(ds: datasets.DatasetDict, space: LabelSpace, output_dir: str | os.PathLike, name: str, config: dict[str, Any]) -> Path:
    """Write ``data/<split>.parquet``, ``label_space.json`` and ``README.md`` to `output_dir`."""
    out = Path(output_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for split, d in ds.items():
        d.to_parquet(str(out / "data" / f"{split}.parquet"))
    (out / "label_space.json").write_text(json.dumps(space.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "README.md").write_text(dataset_card(name, ds, space, config), encoding="utf-8")
    return out


def push(ds: datasets.DatasetDict, space: LabelSpace, repo_id: str, private: bool = False, token: str | None = None) -> None:
    """``DatasetDict.push_to_hub`` (Parquet + configs) and ``label_space.json`` beside it."""
    from huggingface_hub import HfApi

    ds.push_to_hub(repo_id, private=private, token=token)
    HfApi(token=token).upload_file(
        path_or_fileobj=json.dumps(space.to_dict(), indent=1, ensure_ascii=False).encode("utf-8"),
        path_in_repo="label_space.json",
        repo_id=repo_id,
        repo_type="dataset",
        commit_message="Add label_space.json (labels, descriptions, hierarchy)",
    )


@cli_main("python -m labelwise.data_scripts.prepare")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Prepare a corpus and write Parquet or push it to the Hub.")
    parser.add_argument("name", help=f"corpus: {', '.join(sorted(CORPORA))}")
    parser.add_argument("--data_dir", help="folder with the corpus in its original format (default: download)")
    parser.add_argument("--output_dir", help="write data/<split>.parquet, label_space.json and README.md here")
    parser.add_argument("--push_to_hub", metavar="REPO_ID", help="push the splits to this Hub dataset repository")
    parser.add_argument("--private", action="store_true", help="create the Hub repository as private")
    parser.add_argument("--config", action="append", metavar="KEY=VALUE", help="corpus option, repeatable (JSON values)")
    parser.add_argument("--cache_dir", help="datasets cache folder")
    parser.add_argument("--force_rebuild", action="store_true", help="ignore a cached copy")
    args = parser.parse_args(argv)
    if not args.output_dir and not args.push_to_hub:
        parser.error("give --output_dir and/or --push_to_hub")
    if args.output_dir:
        note_output_path(args.output_dir)
    config = parse_config(args.config)
    ds, space, builder = build(args.name, args.data_dir, args.cache_dir, config, args.force_rebuild)
    for split, d in ds.items():
        print(f"{split}: {len(d)} examples")
    if builder.skips:
        print("skipped/adjusted:", builder.skips.summary())
    if args.output_dir:
        print("wrote", write_parquet(ds, space, args.output_dir, args.name, config))
    if args.push_to_hub:
        push(ds, space, args.push_to_hub, private=args.private)
        print("pushed to", args.push_to_hub)


if __name__ == "__main__":
    main()
