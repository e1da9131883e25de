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
