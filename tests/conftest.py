import os
import sys

# Tests never touch the network, and tests import `helpers` from this folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(__file__))

# pytest-xdist runs the suite in one worker per core (pyproject.toml); each worker's torch then gets its
# share of the cores, because several workers each using every core run slower than one.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    _threads = str(max(1, (os.cpu_count() or 1) // _workers))
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
