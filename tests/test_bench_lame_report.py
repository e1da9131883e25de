"""`bench/bench_lame.py --inference_memory --report`: the table rows come from the medians of the runs."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_lame.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_lame", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inference_memory_report_uses_medians_and_orders_by_label_count(tmp_path):
    bench = load_bench()
    assert set(bench.ALLOCATORS) == {"glibc default", "fixed mmap threshold"}
    for labels, lame in ((4271, [900.0, 700.0, 800.0]), (1000, [600.0, 600.0, 630.0])):
        record = {"labels": labels, "peak_rss_mib": {
            "glibc default": {"env": {}, "vanilla_infer": [500.0, 520.0, 510.0], "lame_infer": lame,
                              "lame_infer_shortlist": [550.0, 560.0, 540.0]},
            "fixed mmap threshold": {"env": {"MALLOC_MMAP_THRESHOLD_": "131072"}, "vanilla_infer": [400.0],
                                     "lame_infer": [440.0]},
        }}
        (tmp_path / f"inference_memory_{labels}.json").write_text(json.dumps(record))
    rows = bench.report_inference_memory(str(tmp_path)).splitlines()
    assert rows == [
        "| 1,000 | glibc default | 510 | 600 | 550 | **1.18** |",
        "| 1,000 | fixed mmap threshold | 400 | 440 | - | **1.10** |",
        "| 4,271 | glibc default | 510 | 800 | 550 | **1.57** |",
        "| 4,271 | fixed mmap threshold | 400 | 440 | - | **1.10** |",
    ]


def speed_record(vanilla_train: float, lame_train: float, refresh: float, vanilla_infer: float, lame_infer: float,
                 shortlist_infer: float, clock_key: str) -> dict:
    """A label-sweep `speed` entry whose medians sit under `clock_key` (median_s or median_cpu_s)."""
    refresh_key = "cache_refresh_s" if clock_key == "median_s" else "cache_refresh_cpu_s"
    amortised_key = "amortised_step_s" if clock_key == "median_s" else "amortised_step_cpu_s"
    return {
        "train": {"vanilla": {clock_key: vanilla_train},
                  "lame": {clock_key: lame_train, refresh_key: refresh, amortised_key: lame_train + refresh / 100}},
        "infer": {"vanilla": {clock_key: vanilla_infer}, "lame": {clock_key: lame_infer},
                  "lame_shortlist": {clock_key: shortlist_infer}},
        "lame_config": {"label_cache_refresh_steps": 100},
    }


def test_speed_ratios_read_the_chosen_clock_and_amortise_the_refresh():
    bench = load_bench()
    wall = speed_record(10.0, 18.0, 200.0, 2.0, 5.0, 2.5, "median_s")
    cpu = speed_record(4.0, 7.0, 100.0, 1.0, 2.0, 1.25, "median_cpu_s")
    merged = {phase: {name: {**wall[phase][name], **cpu[phase][name]} for name in wall[phase]}
              for phase in ("train", "infer")}
    assert bench.speed_ratios(merged, "wall") == {
        "train_time_lame_over_vanilla": (18.0 + 2.0) / 10.0,
        "inference_throughput_lame_over_vanilla": 2.0 / 5.0,
        "inference_throughput_shortlist_over_vanilla": 2.0 / 2.5,
    }
    assert bench.speed_ratios(merged, "cpu") == {
        "train_time_lame_over_vanilla": (7.0 + 1.0) / 4.0,
        "inference_throughput_lame_over_vanilla": 1.0 / 2.0,
        "inference_throughput_shortlist_over_vanilla": 1.0 / 1.25,
    }


def test_cpu_report_keeps_tags_apart_and_skips_runs_without_cpu_times(tmp_path):
    bench = load_bench()
    cpu = speed_record(4.0, 7.0, 100.0, 1.0, 2.0, 1.25, "median_cpu_s")
    tagged = {"labels": 4271, "torch_threads": 1, "speed": cpu, "ratios_cpu": bench.speed_ratios(cpu, "cpu"),
              "load_average_before_after": [[2.0, 0, 0], [2.5, 0, 0]]}
    (tmp_path / "labels_4271_cpu1.json").write_text(json.dumps(tagged))
    (tmp_path / "labels_1000.json").write_text(json.dumps({"labels": 1000, "speed": cpu}))  # an older run: no CPU times
    assert [record["labels"] for record in bench.sweep_records(str(tmp_path))] == [1000]
    assert [record["labels"] for record in bench.sweep_records(str(tmp_path), "_cpu1")] == [4271]
    assert bench.report_cpu(str(tmp_path)) == ""
    assert bench.report_cpu(str(tmp_path), "_cpu1") == (
        "| 4,271 | 1 | 4.00 | 7.00 + 100/100 | **2.00** | 1.00 / 2.00 / 1.25 | **0.50** / **0.80** | 2.0-2.5 |"
    )


def test_train_variants_time_each_option_set_against_vanilla_and_amortise_the_refresh(tmp_path, monkeypatch):
    import torch
    from transformers import BertForSequenceClassification

    from helpers import tiny_bert_checkpoint
    from labelwise.modeling import LameForSequenceClassification

    bench = load_bench()
    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")

    def build(kind, labels, options=None):
        if kind == "vanilla":
            return BertForSequenceClassification.from_pretrained(checkpoint, num_labels=labels,
                                                                 problem_type="multi_label_classification")
        return LameForSequenceClassification.from_pretrained(
            checkpoint, label_descriptions=[f"label {i}" for i in range(labels)], label_attention_heads=4,
            problem_type="multi_label_classification", **(options or {}))

    monkeypatch.setattr(bench, "build", build)
    monkeypatch.setattr(bench, "inputs", lambda seq_len, batch: {"input_ids": torch.randint(5, 90, (batch, seq_len))})
    variants = bench.measure_train_variants(
        300, {"sampled": {}, "joint": {"label_sampling": "none"}}, seq_len=8, batch_size=2, reps=2, warmup=1, positives=2)
    assert set(variants) == {"vanilla", "sampled", "joint"}
    assert variants["vanilla"]["train_time_over_vanilla"] == 1.0 and len(variants["sampled"]["all_cpu_s"]) == 2
    assert variants["sampled"]["refresh_cpu_s_per_step"] > 0 and variants["joint"]["refresh_cpu_s_per_step"] == 0.0
    sampled = variants["sampled"]
    assert sampled["train_time_over_vanilla"] == (
        (sampled["median_cpu_s"] + sampled["refresh_cpu_s_per_step"]) / variants["vanilla"]["median_cpu_s"])
