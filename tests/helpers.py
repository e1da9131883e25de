"""Tiny offline models and tokenizers for tests: nothing here downloads anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from transformers import BertConfig, BertModel, BertTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "the a of and in to with was were is are patients patient cancer tumor cell cells growth "
    "signal signals death apoptosis immune blood vessel angiogenesis invasion metastasis "
    "genome instability inflammation energy metabolism drug dose induced caused reaction "
    "adverse rash fever nausea pain liver heart brain disease diseases treatment therapy "
    "after during severe acute chronic case report study group groups results showed "
    "regulation law article member states council directive commission agriculture trade "
    "import export fish product products market , . ( ) - ; : 1 2 3 ##s ##ed ##ing ##ly"
).split()


def write_vocab(folder: str | os.PathLike) -> str:
    """Write a small WordPiece vocabulary to `folder/vocab.txt` and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(SPECIAL_TOKENS + WORDS) + "\n", encoding="utf-8")
    return str(path)


def tiny_tokenizer(folder: str | os.PathLike) -> BertTokenizerFast:
    """A lower-casing BERT WordPiece tokenizer over `WORDS`, saved in `folder`."""
    write_vocab(folder)
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS + WORDS)}
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True)
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def tiny_bert_config(**overrides) -> BertConfig:
    """A 2-layer, 32-wide BERT config over the test vocabulary."""
    values = dict(
        vocab_size=len(SPECIAL_TOKENS) + len(WORDS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    values.update(overrides)
    return BertConfig(**values)


def tiny_bert_checkpoint(folder: str | os.PathLike, seed: int = 0, **overrides) -> str:
    """Save a random plain BERT (`BertModel`) and its tokenizer to `folder`; return the folder."""
    import torch

    torch.manual_seed(seed)
    model = BertModel(tiny_bert_config(**overrides))
    model.save_pretrained(str(folder))
    tiny_tokenizer(folder)
    return str(folder)


def run_python_without_labelwise(
    code: str, cwd: str | os.PathLike, timeout: int = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter in which `import labelwise` fails.

    This is how a Hub user without the package meets a checkpoint: only remote code can load it.
    `env` adds or overrides environment variables (e.g. a fake Hub's HF_ENDPOINT and HF_HUB_OFFLINE=0).
    """
    guard = (
        "import sys, importlib.abc\n"
        "class _Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'labelwise' or name.startswith('labelwise.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)')\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", guard + code],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_checkpoint(folder: str | os.PathLike, step: int, **state_overrides) -> Path:
    """A minimal Trainer checkpoint that `labelwise.training.checkpoints` accepts: `folder/checkpoint-<step>`.

    It holds what the checks read (trainer_state.json, optimizer.pt and scheduler.pt that took `step`
    steps, an RNG archive, a one-tensor model.safetensors), not a model one could train further.
    """
    import json
    import random

    import numpy as np
    import torch
    from safetensors.torch import save_file

    path = Path(folder) / f"checkpoint-{step}"
    path.mkdir(parents=True, exist_ok=True)
    state = {"global_step": step, "max_steps": 100, "epoch": 1.0, "log_history": [], **state_overrides}
    (path / "trainer_state.json").write_text(json.dumps(state), encoding="utf-8")
    weight = torch.zeros(2, 2)
    optimizer = {"state": {0: {"step": torch.tensor(float(step)), "exp_avg": weight}}, "param_groups": [{"params": [0]}]}
    torch.save(optimizer, path / "optimizer.pt")
    torch.save({"last_epoch": step, "_step_count": step + 1}, path / "scheduler.pt")
    # As the Trainer saves it: the generators' states, which check_checkpoint restores into fresh ones.
    torch.save(
        {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()},
        path / "rng_state.pth",
    )
    save_file({"weight": weight}, str(path / "model.safetensors"))
    return path


def quick_train_argv(checkpoint, output_dir, *extra: str, max_eval_samples: int = 8) -> list[str]:
    """`train.py` arguments for a seconds-long run on the demo corpora with a tiny checkpoint."""
    return [
        "--model_name_or_path", str(checkpoint), "--output_dir", str(output_dir),
        "--max_train_samples", "16", "--max_eval_samples", str(max_eval_samples), "--num_train_epochs", "1",
        "--per_device_train_batch_size", "8", "--label_attention_heads", "4", "--max_length", "64",
        "--logging_steps", "1", "--disable_tqdm", "true", *extra,
    ]
