"""labelwise.experiments.measure: the interleaved timings, peak memory and CPU features the speed benchmarks record."""

import subprocess
import sys

import pytest

from labelwise.experiments.measure import cpu_flags, interleaved


def test_interleaved_times_every_runner_once_a_round_after_the_warmup():
    calls = []
    runners = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = interleaved(runners, reps=3, warmup=1)
    assert calls == list("abc") * 4  # one warm-up round, then three timed rounds, in the given order
    assert all(len(t["wall"]) == len(t["cpu"]) == 3 for t in times.values())
    assert all(value >= 0.0 for t in times.values() for value in t["wall"] + t["cpu"])
    calls.clear()
    interleaved(runners, reps=3, warmup=1, rotate=True)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")  # each timed round starts one later


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM and /proc/cpuinfo are Linux's")
def test_peak_memory_grows_with_an_allocation_and_cpu_flags_name_the_int8_features():
    # A fresh process: this one's peak may already be above what one more block adds.
    code = ("from labelwise.experiments.measure import peak_rss_mib\n"
            "before = peak_rss_mib(); block = bytearray(200 * 2**20); block[::4096] = b'x' * len(block[::4096])\n"
            "print(before, peak_rss_mib())")
    before, after = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                              check=True).stdout.split())
    assert after - before >= 190  # every page of the block was touched: resident, not just reserved
    flags = cpu_flags()
    assert {"model", "avx2", "avx512_vnni"} <= set(flags) and isinstance(flags["avx2"], bool)
