import os
import sys

# Tests never touch the network, and tests import `helpers` from this folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(__file__))


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota (containers and
    CI runners often see every core of the host but may use a few)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as limit:
            quota, period = limit.read().split()
        if quota != "max":
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return cores


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (pyproject.toml): one worker per usable core, and at most one per 3 GiB of memory, since
    each worker holds its own torch, transformers and test models."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, min(usable_cores(), memory // (3 * 2**30)))


# Each worker's torch gets its share of the cores: several workers each using every core run slower than one.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    _threads = str(max(1, usable_cores() // _workers))
    os.environ.setdefault("OMP_NUM_THREADS", _threads)
    os.environ.setdefault("MKL_NUM_THREADS", _threads)


def pytest_collection_finish(session):
    """Move everything imported while collecting (torch, transformers, datasets: about half a million
    objects) out of the garbage collector's reach. `Trainer.train` calls `gc.collect()` on every run, and
    scanning those objects each time cost about a second a training test on the CI's CPUs; what the tests
    create afterwards is still collected."""
    import gc

    gc.collect()
    gc.freeze()
