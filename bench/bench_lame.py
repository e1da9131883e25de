"""LAME against transformers' BertForSequenceClassification: speed and memory ratios.

    python bench/bench_lame.py --labels 10 100 1000 4271 8922 --seq_len 256 --batch 8

For each label count, on the same inputs, in one run, interleaving the models repetition by
repetition (so drift in machine load hits all alike):

- training step time (forward + backward + AdamW step). LAME runs with its config's defaults for
  that label count (`label_sampling="auto"`: joint training up to 256 labels, sampled above) plus
  `--lame_options`; each document has `--positives` gold labels;
- the training label cache's refresh (all descriptions encoded without gradient), timed once and
  reported per step amortised over `label_cache_refresh_steps`, when LAME samples;
- inference throughput (documents/s): eval mode, LAME with its cached label embeddings, exact
  (every label through the head) and, when the model has a first stage, with
  `shortlist_size=--shortlist` (the same weights);
- peak memory: the peak resident set size (VmHWM) of a fresh process per model that loads it, runs
  two inferences (LAME: shortlisted first, then exact) and two training steps, read after each
  stage (see `measure_memory`).

One JSON file per label count under `--output_dir` (a finished count is skipped on a rerun; pass
`--force` to measure again). The figures reported in docs/BENCHMARKS.md come from this script.
Every timing is kept in wall seconds and in process CPU seconds; with `--threads 1` the CPU-time
ratios (`ratios_cpu`, `--report --clock cpu`) hold on a machine shared with other jobs, where wall
time also counts the waits for a core.

Long documents (issue 12, part 4):

    python bench/bench_lame.py --doc_lengths 512 1024 2048 4096 --labels 100 --batch 2 --threads 1

measures, for one label count, LAME with `max_document_length` reading documents of each length in
segments of the encoder's 512 pieces, against vanilla BertForSequenceClassification truncating the
same documents at 512, all models interleaved in one process: training step time, inference time,
the encoder's share of LAME's inference (`encode_documents` alone), time per piece, and peak RSS
(a fresh process per model and length, as above). One JSON file per label count and length set,
`lengths_<labels>_<lengths>.json`.

Where a training step's time goes, option set by option set (one process, interleaved, CPU time):

    python bench/bench_lame.py --labels 4271 --threads 1 --reps 3 --tag _issue29 --train_variants \
        '{"sampled": {}, "output_positives": {"all_label_loss": true, "all_label_loss_gradient": "output_layer",
          "description_gradients": "positives"}}'

Serving footprint under two allocator settings:

    python bench/bench_lame.py --inference_memory --labels 1000 4271 8922 --threads 1 --reps 2
    python bench/bench_lame.py --inference_memory --report

measures only the peak RSS after loading and two inferences (vanilla; LAME shortlisted, then exact),
in fresh processes, with glibc's default allocator settings and with a fixed mmap threshold
(`MALLOC_MMAP_THRESHOLD_=131072`), `inference_memory_<labels>.json` per label count.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from labelwise.experiments.measure import interleaved, peak_rss_mib, where_and_how_long  # noqa: F401  (peak_rss_mib: read by measure_memory's probe)

HERE = Path(__file__).resolve().parent
WORDS = (
    "tumour growth immune response blood vessel formation cell death genome instability energy metabolism "
    "inflammation invasion metastasis signalling replication angiogenesis mutation therapy resistance"
).split()


def descriptions(count: int) -> list[str]:
    """`count` distinct synthetic descriptions of 8-16 words (real label sets have such lengths)."""
    out = []
    for i in range(count):
        length = 8 + i % 9
        out.append(f"label {i} " + " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(length)))
    return out


def build(kind: str, labels: int, lame_options: dict | None = None):
    from transformers import AutoModelForSequenceClassification

    from labelwise import default_backbone_path
    from labelwise.modeling import LameForSequenceClassification

    path = default_backbone_path()
    torch.manual_seed(0)
    if kind == "vanilla":
        return AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=labels, problem_type="multi_label_classification"
        )
    return LameForSequenceClassification.from_pretrained(
        path, label_descriptions=descriptions(labels), problem_type="multi_label_classification", **(lame_options or {})
    )


def gold(batch_size: int, labels: int, positives: int) -> torch.Tensor:
    """`(batch, labels)` targets with `positives` random gold labels per document (EURLEX57K has
    about 5 per document, MIMIC-III about 15), the same for every model."""
    generator = torch.Generator().manual_seed(0)
    targets = torch.zeros(batch_size, labels)
    for row in range(batch_size):
        targets[row, torch.randperm(labels, generator=generator)[: min(positives, labels)]] = 1.0
    return targets


def inputs(seq_len: int, batch: int) -> dict:
    from transformers import AutoTokenizer

    from labelwise import default_backbone_path

    tokenizer = AutoTokenizer.from_pretrained(default_backbone_path())
    # Long enough for 4,096 pieces; shorter inputs are the same text's prefix as before.
    text = " ".join(WORDS * 250)
    encoded = tokenizer([text] * batch, truncation=True, max_length=seq_len, padding="max_length", return_tensors="pt")
    return dict(encoded)


def train_step(model, optimizer, batch: dict, targets: torch.Tensor) -> None:
    model(**batch, labels=targets).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


@torch.no_grad()
def infer(model, batch: dict, shortlist: int | None = None) -> None:
    if shortlist is not None:
        model.config.shortlist_size = shortlist
    model(**batch)


def timed_phases(runners: dict, models: dict, reps: int, warmup: int) -> dict:
    """`interleaved` timings of each phase's runners, the models in training mode for "train" only."""
    timed = {}
    for phase, group in runners.items():
        for model in models.values():
            model.train(phase == "train")
        timed[phase] = interleaved(group, reps, warmup)
    return timed


def measure_speed(
    labels: int, seq_len: int, batch_size: int, reps: int, warmup: int, positives: int, shortlist: int, lame_options: dict
) -> dict:
    batch = inputs(seq_len, batch_size)
    targets = gold(batch_size, labels, positives)
    models = {kind: build(kind, labels, lame_options) for kind in ("vanilla", "lame")}
    lame = models["lame"]
    optimizers = {kind: torch.optim.AdamW(m.parameters(), lr=1e-5) for kind, m in models.items()}
    runners = {
        "train": {kind: (lambda m=m, o=optimizers[kind]: train_step(m, o, batch, targets)) for kind, m in models.items()},
        "infer": {"vanilla": lambda: infer(models["vanilla"], batch), "lame": lambda: infer(lame, batch, shortlist=0)},
    }
    if lame.first_stage is not None and shortlist:
        runners["infer"]["lame_shortlist"] = lambda: infer(lame, batch, shortlist=shortlist)
    # Process CPU seconds beside wall seconds: on a machine shared with other jobs, wall time
    # includes waiting for a core, CPU time mostly the work done (both threads counted).
    result = {
        phase: {
            name: {"median_s": statistics.median(t["wall"]), "all_s": t["wall"],
                   "median_cpu_s": statistics.median(t["cpu"]), "all_cpu_s": t["cpu"]}
            for name, t in group.items()
        }
        for phase, group in timed_phases(runners, models, reps, warmup).items()
    }
    for name, entry in result["infer"].items():
        entry["docs_per_s"] = batch_size / entry["median_s"]
    if lame.config.uses_label_sampling:
        lame.train()
        lame._training_cache = None
        start, cpu_start = time.perf_counter(), time.process_time()
        lame.training_label_embeddings()
        refresh, refresh_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        steps = lame.config.label_cache_refresh_steps
        entry = result["train"]["lame"]
        entry.update(cache_refresh_s=refresh, cache_refresh_cpu_s=refresh_cpu)
        entry["amortised_step_s"] = entry["median_s"] + refresh / steps
        entry["amortised_step_cpu_s"] = entry["median_cpu_s"] + refresh_cpu / steps
    result["lame_config"] = {
        "uses_label_sampling": lame.config.uses_label_sampling,
        "uses_first_stage": lame.config.uses_first_stage,
        **{key: getattr(lame.config, key) for key in (
            "label_sample_negatives", "hard_negative_fraction", "label_cache_refresh_steps", "label_chunk_size",
            "light_label_head", "label_attention_heads", "label_attention_intermediate_size")},
        "shortlist_size": shortlist,
    }
    return result


def measure_train_variants(
    labels: int, variants: dict[str, dict], seq_len: int, batch_size: int, reps: int, warmup: int, positives: int
) -> dict:
    """Training step CPU seconds of vanilla and of LAME under each named option set, in one process,
    interleaved, with each sampled variant's cache refresh timed once and amortised into its ratio."""
    batch = inputs(seq_len, batch_size)
    targets = gold(batch_size, labels, positives)
    models = {"vanilla": build("vanilla", labels), **{name: build("lame", labels, options) for name, options in variants.items()}}
    refresh = {}
    for name, model in models.items():
        model.train()
        if name != "vanilla" and model.config.uses_label_sampling:
            cpu = time.process_time()
            model.training_label_embeddings()
            refresh[name] = (time.process_time() - cpu) / model.config.label_cache_refresh_steps
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-5) for name, model in models.items()}
    times = interleaved({name: (lambda m=m, o=optimizers[name]: train_step(m, o, batch, targets)) for name, m in models.items()},
                        reps, warmup)
    vanilla = statistics.median(times["vanilla"]["cpu"])
    return {
        name: {"median_cpu_s": statistics.median(t["cpu"]), "all_cpu_s": t["cpu"], "options": variants.get(name, {}),
               "refresh_cpu_s_per_step": refresh.get(name, 0.0),
               "train_time_over_vanilla": (statistics.median(t["cpu"]) + refresh.get(name, 0.0)) / vanilla}
        for name, t in times.items()
    }


def speed_ratios(speed: dict, clock: str = "wall") -> dict:
    """LAME's training time and inference throughput relative to vanilla's, from wall or process CPU medians.

    With one torch thread, CPU time counts the work done and not the waits for a core, so on a machine
    shared with other jobs its ratios are the steadier ones; wall time is what a user waits.
    """
    median, amortised = ("median_s", "amortised_step_s") if clock == "wall" else ("median_cpu_s", "amortised_step_cpu_s")
    train, infer = speed["train"], speed["infer"]
    ratios = {
        "train_time_lame_over_vanilla": train["lame"].get(amortised, train["lame"][median]) / train["vanilla"][median],
        "inference_throughput_lame_over_vanilla": infer["vanilla"][median] / infer["lame"][median],
    }
    if "lame_shortlist" in infer:
        ratios["inference_throughput_shortlist_over_vanilla"] = infer["vanilla"][median] / infer["lame_shortlist"][median]
    return ratios


def measure_memory(
    kind: str, labels: int, seq_len: int, batch_size: int, positives: int, shortlist: int, lame_options: dict,
    threads: int, train: bool = True, env: dict[str, str] | None = None,
) -> dict[str, float]:
    """Peak RSS (MiB) of a fresh process that loads `kind`, then runs 2 inferences (LAME: first
    shortlisted, when it has a first stage, then exact), then (with `train`) 2 training steps; the
    peak is read after each stage. The peak only grows, so each reading is the peak of everything up
    to it: `infer` (loading + inference, the serving footprint), `train` (the whole run). `env`: extra
    environment variables of the process (e.g. glibc's `MALLOC_MMAP_THRESHOLD_`)."""
    code = (
        "import sys, json, torch; sys.path.insert(0, %r); torch.set_num_threads(%d)\n"
        "import bench_lame as b\n"
        "m = b.build(%r, %d, json.loads(%r)); batch = b.inputs(%d, %d); peaks = {}\n"
        "m.eval()\n"
        "if %r == 'lame' and m.first_stage is not None and %d:\n"
        "    [b.infer(m, batch, shortlist=%d) for _ in range(2)]; peaks['infer_shortlist'] = b.peak_rss_mib()\n"
        "[b.infer(m, batch, **({'shortlist': 0} if %r == 'lame' else {})) for _ in range(2)]\n"
        "peaks['infer'] = b.peak_rss_mib()\n"
        "if %r:\n"
        "    opt = torch.optim.AdamW(m.parameters(), lr=1e-5); y = b.gold(%d, %d, %d)\n"
        "    m.train(); [b.train_step(m, opt, batch, y) for _ in range(2)]\n"
        "    peaks['train'] = b.peak_rss_mib()\n"
        "print(json.dumps(peaks))\n"
    ) % (
        str(HERE), threads, kind, labels, json.dumps(lame_options), seq_len, batch_size, kind, shortlist, shortlist,
        kind, train, batch_size, labels, positives,
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **(env or {})})
    if output.returncode != 0:  # e.g. killed for memory
        return {"error": output.stderr[-2000:]}
    return json.loads(output.stdout.strip().splitlines()[-1])


ALLOCATORS = {"glibc default": {}, "fixed mmap threshold": {"MALLOC_MMAP_THRESHOLD_": "131072"}}
"""The allocator settings of the inference-memory benchmark. glibc raises its mmap threshold each time a
large block is freed, after which blocks of that size come from the heap and stay resident when freed;
a fixed threshold (the environment variable, read at process start) turns that off."""


def run_inference_memory(options, lame_options: dict) -> None:
    """Serving footprint only: peak RSS after loading and 2 inferences, vanilla against LAME (exact and
    shortlisted), under each allocator setting of `ALLOCATORS`, `--reps` fresh processes each.
    One result file per label count, `inference_memory_<labels>.json`."""
    for labels in options.labels:
        path = Path(options.output_dir, f"inference_memory_{labels}{options.tag}.json")
        if path.exists() and not options.force:
            print(f"{path}: exists, skipped")
            continue
        record = {"labels": labels, "seq_len": options.seq_len, "batch": options.batch, "shortlist": options.shortlist,
                  "lame_options": lame_options, "threads": options.threads, "reps": options.reps, "peak_rss_mib": {}}
        for setting, env in ALLOCATORS.items():
            runs: dict[str, list[float]] = {}
            for _ in range(options.reps):
                for kind in ("vanilla", "lame"):
                    peaks = measure_memory(kind, labels, options.seq_len, options.batch, options.positives,
                                           options.shortlist, lame_options, options.threads, train=False, env=env)
                    if "error" in peaks:
                        raise RuntimeError(f"{kind} at {labels} labels ({setting}): {peaks['error']}")
                    for stage, value in peaks.items():
                        runs.setdefault(f"{kind}_{stage}", []).append(value)
            record["peak_rss_mib"][setting] = {"env": env, **runs}
        path.write_text(json.dumps(record, indent=2))
        print(path.name + ": " + "; ".join(
            f"{setting}: " + ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in runs.items() if k != "env")
            for setting, runs in record["peak_rss_mib"].items()
        ), flush=True)


def report_inference_memory(output_dir: str, tag: str = "") -> str:
    """Markdown rows: labels, allocator, median peak MiB vanilla / LAME exact / LAME shortlisted, ratios."""
    lines = []
    for path in sorted(Path(output_dir).glob(f"inference_memory_*{tag}.json"), key=lambda p: json.loads(p.read_text())["labels"]):
        record = json.loads(path.read_text())
        for setting, runs in record["peak_rss_mib"].items():
            vanilla = statistics.median(runs["vanilla_infer"])
            exact = statistics.median(runs["lame_infer"])
            shortlisted = runs.get("lame_infer_shortlist")
            short = f"{statistics.median(shortlisted):,.0f}" if shortlisted else "-"
            lines.append(
                f"| {record['labels']:,} | {setting} | {vanilla:,.0f} | {exact:,.0f} | {short} | **{exact / vanilla:.2f}** |"
            )
    return "\n".join(lines)


def measure_lengths(
    labels: int, lengths: list[int], batch_size: int, reps: int, warmup: int, positives: int, lame_options: dict,
) -> dict:
    """Step and inference times of vanilla at the encoder's window and of LAME at each document length.

    The documents are one text tokenized to each length (padding="max_length", so every row has that
    many pieces); vanilla reads its first `window` pieces. All runners are interleaved repetition by
    repetition. `encoder_<length>` is LAME's `encode_documents` alone (the segment split and the
    encoder, no label head), without gradient.
    """
    window = build("vanilla", labels).config.max_position_embeddings
    lame_options = {"max_document_length": max(lengths), **lame_options}
    models = {kind: build(kind, labels, lame_options if kind == "lame" else None) for kind in ("vanilla", "lame")}
    lame = models["lame"]
    batches = {length: inputs(length, batch_size) for length in sorted({window, *lengths})}
    targets = gold(batch_size, labels, positives)
    optimizers = {kind: torch.optim.AdamW(m.parameters(), lr=1e-5) for kind, m in models.items()}

    @torch.no_grad()
    def encode(length: int) -> None:
        lame.encode_documents(batches[length]["input_ids"], batches[length]["attention_mask"])

    runners = {
        "train": {
            f"vanilla_{window}": lambda: train_step(models["vanilla"], optimizers["vanilla"], batches[window], targets),
            **{f"lame_{n}": (lambda n=n: train_step(lame, optimizers["lame"], batches[n], targets)) for n in lengths},
        },
        "infer": {
            f"vanilla_{window}": lambda: infer(models["vanilla"], batches[window]),
            **{f"lame_{n}": (lambda n=n: infer(lame, batches[n])) for n in lengths},
            **{f"encoder_{n}": (lambda n=n: encode(n)) for n in lengths},
        },
    }
    times = {phase: {name: t["wall"] for name, t in group.items()}
             for phase, group in timed_phases(runners, models, reps, warmup).items()}
    result = {"window": window}
    for phase, group in times.items():
        result[phase] = {}
        for name, values in group.items():
            pieces = batch_size * int(name.rsplit("_", 1)[1])
            median = statistics.median(values)
            result[phase][name] = {"median_s": median, "all_s": values, "ms_per_piece": 1000 * median / pieces}
    return result


def report_lengths(path: Path) -> str:
    """The docs/BENCHMARKS.md rows of one `lengths_*.json` file."""
    record = json.loads(path.read_text())
    from labelwise.modeling.segments import segment_windows

    speed, memory, window = record["speed"], record["peak_rss_mib"], record["speed"]["window"]
    stride = record["lame_options"].get("segment_stride", 0)
    vanilla_train, vanilla_infer = speed["train"][f"vanilla_{window}"], speed["infer"][f"vanilla_{window}"]
    nan = float("nan")
    rows = [
        f"| vanilla, truncated at {window} | {vanilla_train['median_s']:.2f} | 1.00 | "
        f"{vanilla_train['ms_per_piece']:.2f} | {vanilla_infer['median_s']:.2f} | 1.00 | {vanilla_infer['ms_per_piece']:.2f} | - | "
        f"{memory.get('vanilla_train', nan):,.0f} | {memory.get('vanilla_infer', nan):,.0f} |"
    ]
    for length in record["doc_lengths"]:
        train, infer_ = speed["train"][f"lame_{length}"], speed["infer"][f"lame_{length}"]
        encoder = speed["infer"][f"encoder_{length}"]
        rows.append(
            f"| LAME, {length:,} pieces ({len(segment_windows(length, window, stride))} segments) | {train['median_s']:.2f} | "
            f"**{train['median_s'] / vanilla_train['median_s']:.2f}** | {train['ms_per_piece']:.2f} | "
            f"{infer_['median_s']:.2f} | **{infer_['median_s'] / vanilla_infer['median_s']:.2f}** | {infer_['ms_per_piece']:.2f} | "
            f"{encoder['median_s'] / infer_['median_s']:.0%} | {memory.get(f'lame_{length}_train', nan):,.0f} | "
            f"{memory.get(f'lame_{length}_infer', nan):,.0f} |"
        )
    return "\n".join(rows)


def run_lengths(options, lame_options: dict) -> None:
    """The long-document benchmark of `--doc_lengths` at the first of `--labels` (resumable, one file)."""
    labels = options.labels[0]
    lengths = sorted(options.doc_lengths)
    path = Path(options.output_dir, f"lengths_{labels}_{'-'.join(map(str, lengths))}{options.tag}.json")
    if path.exists() and not options.force:
        print(f"{path}: exists, skipped")
        print(report_lengths(path))
        return
    load_before = os.getloadavg()
    started = time.time()
    speed = measure_lengths(labels, lengths, options.batch, options.reps, options.warmup, options.positives, lame_options)
    memory = {}
    if not options.skip_memory:
        window = speed["window"]
        peaks = measure_memory("vanilla", labels, window, options.batch, options.positives, 0, {}, options.threads)
        memory.update({f"vanilla_{stage}": value for stage, value in peaks.items()})
        for length in lengths:
            peaks = measure_memory(
                "lame", labels, length, options.batch, options.positives, 0,
                {"max_document_length": length, **lame_options}, options.threads,
            )
            memory.update({f"lame_{length}_{stage}": value for stage, value in peaks.items()})
    record = {
        "labels": labels,
        "doc_lengths": lengths,
        "batch": options.batch,
        "reps": options.reps,
        "warmup": options.warmup,
        "positives_per_document": options.positives,
        "lame_options": lame_options,
        **where_and_how_long(load_before, started),
        "speed": speed,
        "peak_rss_mib": memory,
    }
    path.write_text(json.dumps(record, indent=2))
    print(report_lengths(path), flush=True)


def sweep_records(output_dir: str, tag: str = "") -> list[dict]:
    """The label sweep's records of one tag (`labels_<count><tag>.json`), label counts ascending; the untagged
    sweep leaves out runs with `--lame_options` (those are variants, reported under their own tag)."""
    pattern = re.compile(rf"labels_(\d+){re.escape(tag)}\.json")
    matches = [(int(m.group(1)), path) for path in Path(output_dir).glob("labels_*.json") if (m := pattern.fullmatch(path.name))]
    records = [json.loads(path.read_text()) for _, path in sorted(matches)]
    return [record for record in records if tag or not record.get("lame_options")]


def report(output_dir: str, tag: str = "") -> str:
    """The docs/BENCHMARKS.md table rows of every result file in `output_dir` (label counts ascending)."""
    rows = []
    for record in sweep_records(output_dir, tag):
        speed, memory, ratios = record["speed"], record["peak_rss_mib"], record["ratios"]
        train, infer = speed["train"], speed["infer"]

        def spread(entry: dict) -> str:
            return f"{entry['median_s']:.2f} ({min(entry['all_s']):.2f}-{max(entry['all_s']):.2f})"

        lame_train = spread(train["lame"])
        if "cache_refresh_s" in train["lame"]:
            lame_train += f" + {train['lame']['cache_refresh_s']:.0f}/{speed['lame_config']['label_cache_refresh_steps']}"
        docs_per_s = f"{infer['vanilla']['docs_per_s']:.2f} / {infer['lame']['docs_per_s']:.2f}"
        infer_ratio = f"**{ratios['inference_throughput_lame_over_vanilla']:.2f}**"
        if "lame_shortlist" in infer:
            docs_per_s += f" / {infer['lame_shortlist']['docs_per_s']:.2f}"
            infer_ratio += f" / **{ratios['inference_throughput_shortlist_over_vanilla']:.2f}**"
        nan = float("nan")
        train_memory = (
            f"{memory.get('vanilla_train', nan):,.0f} / {memory.get('lame_train', nan):,.0f} "
            f"(**{ratios.get('peak_memory_train_lame_over_vanilla', nan):.2f}**)"
        )
        infer_memory = (
            f"{memory.get('vanilla_infer', nan):,.0f} / {memory.get('lame_infer', nan):,.0f} "
            f"(**{ratios.get('peak_memory_infer_lame_over_vanilla', nan):.2f}**)"
        )
        load = record["load_average_before_after"]
        rows.append(
            f"| {record['labels']:,} | {spread(train['vanilla'])} | {lame_train} | "
            f"**{ratios['train_time_lame_over_vanilla']:.2f}** | {docs_per_s} | {infer_ratio} | "
            f"{train_memory} | {infer_memory} | {load[0][0]:.1f}-{load[1][0]:.1f} |"
        )
    return "\n".join(rows)


def report_cpu(output_dir: str, tag: str = "") -> str:
    """Table rows of process CPU seconds (medians) and the ratios they give, for runs that recorded them."""
    rows = []
    for record in sweep_records(output_dir, tag):
        if "ratios_cpu" not in record:
            continue
        train, infer, ratios = record["speed"]["train"], record["speed"]["infer"], record["ratios_cpu"]
        lame_train = f"{train['lame']['median_cpu_s']:.2f}"
        if "cache_refresh_cpu_s" in train["lame"]:
            lame_train += f" + {train['lame']['cache_refresh_cpu_s']:.0f}/{record['speed']['lame_config']['label_cache_refresh_steps']}"
        names = [name for name in ("vanilla", "lame", "lame_shortlist") if name in infer]
        infer_s = " / ".join(f"{infer[name]['median_cpu_s']:.2f}" for name in names)
        infer_ratio = f"**{ratios['inference_throughput_lame_over_vanilla']:.2f}**"
        if "inference_throughput_shortlist_over_vanilla" in ratios:
            infer_ratio += f" / **{ratios['inference_throughput_shortlist_over_vanilla']:.2f}**"
        load = record["load_average_before_after"]
        rows.append(
            f"| {record['labels']:,} | {record['torch_threads']} | {train['vanilla']['median_cpu_s']:.2f} | {lame_train} | "
            f"**{ratios['train_time_lame_over_vanilla']:.2f}** | {infer_s} | {infer_ratio} | "
            f"{load[0][0]:.1f}-{load[1][0]:.1f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, nargs="+", default=[10, 100, 1000, 4271, 8922])
    parser.add_argument("--seq_len", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--positives", type=int, default=5, help="Gold labels per document in training steps.")
    parser.add_argument("--shortlist", type=int, default=128, help="shortlist_size of the shortlisted inference.")
    parser.add_argument("--lame_options", default="{}", help="LameConfig overrides as JSON.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip_memory", action="store_true")
    parser.add_argument("--tag", default="", help="Suffix of the result file names (for option variants).")
    parser.add_argument("--output_dir", default=str(HERE / "results" / "lame_scale"))
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--report", action="store_true", help="Print the table rows of the results and stop.")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="With --report: rows of wall-clock medians (with memory), or of process CPU medians (runs that recorded them).",
    )
    parser.add_argument(
        "--inference_memory", action="store_true",
        help="Only the serving footprint (peak RSS after loading and inference), under each allocator setting.",
    )
    parser.add_argument(
        "--train_variants", default=None,
        help='Only training step CPU time of vanilla and of LAME under each named option set, one process: '
             '\'{"name": {LameConfig overrides}, ...}\' -> train_variants_<labels><tag>.json.',
    )
    parser.add_argument(
        "--doc_lengths", type=int, nargs="+", default=None,
        help="Long-document benchmark at these lengths (pieces) for the first --labels count, instead of the label sweep.",
    )
    options = parser.parse_args(argv)
    if options.report:
        if options.inference_memory:
            print(report_inference_memory(options.output_dir, options.tag))
        else:
            print((report_cpu if options.clock == "cpu" else report)(options.output_dir, options.tag))
        return
    torch.set_num_threads(options.threads)
    lame_options = json.loads(options.lame_options)
    os.makedirs(options.output_dir, exist_ok=True)
    if options.doc_lengths:
        run_lengths(options, lame_options)
        return
    if options.inference_memory:
        run_inference_memory(options, lame_options)
        return
    if options.train_variants:
        for labels in options.labels:
            load_before = os.getloadavg()
            variants = measure_train_variants(labels, json.loads(options.train_variants), options.seq_len, options.batch,
                                              options.reps, options.warmup, options.positives)
            record = {"labels": labels, "seq_len": options.seq_len, "batch": options.batch, "reps": options.reps,
                      "torch_threads": options.threads, "load_average_before_after": [load_before, os.getloadavg()],
                      "variants": variants}
            path = Path(options.output_dir, f"train_variants_{labels}{options.tag}.json")
            path.write_text(json.dumps(record, indent=2) + "\n")
            for name, entry in variants.items():
                print(f"{name}: {entry['median_cpu_s']:.2f} CPU s, {entry['train_time_over_vanilla']:.2f}x vanilla")
        return
    for labels in options.labels:
        path = Path(options.output_dir, f"labels_{labels}{options.tag}.json")
        if path.exists() and not options.force:
            print(f"{path}: exists, skipped")
            continue
        load_before = os.getloadavg()
        started = time.time()
        speed = measure_speed(
            labels, options.seq_len, options.batch, options.reps, options.warmup, options.positives,
            options.shortlist, lame_options,
        )
        memory = {}
        if not options.skip_memory:
            for kind in ("vanilla", "lame"):
                peaks = measure_memory(
                    kind, labels, options.seq_len, options.batch, options.positives, options.shortlist, lame_options,
                    options.threads,
                )
                memory.update({f"{kind}_{stage}": value for stage, value in peaks.items()})
        ratios = speed_ratios(speed, "wall")
        ratios_cpu = speed_ratios(speed, "cpu")
        for stage in ("train", "infer", "infer_shortlist"):
            vanilla_stage = "infer" if stage == "infer_shortlist" else stage
            if f"lame_{stage}" in memory and f"vanilla_{vanilla_stage}" in memory:
                ratios[f"peak_memory_{stage}_lame_over_vanilla"] = memory[f"lame_{stage}"] / memory[f"vanilla_{vanilla_stage}"]
        record = {
            "labels": labels,
            "seq_len": options.seq_len,
            "batch": options.batch,
            "reps": options.reps,
            "positives_per_document": options.positives,
            "lame_options": lame_options,
            **where_and_how_long(load_before, started),
            "speed": speed,
            "peak_rss_mib": memory,
            "ratios": ratios,
            "ratios_cpu": ratios_cpu,
        }
        path.write_text(json.dumps(record, indent=2))
        print(f"labels={labels}: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()), flush=True)
        print(f"labels={labels}, CPU time: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios_cpu.items()), flush=True)


if __name__ == "__main__":
    main()
