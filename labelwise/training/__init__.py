"""Training behind `train.py`. `train(output_dir, **options)` is its Python API (`labelwise.training.cli.train`);
it is loaded on first use, so importing a submodule stays cheap. A run whose model card cannot be
written raises `ModelCardError` after saving the model."""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("train", "run", "ModelCardError"):
        from labelwise.training import cli

        return getattr(cli, name)
    raise AttributeError(f"module 'labelwise.training' has no attribute {name!r}")


__all__ = ["ModelCardError", "train"]
