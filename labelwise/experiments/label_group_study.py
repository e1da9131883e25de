"""A label-group study: methods x seeds on a seeded corpus subset, each scored per label-frequency group.

A study is declared as data (`LabelGroupStudy`: the subset, the corpus options, the budget every
trained method shares, and the methods) and run by its command line (`main`):

    STUDY = LabelGroupStudy(name="EURLEX57K subset", methods={"lame": Method({"config": "lame_eurlex57k"}), ...},
                            subset=SUBSET, budget=BUDGET, corpus_options={...}, script=__file__, ...)
    if __name__ == "__main__":
        main(STUDY)

Methods (`Method`): trained by `labelwise.training.train` with patience and a cap
(`labelwise.experiments.capped_runs.train_capped`) and scored through their kind's own encoding
(`labelwise.experiments.kind_scoring`); or not trained, scoring another method's model read otherwise
(`scores_model_of`); or a baseline without a model (`"similarity"`, `"label_prior"`, `"ancestor_targets"`).
Scores, groups and the report are `labelwise.experiments.label_groups`'.

Runs. `<method>` (the default seed) or `<method>__seed<N>` names a run's record
(`<results_dir>/<run>.json`) and work folder (`<work_dir>/<run>`); the subset is linked once into
`<work_dir>/subset`. A run whose record exists is skipped; an interrupted run resumes from its last
checkpoint, a run whose model is saved but not yet scored is only scored; each run goes in its own
process (`--only`), and a run stopped by a signal starts no further runs (exit 130). Results and
checkpoints made with another budget are refused by name.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labelwise.cli_errors import EXIT_INTERRUPTED
from labelwise.experiments import capped_runs, label_groups
from labelwise.experiments.label_groups import EvalData, load_eval_data, make_subset, scores_for_run

__all__ = ["LabelGroupStudy", "Method", "main"]

SPLITS = label_groups.SPLITS


NO_MODEL_BASELINES = ("label_prior", "ancestor_targets")
"""Baselines scored from the gold labels or their training counts alone (no encoder, nothing to time)."""


@dataclass(frozen=True)
class Method:
    """One row of a label-group study."""

    options: dict[str, Any] = field(default_factory=dict)
    """`train.py` options that make the method (keyword form, added to the corpus and budget options); empty: not trained."""
    scores_unseen: bool = False
    """Whether it can score labels outside its training label set (from their descriptions)."""
    needs: str = ""
    """Where the method's own train.py option comes from, for the message when this checkout lacks it."""
    scores_model_of: str = ""
    """Not trained: score the model another method trained, reading the documents as `options` say."""
    baseline: str = ""
    """For a row with no model: "similarity" (untuned encoder cosines), "label_prior" (training frequencies) or
    "ancestor_targets" (the gold labels and their ancestors, the ceiling of layer-wise training's targets)."""


@dataclass
class LabelGroupStudy:
    """One study's declaration (see the module's docstring).

    Attributes:
        name: the figure's title.
        methods: method name -> `Method`, in report order.
        subset: documents drawn from each split (`train`, `dev`, `test`) and the subset's `seed`.
        budget: `train.py` options of every trained method; a method's own option replaces the entry of its name.
        corpus_options: how every trained method reads the corpus (with `label_set="train"`).
        script: the declaration's file, run again with `--only METHOD` for each run.
        results_dir / work_dir: where records go and where runs train (the subset, checkpoints, models, logs).
        legacy_budget: budget entries added later, with the value records written before them ran with.
    """

    name: str
    methods: dict[str, Method]
    subset: dict[str, int]
    budget: dict[str, Any]
    corpus_options: dict[str, Any]
    script: str
    results_dir: Path
    work_dir: Path
    corpus: str = "eurlex57k"
    default_seed: int = 42
    legacy_budget: dict[str, Any] = field(default_factory=dict)
    description: str | None = None

    # ------------------------------------------------------------------------- names and options
    @property
    def command(self) -> str:
        """The script as a reader runs it: its path from the checkout when it is inside it."""
        from labelwise.experiments.provenance import REPO

        path = Path(self.script).resolve()
        return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)

    def run_key(self, method: str, seed: int | None = None) -> str:
        """The name of one run's record and work folder: the method, plus `__seed<N>` for another seed."""
        return method if seed in (None, self.default_seed) else f"{method}__seed{seed}"

    def result_path(self, results: Path, method: str, seed: int | None = None) -> Path:
        return results / f"{self.run_key(method, seed)}.json"

    def steps_per_epoch(self) -> int:
        return math.ceil(self.subset["train"] / self.budget["per_device_train_batch_size"])

    def train_options(self, method: str, subset_dir: Path, seed: int, backbone: str) -> dict[str, Any]:
        """The `train.py` options of a method on the subset with the shared budget."""
        own = self.methods[method].options
        return {**own, "corpus": self.corpus, "data_dir": str(subset_dir), "corpus_options": self.corpus_options,
                **{key: value for key, value in self.budget.items() if key not in own},
                "model_name_or_path": backbone, "seed": seed}

    def missing_option(self, method: str) -> str | None:
        """Why this checkout cannot train `method` (a train.py option it lacks), or None."""
        spec = self.methods[method]
        return capped_runs.missing_option(spec.options, spec.needs) if spec.options else None

    def eval_data(self, data_dir: Path, work_dir: Path) -> tuple[dict, EvalData]:
        """The subset's manifest (linked into `<work_dir>/subset` on first use) and its gold labels."""
        manifest = make_subset(data_dir, work_dir / "subset", self.subset)
        return manifest, load_eval_data(work_dir / "subset", self.corpus_options, self.corpus)

    # ------------------------------------------------------------------------- one run
    def model_scores(self, options: dict, model_dir: Path, data: EvalData, scores_unseen: bool) -> dict[str, np.ndarray]:
        """Dev and test scores of a trained model in `data`'s columns (with the zero-shot ones when `scores_unseen`)."""
        from labelwise.experiments.kind_scoring import model_scores

        new = dict(zip(data.names[data.seen:], data.descriptions[data.seen:])) if scores_unseen else None
        return model_scores(options, model_dir, data.names if scores_unseen else data.names[: data.seen], data.ids, new)

    def run_one(self, method: str, data_dir: Path, work_dir: Path, results: Path, seed: int | None = None,
                backbone: str | None = None, torch_threads: int = 1) -> dict:
        """Train (or resume) and score one method with `torch_threads` threads; write and return its record."""
        import torch

        from labelwise import default_backbone_path
        from labelwise.experiments.kind_scoring import dev_shortlist_recall
        from labelwise.experiments.provenance import code_version

        seed = self.default_seed if seed is None else seed
        torch.set_num_threads(torch_threads)
        backbone = backbone or str(default_backbone_path())
        why = self.missing_option(method)
        if why:
            raise ValueError(f"{method}: {why}")
        manifest, data = self.eval_data(data_dir, work_dir)
        subset_dir, spec = work_dir / "subset", self.methods[method]
        record = {"method": method, "subset": manifest["request"], "budget": self.budget, "seed": seed,
                  "backbone": backbone, "torch_threads": torch.get_num_threads(), "scores_unseen": spec.scores_unseen,
                  "code_version": code_version()}
        started = time.time()
        if spec.baseline == "label_prior":
            scores = label_groups.label_prior_scores(data, self.subset["train"])
            record["command"] = f"python {self.command} --methods {method} (no model)"
        elif spec.baseline == "ancestor_targets":
            from labelwise.data_scripts import load_label_space

            space = load_label_space(self.corpus, data_dir=str(subset_dir), **self.corpus_options)
            scores = label_groups.ancestor_target_scores(data, space.hierarchy, seed)
            record["command"] = f"python {self.command} --methods {method} (no model)"
        elif spec.baseline == "similarity":
            descriptions = data.descriptions if spec.scores_unseen else data.descriptions[: data.seen]
            scores = {split: label_groups.similarity_probabilities(backbone, data.texts[split], descriptions,
                                                                   self.budget["max_length"]) for split in SPLITS}
            record["command"] = f"python {self.command} --methods {method} (no training)"
            record["wall_seconds"] = round(time.time() - started, 1)
        elif spec.scores_model_of:
            model_dir = work_dir / spec.scores_model_of / "model"
            if not (model_dir / "training_summary.json").exists():
                raise ValueError(f"{method} scores the model of {spec.scores_model_of}, and {model_dir} has none yet: "
                                 f"run --methods {spec.scores_model_of} first.")
            shown = " ".join(f"--{key} {value}" for key, value in spec.options.items())
            record.update(command=f"python {self.command} --methods {method} (no training: {model_dir} scored with {shown})",
                          model_of=spec.scores_model_of)
            with tempfile.TemporaryDirectory() as scratch:  # the Trainer's output folder; nothing is kept
                options = {**self.train_options(method, subset_dir, seed, backbone), "output_dir": scratch}
                scores = self.model_scores(options, model_dir, data, spec.scores_unseen)
            record["scoring_seconds"] = round(time.time() - started, 1)
        else:
            output_dir = work_dir / self.run_key(method, seed)
            options = self.train_options(method, subset_dir, seed, backbone)
            record.update(capped_runs.train_capped(output_dir, options, self.steps_per_epoch()))
            scoring_started = time.time()
            options["output_dir"] = str(output_dir)
            scores = self.model_scores(options, output_dir / "model", data, spec.scores_unseen)
            record["dev_shortlist_recall"] = (
                "not measured (the shortlist of segmented documents)" if "max_document_length" in options
                else dev_shortlist_recall(options, output_dir / "model", data.texts["validation"],
                                          data.names[: data.seen], data.gold["validation"][:, : data.seen]))
            record["scoring_seconds"] = round(time.time() - scoring_started, 1)
            # This process only: a resumed run trained its earlier part in another one (see epoch_times).
            record["wall_seconds_this_process"] = round(time.time() - started, 1)
        record["test"] = scores_for_run(scores, data, spec.scores_unseen)
        results.mkdir(parents=True, exist_ok=True)
        self.result_path(results, method, seed).write_text(json.dumps(record, indent=2, default=_json_default),
                                                           encoding="utf-8")
        if spec.options and not spec.scores_model_of:
            for checkpoint in (work_dir / self.run_key(method, seed)).glob("checkpoint-*"):
                shutil.rmtree(checkpoint)  # the best model is in <work_dir>/<run>/model
        return record

    def estimate(self, method: str, data_dir: Path, work_dir: Path, results: Path, steps: int,
                 backbone: str | None = None) -> dict:
        """Time `steps` training steps of `method` on the real subset, one thread; writes `estimates/<method>.json`."""
        import torch

        from labelwise import default_backbone_path

        torch.set_num_threads(1)
        backbone = backbone or str(default_backbone_path())
        make_subset(data_dir, work_dir / "subset", self.subset)
        spec = self.methods[method]
        record: dict = {"method": method, "budget": self.budget, "subset": self.subset, "torch_threads": 1}
        if spec.baseline in NO_MODEL_BASELINES:
            record["not_estimated"] = "no model"
        elif spec.baseline == "similarity":
            _, data = self.eval_data(data_dir, work_dir)
            started = time.time()
            label_groups.similarity_probabilities(backbone, data.texts["validation"][:16], data.descriptions,
                                                  self.budget["max_length"])
            record["seconds_16_dev_documents_all_descriptions"] = round(time.time() - started, 1)
        elif spec.scores_model_of:
            record["not_estimated"] = f"no training: it scores the model of {spec.scores_model_of}"
        else:
            why = self.missing_option(method)
            record.update({"not_estimated": why} if why else capped_runs.estimate_steps(
                self.train_options(method, work_dir / "subset", self.default_seed, backbone), steps, self.subset))
        (results / "estimates").mkdir(parents=True, exist_ok=True)
        (results / "estimates" / f"{method}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        return record

    def query_similarity(self, data_dir: Path, work_dir: Path, results: Path, backbone: str | None = None) -> dict:
        """`label_groups.query_similarity` of the training labels' descriptions; writes `query_similarity.json`."""
        from labelwise import default_backbone_path
        from labelwise.data_scripts import load_label_space

        make_subset(data_dir, work_dir / "subset", self.subset)
        space = load_label_space(self.corpus, data_dir=str(work_dir / "subset"), **self.corpus_options)
        record = label_groups.query_similarity(list(space.descriptions), backbone or str(default_backbone_path()))
        results.mkdir(parents=True, exist_ok=True)
        (results / "query_similarity.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        return record

    def _probe_options(self, method: str, data_dir: Path, work_dir: Path, backbone: str | None) -> dict[str, Any]:
        """`method`'s train.py options on the subset (linked on first use) at seed `default_seed`, for a
        probe on one torch thread."""
        import torch

        from labelwise import default_backbone_path

        torch.set_num_threads(1)
        make_subset(data_dir, work_dir / "subset", self.subset)
        return self.train_options(method, work_dir / "subset", self.default_seed, backbone or str(default_backbone_path()))

    def probe_collapse(self, method: str, data_dir: Path, work_dir: Path, results: Path, steps: int, every: int,
                       backbone: str | None = None) -> dict:
        """`capped_runs.probe_representations` of `method` at this budget (seed `default_seed`), one
        thread; writes `collapse/<method>.json` after every measurement, so a stopped probe keeps what it
        measured."""
        options = self._probe_options(method, data_dir, work_dir, backbone)
        record: dict = {"method": method, "options": options, "budget": self.budget, "subset": self.subset,
                        "steps_per_epoch": self.steps_per_epoch(), "torch_threads": 1, "measurements": []}
        path = results / "collapse" / f"{method}.json"
        path.parent.mkdir(parents=True, exist_ok=True)

        def save(measurement: dict) -> None:
            record["measurements"].append(measurement)
            path.write_text(json.dumps(record, indent=2, default=_json_default), encoding="utf-8")

        capped_runs.probe_representations(options, steps, every, on_measure=save)
        return record

    def probe_saved(self, method: str, model_dirs: list[Path], data_dir: Path, work_dir: Path, results: Path,
                    backbone: str | None = None) -> dict:
        """`capped_runs.saved_representations` of `method`'s saved models or checkpoints, on the dev
        documents `probe_collapse` measures; writes `collapse/<method>_saved.json`."""
        options = self._probe_options(method, data_dir, work_dir, backbone)
        record = {"method": method, "measurements": capped_runs.saved_representations(options, model_dirs)}
        path = results / "collapse" / f"{method}_saved.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2, default=_json_default), encoding="utf-8")
        return record

    # ------------------------------------------------------------------------- report
    def finished_records(self, results: Path) -> dict[str, dict]:
        """The record of each finished run, in `methods` order, each method's other seeds after its first run."""
        records = {}
        for method in self.methods:
            for path in [self.result_path(results, method)] + sorted(results.glob(f"{method}__seed*.json")):
                if path.exists():
                    records[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        return records

    def how_modelled(self, method: str) -> str:
        spec = self.methods[method]
        return (f"{spec.scores_model_of}'s model" if spec.scores_model_of else "trained" if spec.options
                else "no model" if spec.baseline in NO_MODEL_BASELINES else "no training")

    def report(self, results: Path) -> str:
        """Markdown: the overall test scores per run, then R-Precision@5 / nDCG@5 / micro-F1 per group."""
        records = self.finished_records(results)
        # One row per run: each method's first run (or "not yet run"), then its repeats with other seeds.
        rows = [(key, self.how_modelled(method)) for method in self.methods
                for key in ([k for k in records if k == method or k.startswith(f"{method}__seed")] or [method])]
        return label_groups.report(records, rows)

    def plot_groups(self, results: Path, path: Path, metric: str = "rp_at_5",
                    methods: list[str] | None = None) -> dict[str, dict[str, float | None]]:
        """`label_groups.plot_groups` of the finished runs, only those of `methods` when given."""
        records = {key: record for key, record in self.finished_records(results).items()
                   if methods is None or record["method"] in methods}
        return label_groups.plot_groups(records, path, self.name, metric)

    # ------------------------------------------------------------------------- queue
    def check_same_budget(self, work_dir: Path, results: Path, methods: list[str], seed: int | None = None) -> None:
        """Stop when finished results or the checkpoints in `work_dir` are from another budget."""
        files = [(self.result_path(results, m, seed), "budget") for m in methods] + [(work_dir / "budget.json", None)]
        capped_runs.check_same_budget(files, self.budget, self.legacy_budget)

    def run_all(self, methods: list[str], data_dir: Path, work_dir: Path, results: Path, seed: int | None = None,
                budget: str | None = None, torch_threads: int = 1, subset: str | None = None) -> bool:
        """Each unfinished method in its own process, one at a time, on `torch_threads` threads (`budget`,
        `subset`: the `--budget` and `--subset` JSON, passed on to each). False when a signal stopped a
        method (its checkpoint saved, nothing further started), so that a queue of runs stops too."""
        seed = self.default_seed if seed is None else seed
        self.check_same_budget(work_dir, results, methods, seed)
        todo = [m for m in methods if not self.result_path(results, m, seed).exists()]
        print(f"{len(methods) - len(todo)} of {len(methods)} methods done earlier; {len(todo)} to run", flush=True)
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "budget.json").write_text(json.dumps(self.budget, indent=1), encoding="utf-8")
        runs = []
        for method in todo:
            why = self.missing_option(method)
            if why:
                print(f"{method}: skipped, {why}", flush=True)
                continue
            command = [sys.executable, str(Path(self.script).resolve()), "--only", method, "--data_dir", str(data_dir),
                       "--work_dir", str(work_dir), "--results_dir", str(results), "--seed", str(seed),
                       "--torch_threads", str(torch_threads)]
            command += ["--budget", budget] if budget else []
            command += ["--subset", subset] if subset else []
            runs.append((self.run_key(method, seed), command))
        return capped_runs.run_queue(runs, work_dir / "logs", torch_threads)


def _json_default(value):
    return value.item() if isinstance(value, np.generic) else str(value)


def overrides(text: str, option: str, defaults: dict) -> dict:
    """`--budget` / `--subset` JSON -> the entries of `defaults` it replaces (an error names any other key)."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise SystemExit(f"{option}: expected a JSON object of entries among {sorted(defaults)}, got {text!r}")
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise SystemExit(f"{option}: unknown key(s) {unknown}; the keys are {sorted(defaults)}")
    return value


def main(study: LabelGroupStudy, argv: list[str] | None = None) -> None:
    """The command line of a study declaration: run (resumable), one run (`--only`), `--report [--plot PNG]`,
    `--estimate STEPS` or `--query_similarity`."""
    parser = argparse.ArgumentParser(description=study.description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, help=f"The {study.corpus} copy; needed to run.")
    parser.add_argument("--work_dir", type=Path, default=study.work_dir)
    parser.add_argument("--results_dir", type=Path, default=study.results_dir)
    parser.add_argument("--methods", nargs="+", default=list(study.methods), choices=list(study.methods))
    parser.add_argument("--seed", type=int, default=study.default_seed, help="Training seed (the subset's is its own).")
    parser.add_argument("--only", choices=list(study.methods), help="Run one method in this process (used by the runner).")
    parser.add_argument("--torch_threads", type=int, default=1,
                        help="Threads per training run (recorded per epoch). One keeps two runs side by side on two "
                             "cores comparable; a resumed run may change it.")
    parser.add_argument("--report", action="store_true", help="Print the Markdown tables of the finished runs.")
    parser.add_argument("--plot", type=Path, metavar="PNG",
                        help="With --report: also draw test R-Precision@5 per label group, one bar per finished run "
                             "(of --methods only, when given).")
    parser.add_argument("--estimate", type=int, metavar="STEPS", help="Time STEPS training steps of each method.")
    parser.add_argument("--budget", default=None, metavar="JSON",
                        help="Replace budget entries for this run, e.g. '{\"head_learning_rate\": 0.01}'. Give the run "
                             "its own --work_dir and --results_dir: results at another budget are another table.")
    parser.add_argument("--query_similarity", action="store_true",
                        help="Measure how alike the untuned encoder's label queries are ([CLS] against mean pooling).")
    parser.add_argument("--probe_collapse", type=int, metavar="STEPS",
                        help="Train each method's first STEPS steps and measure how far apart its document and label "
                             "representations lie every --probe_every steps (collapse/<method>.json).")
    parser.add_argument("--probe_every", type=int, default=25, metavar="STEPS")
    parser.add_argument("--plot_collapse", type=Path, metavar="PNG",
                        help="Draw the probed methods' document and label-query cosines over steps (from collapse/).")
    parser.add_argument("--probe_saved", type=Path, nargs="+", metavar="MODEL_DIR",
                        help="Measure the same spreads on saved models or checkpoints of the one method in --methods "
                             "(collapse/<method>_saved.json).")
    parser.add_argument("--subset", default=None, metavar="JSON",
                        help="Replace subset entries, e.g. '{\"train\": 5000, \"dev\": 6000, \"test\": 6000}' (more "
                             "documents than a split has: all of them). Another subset needs its own --work_dir.")
    options = parser.parse_args(argv)
    if options.budget:
        study.budget.update(overrides(options.budget, "--budget", study.budget))
    if options.subset:
        study.subset.update(overrides(options.subset, "--subset", study.subset))
    if not (options.report or options.plot_collapse) and options.data_dir is None:
        parser.error(f"--data_dir is needed (the {study.corpus} folder).")
    if options.plot_collapse:
        folder = options.results_dir / "collapse"
        records = {method: json.loads((folder / f"{method}.json").read_text(encoding="utf-8"))
                   for method in options.methods if (folder / f"{method}.json").is_file()}
        saved = {method: json.loads((folder / f"{method}_saved.json").read_text(encoding="utf-8"))
                 for method in records if (folder / f"{method}_saved.json").is_file()}
        label_groups.plot_collapse(records, options.plot_collapse, f"{study.name}: do representations collapse?", saved)
        print(f"wrote {options.plot_collapse}")
    elif options.report:
        print(study.report(options.results_dir))
        if options.plot:
            study.plot_groups(options.results_dir, options.plot, methods=options.methods)
            print(f"wrote {options.plot}")
    elif options.query_similarity:
        print(json.dumps(study.query_similarity(options.data_dir, options.work_dir, options.results_dir), indent=2))
    elif options.probe_saved:
        if len(options.methods) != 1:
            parser.error("--probe_saved measures the models of one method: give it in --methods.")
        record = study.probe_saved(options.methods[0], options.probe_saved, options.data_dir, options.work_dir,
                                   options.results_dir)
        print(json.dumps(record, indent=2))
    elif options.probe_collapse:
        for method in options.methods:
            record = study.probe_collapse(method, options.data_dir, options.work_dir, options.results_dir,
                                          options.probe_collapse, options.probe_every)
            print(method, json.dumps(record["measurements"][-1]), flush=True)
    elif options.estimate:
        for method in options.methods:
            record = study.estimate(method, options.data_dir, options.work_dir, options.results_dir, options.estimate)
            print(method, json.dumps(record), flush=True)
    elif options.only:
        study.run_one(options.only, options.data_dir, options.work_dir, options.results_dir, options.seed,
                      torch_threads=options.torch_threads)
    elif not study.run_all(options.methods, options.data_dir, options.work_dir, options.results_dir, options.seed,
                           options.budget, options.torch_threads, options.subset):
        sys.exit(EXIT_INTERRUPTED)
