"""Issue 15 probes: each case of the issue, tried as a careful user or an attacker would, with its outcome.

Outcomes are one of: a clear error (message naming the file, field or option; a CLI exits non-zero
without a traceback), a counted skip (a bad checkpoint named in the log and passed over), or a
correct result (equal to a reference computed another way).

1. remote code only on request      (PROBE 1.x)
2. mixed precision                   (PROBE 2.x; fp16 on a GPU: `test_fp16_training_on_gpu`, skipped without one)
3. safe resume                       (PROBE 3.x)
4. batched pipelines, empty text     (PROBE 4.x)
5. clean CLI errors                  (PROBE 5.x)
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from demo_models import save_classifier, save_lame, save_ner
from helpers import tiny_bert_checkpoint, write_checkpoint
from transformers import AutoTokenizer, pipeline

import labelwise.modeling  # noqa: F401  (registers the LAME and layer-wise classes and pipelines)
from labelwise import cli_errors
from labelwise.demo import RemoteCodeError, load_predictor
from labelwise.modeling import LameForSequenceClassification, LayerwiseBertForHierarchicalClassification
from labelwise.modeling.modeling_lame import padding_fill_value
from labelwise.publishing import handler as handler_module
from labelwise.publishing.handler import EndpointHandler
from labelwise.publishing.push import FolderError, check_folder
from labelwise.training.checkpoints import (
    CheckpointError,
    check_checkpoint,
    checkpoint_to_resume,
    last_good_checkpoint,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "cancer cell growth in blood vessel angiogenesis and immune reaction in patients with severe disease",
    "rash",
    "severe fever after the drug dose ; liver pain",
]
FOREIGN = "attacker/repo--modeling_evil.EvilModel"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from test_publishing_handler import save_layerwise_with_pipeline

    root = tmp_path_factory.mktemp("probe_models")
    return {
        "lame": save_lame(root / "lame"),
        "layerwise": str(save_layerwise_with_pipeline(root / "layerwise")),
        "ner": save_ner(root / "ner"),
        "classifier": save_classifier(root / "classifier"),
    }


def copy_model(source: str, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def edit_config(folder: Path, name: str = "config.json", **changes) -> None:
    path = folder / name
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def run_cli(main, argv: list[str], capsys) -> tuple[int, str]:
    """Call a command's main in-process as the shell would; return (exit code, stderr)."""
    try:
        result = main(argv)
        code = result if isinstance(result, int) else 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


# ================================================================ 1. remote code only on request
def test_probe_1_1_model_needing_its_own_code_is_refused_without_the_flag(models, tmp_path):
    folder = copy_model(models["ner"], tmp_path / "custom")
    edit_config(folder, model_type="somebodys_bert", architectures=["SomeForTokenClassification"],
                auto_map={"AutoModelForTokenClassification": "modeling_some.SomeForTokenClassification"})
    with pytest.raises(RemoteCodeError, match=r"auto_map\['AutoModelForTokenClassification'\].*--trust_remote_code"):
        load_predictor(str(folder))


def test_probe_1_2_lame_folder_without_the_flag_runs_labelwise_code_not_the_folders(models, tmp_path):
    """The folder's modeling file is booby-trapped: loading it would write a marker file."""
    folder = copy_model(models["lame"], tmp_path / "lame")
    marker = tmp_path / "remote_code_ran"
    for name in ("modeling_lame.py", "pipeline_lame.py", "configuration_lame.py"):
        with open(folder / name, "a") as handle:
            handle.write(f"\nopen({str(marker)!r}, 'w').write('ran')\n")
    kind, predict = load_predictor(str(folder))
    result = predict(TEXTS[0])
    assert kind == "lame" and not marker.exists()
    reference = pipeline("label-attention-classification", model=models["lame"], trust_remote_code=True)(TEXTS[0])
    assert result == reference


def test_probe_1_3_code_from_another_repository_is_refused_even_when_trusted(models, tmp_path):
    folder = copy_model(models["lame"], tmp_path / "lame")
    edit_config(folder, auto_map={"AutoModelForSequenceClassification": FOREIGN})
    with pytest.raises(RemoteCodeError, match="another repository.*attacker/repo--modeling_evil"):
        load_predictor(str(folder), trust_remote_code=True)


def test_probe_1_4_push_refuses_auto_map_into_another_repository_naming_the_entry(models, tmp_path):
    folder = copy_model(models["lame"], tmp_path / "lame")
    (folder / "README.md").write_text("# card\n")
    edit_config(folder, auto_map={"AutoConfig": "configuration_lame.LameConfig", "AutoModelForSequenceClassification": FOREIGN})
    with pytest.raises(FolderError, match=r'config.json: auto_map\["AutoModelForSequenceClassification"\] = .*attacker/repo'):
        check_folder(folder, write_card=False)
    # The same through the tokenizer's config, which transformers also follows.
    folder2 = copy_model(models["lame"], tmp_path / "lame2")
    (folder2 / "README.md").write_text("# card\n")
    edit_config(folder2, "tokenizer_config.json", auto_map={"AutoTokenizer": [None, "evil/tok--tokenization_x.Fast"]})
    with pytest.raises(FolderError, match=r'tokenizer_config.json: auto_map\["AutoTokenizer"\]'):
        check_folder(folder2, write_card=False)


def test_probe_1_5_push_refuses_remote_code_labelwise_does_not_ship(models, tmp_path):
    folder = copy_model(models["lame"], tmp_path / "lame")
    (folder / "README.md").write_text("# card\n")
    with open(folder / "modeling_lame.py", "a") as handle:
        handle.write("\nimport os  # an edit\n")
    with pytest.raises(FolderError, match="modeling_lame.py differs from the modeling_lame.py labelwise .* ships.*--allow_custom_code"):
        check_folder(folder, write_card=False)
    plan = check_folder(folder, write_card=False, allow_custom_code=True)
    assert any("modeling_lame.py differs" in warning for warning in plan.warnings)

    other = copy_model(models["lame"], tmp_path / "other")
    (other / "README.md").write_text("# card\n")
    (other / "modeling_other.py").write_text("import torch\n")
    edit_config(other, auto_map={"AutoConfig": "configuration_lame.LameConfig",
                                 "AutoModelForSequenceClassification": "modeling_other.Other"})
    with pytest.raises(FolderError, match="modeling_other.py is remote code that labelwise does not ship"):
        check_folder(other, write_card=False)


def test_probe_1_6_handler_refuses_foreign_code_at_start(models, tmp_path):
    folder = copy_model(models["lame"], tmp_path / "lame")
    edit_config(folder, custom_pipelines={"label-attention-classification": {"impl": "evil/p--pipeline_x.P", "pt": []}})
    with pytest.raises(ValueError, match=r'custom_pipelines\["label-attention-classification"\]\["impl"\] = .*points outside'):
        EndpointHandler(str(folder))
    edit_config(folder, custom_pipelines={"label-attention-classification": {"impl": "../escape.P", "pt": []}})
    with pytest.raises(ValueError, match="is not a \"module.Class\" of this repository"):
        EndpointHandler(str(folder))


def test_probe_1_7_demo_and_viewer_commands_say_why_without_the_flag(models, tmp_path, capsys):
    from labelwise import demo
    from labelwise.analysis import viewer

    folder = copy_model(models["ner"], tmp_path / "custom")
    edit_config(folder, model_type="somebodys_bert", auto_map={"AutoConfig": "configuration_some.SomeConfig"})
    code, err = run_cli(demo.main, ["--model", str(folder)], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "--trust_remote_code" in err and "configuration_some" in err
    code, err = run_cli(viewer.main, ["--model", str(folder), "--text", "rash", "--output", str(tmp_path / "v.html")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "--trust_remote_code" in err


# ================================================================ 2. mixed precision
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_probe_2_1_padding_fill_value_fits_every_dtype_and_gives_padding_no_weight(dtype):
    scores = torch.tensor([[1.0, 2.0, 3.0, 0.5]], dtype=dtype)
    padding = torch.tensor([[False, False, True, True]])
    weights = torch.softmax(scores.masked_fill(padding, padding_fill_value(dtype)).float(), dim=-1)
    assert torch.isfinite(weights).all() and weights[0, 2:].eq(0).all()
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-3)
    # float32's minimum, the old fill value, does not fit the half types.
    if dtype != torch.float32:
        with pytest.raises(RuntimeError, match="overflow"):
            scores.masked_fill(padding, torch.finfo(torch.float32).min)


# Largest difference of any probability from fp32, measured on these tiny models; the stated tolerance.
AUTOCAST_TOLERANCE = {torch.bfloat16: 0.02, torch.float16: 0.005}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kind", ["lame", "layerwise"])
def test_probe_2_2_inference_under_cpu_autocast_matches_fp32(models, kind, dtype):
    """fp16 autocast on CPU runs the same code path (float32 scores, dtype-sized fill) as on a GPU."""
    cls = LameForSequenceClassification if kind == "lame" else LayerwiseBertForHierarchicalClassification
    model = cls.from_pretrained(models[kind]).eval()
    tokenizer = AutoTokenizer.from_pretrained(models[kind])
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    extra = {"output_cross_attentions": True} if kind == "lame" else {}
    with torch.no_grad():
        reference = model(**batch, **extra)
        with torch.autocast("cpu", dtype=dtype):
            mixed = model(**batch, **extra)
    assert torch.isfinite(mixed.logits.float()).all()
    difference = (torch.sigmoid(mixed.logits.float()) - torch.sigmoid(reference.logits)).abs().max().item()
    assert difference <= AUTOCAST_TOLERANCE[dtype]
    if kind == "lame":  # padding positions get exactly no attention, under autocast too
        padding = batch["attention_mask"] == 0
        assert mixed.cross_attentions[-1].permute(0, 3, 1, 2)[padding].eq(0).all()
        # The cached label embeddings encoded under autocast serve a later fp32 call.
        with torch.no_grad():
            again = model(**batch)
        assert torch.equal(again.logits, reference.logits)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_probe_2_2b_models_loaded_in_half_precision_and_pipelines_under_autocast(models, dtype):
    """Weights in bf16/fp16 (no autocast), and the batched LAME pipeline inside an autocast block."""
    tokenizer = AutoTokenizer.from_pretrained(models["lame"])
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    for kind, cls in (("lame", LameForSequenceClassification), ("layerwise", LayerwiseBertForHierarchicalClassification)):
        with torch.no_grad():
            reference = torch.sigmoid(cls.from_pretrained(models[kind]).eval()(**batch).logits)
            half = torch.sigmoid(cls.from_pretrained(models[kind], dtype=dtype).eval()(**batch).logits.float())
        assert (half - reference).abs().max().item() <= AUTOCAST_TOLERANCE[dtype], kind
    classify = pipeline("label-attention-classification", model=models["lame"], trust_remote_code=True)
    plain = classify(TEXTS, batch_size=2)
    with torch.autocast("cpu", dtype=dtype):
        mixed = classify(TEXTS, batch_size=2)
    for a, b in zip(plain, mixed):
        scores = {item["label"]: item["score"] for item in b["labels"]}
        assert max(abs(item["score"] - scores[item["label"]]) for item in a["labels"]) <= AUTOCAST_TOLERANCE[dtype]
        predicted = {item["label"]: item["predicted"] for item in b["labels"]}
        assert all(item["predicted"] == predicted[item["label"]] for item in a["labels"])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_probe_2_3_lame_trains_a_step_under_cpu_autocast(tmp_path, dtype):
    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions={"x": "cancer cell growth", "y": "immune reaction"},
        label_attention_heads=4, problem_type="multi_label_classification",
    ).train()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    with torch.autocast("cpu", dtype=dtype):
        loss = model(**batch, labels=torch.tensor([[1.0, 0.0], [0.0, 1.0]])).loss
    loss.backward()
    assert math.isfinite(loss.item())
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, corpus",
    [("lame", "demo"), ("vanilla", "demo"), ("frozen_lame", "demo"), ("layerwise", "demo_hierarchical"),
     ("token_classification", "demo_ner")],
)
def test_probe_2_4_every_model_kind_trains_with_bf16_on_cpu(tmp_path, kind, corpus):
    from labelwise.training.cli import run

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    argv = [
        "--model_name_or_path", checkpoint, "--output_dir", str(tmp_path / "out"), "--model", kind, "--corpus", corpus,
        "--max_train_samples", "16", "--max_eval_samples", "8", "--max_steps", "2", "--per_device_train_batch_size", "8",
        "--label_attention_heads", "4", "--max_length", "48", "--disable_tqdm", "true", "--bf16", "true",
        "--use_cpu", "true", "--save_strategy", "no", "--load_best_model_at_end", "false", "--eval_strategy", "no",
    ] + (["--guidance", "flat"] if kind == "layerwise" else [])
    summary = run(argv)
    losses = [float(value) for value in summary["metrics"]["test"].values()]
    assert losses and all(math.isfinite(value) for value in losses)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 training needs a GPU (the Trainer refuses --fp16 on CPU)")
def test_fp16_training_on_gpu(tmp_path):
    from labelwise.training.cli import run

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    summary = run([
        "--model_name_or_path", checkpoint, "--output_dir", str(tmp_path / "out"), "--max_train_samples", "16",
        "--max_eval_samples", "8", "--max_steps", "4", "--per_device_train_batch_size", "8", "--label_attention_heads", "4",
        "--max_length", "48", "--disable_tqdm", "true", "--fp16", "true", "--save_strategy", "no",
        "--load_best_model_at_end", "false", "--eval_strategy", "no",
    ])
    assert all(math.isfinite(float(value)) for value in summary["metrics"]["test"].values())


# ================================================================ 3. safe resume
def test_probe_3_1_empty_state_and_truncated_weights_fall_back_to_the_previous_good(tmp_path, caplog):
    for step in (1, 2, 3):
        write_checkpoint(tmp_path, step)
    (tmp_path / "checkpoint-3" / "trainer_state.json").write_text("{}")
    weights = tmp_path / "checkpoint-2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-7])
    with caplog.at_level(logging.WARNING, logger="labelwise.train"):
        assert last_good_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-1")
    log = caplog.text
    assert "checkpoint-3: trainer_state.json has no valid 'global_step'" in log
    assert "checkpoint-2: model.safetensors is cut short" in log


def test_probe_3_2_edited_global_step_is_caught(tmp_path):
    write_checkpoint(tmp_path, 4, global_step=40)
    problems = check_checkpoint(str(tmp_path / "checkpoint-4")).problems
    assert any("global_step=40 but the folder is checkpoint-4" in p for p in problems)
    assert any("optimizer.pt has taken 4 step(s)" in p for p in problems)
    # Renamed to match, the optimizer and scheduler still tell.
    (tmp_path / "checkpoint-4").rename(tmp_path / "checkpoint-40")
    problems = check_checkpoint(str(tmp_path / "checkpoint-40")).problems
    assert problems and all("folder" not in p for p in problems)


def test_probe_3_3_skipped_fp16_steps_are_accepted_only_when_allowed(tmp_path):
    folder = write_checkpoint(tmp_path, 5)
    torch.save({"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"params": [0]}]}, folder / "optimizer.pt")
    torch.save({"last_epoch": 3}, folder / "scheduler.pt")
    assert not check_checkpoint(str(folder)).ok
    assert check_checkpoint(str(folder), allow_skipped_steps=True).ok


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "optimizer.pt").write_bytes((f / "optimizer.pt").read_bytes()[:50]), "optimizer.pt cannot be read"),
        (lambda f: (f / "scheduler.pt").unlink(), "no scheduler.pt"),
        (lambda f: (f / "rng_state.pth").write_bytes(b"PK\x03\x04broken"), "rng_state.pth cannot be read"),
        (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 4), "too short to be a safetensors file"),
        (lambda f: (f / "trainer_state.json").write_text('{"global_step": 3, "log_hi'), "trainer_state.json is not valid JSON"),
        (lambda f: (f / "trainer_state.json").write_text("[]"), "not a JSON object"),
    ],
)
def test_probe_3_4_each_damaged_file_is_named(tmp_path, damage, message):
    folder = write_checkpoint(tmp_path, 3)
    damage(folder)
    report = check_checkpoint(str(folder))
    assert not report.ok and any(message in p for p in report.problems), report.problems


def test_probe_3_4b_sharded_weights_are_checked_shard_by_shard(tmp_path):
    folder = write_checkpoint(tmp_path, 2)
    shard = "model-00001-of-00001.safetensors"
    (folder / "model.safetensors").rename(folder / shard)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"weight": shard}}))
    assert check_checkpoint(str(folder)).ok
    (folder / shard).write_bytes((folder / shard).read_bytes()[:-3])
    assert any(f"{shard} is cut short" in p for p in check_checkpoint(str(folder)).problems)
    (folder / shard).unlink()
    assert f"{shard} is missing" in check_checkpoint(str(folder)).problems


def test_probe_3_5_weights_of_another_model_are_caught(tmp_path):
    folder = write_checkpoint(tmp_path, 2)
    model = torch.nn.Linear(2, 2)  # parameters "weight" (2, 2) and "bias"
    problems = check_checkpoint(str(folder), model=model).problems
    assert any("weights missing for 1 parameter(s), e.g. bias" in p for p in problems)
    assert any("holds 1 parameters but the model trains 2" in p for p in problems)


def test_probe_3_6_a_bad_requested_checkpoint_is_a_clear_error(tmp_path):
    folder = write_checkpoint(tmp_path, 2)
    (folder / "trainer_state.json").write_text("{}")
    with pytest.raises(CheckpointError, match="--resume_from_checkpoint .*checkpoint-2 cannot be resumed from: trainer_state"):
        checkpoint_to_resume(str(tmp_path), str(folder))
    with pytest.raises(CheckpointError, match="no such folder"):
        checkpoint_to_resume(str(tmp_path), str(tmp_path / "nope"))
    assert checkpoint_to_resume(str(tmp_path / "never_made"), None) is None


@pytest.mark.slow
def test_probe_3_7_train_py_resumes_from_the_last_good_real_checkpoint(tmp_path, caplog):
    from labelwise.training.cli import run

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    out = tmp_path / "out"

    def argv(steps: int) -> list[str]:
        return [
            "--model_name_or_path", checkpoint, "--output_dir", str(out), "--max_train_samples", "16",
            "--max_eval_samples", "8", "--max_steps", str(steps), "--per_device_train_batch_size", "4",
            "--label_attention_heads", "4", "--max_length", "32", "--disable_tqdm", "true", "--save_strategy", "steps",
            "--save_steps", "1", "--save_total_limit", "5", "--eval_strategy", "no", "--load_best_model_at_end", "false",
        ]

    run(argv(3))
    assert all(check_checkpoint(str(out / f"checkpoint-{s}")).ok for s in (1, 2, 3))  # real checkpoints pass
    (out / "checkpoint-3" / "trainer_state.json").write_text("{}")
    weights = out / "checkpoint-2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with caplog.at_level(logging.INFO, logger="labelwise.train"):
        run(argv(4))
    assert "Not resuming from " + str(out / "checkpoint-3") in caplog.text
    assert "Not resuming from " + str(out / "checkpoint-2") in caplog.text
    assert "Resuming from " + str(out / "checkpoint-1") in caplog.text
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and check_checkpoint(str(out / "checkpoint-4")).ok


# ================================================================ 4. batched pipelines, empty text
def _close(a, b) -> bool:
    """Equal structures, floats within 1e-5 (batching pads, which changes float rounding only)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    # numpy.float32 scores (token classification) are not `float`: compared exactly, they would pass
    # only where padded and unpadded batches round alike, which depends on the CPU's kernels.
    if isinstance(a, (float, np.floating)):
        return isinstance(b, (float, np.floating)) and abs(float(a) - float(b)) <= 1e-5
    return a == b


@pytest.mark.parametrize("kind", ["lame", "layerwise", "ner"])
def test_probe_4_1_every_pipeline_batches_like_one_by_one(models, kind):
    if kind == "ner":
        pipe = pipeline("token-classification", model=models["ner"], aggregation_strategy="simple")
        call = {}
    else:
        pipe = pipeline(model=models[kind], trust_remote_code=True)  # the task comes from config.json
        call = {"threshold": 0.0} if kind == "layerwise" else {}
    one_by_one = [pipe(text, **call) for text in TEXTS]
    for batch_size in (2, 3):
        assert _close(pipe(TEXTS, batch_size=batch_size, **call), one_by_one)


def test_probe_4_2_handler_batches_every_kind_like_one_by_one(models):
    for kind, folder in models.items():
        endpoint = EndpointHandler(folder)
        extra = {"threshold": 0.0} if kind == "layerwise" else {}
        single = [endpoint({"inputs": text, "parameters": extra}) for text in TEXTS]
        batched = endpoint({"inputs": TEXTS, "parameters": {"batch_size": 2, **extra}})
        assert _close(batched, single), kind


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_probe_4_3_empty_text_is_a_clear_error_not_labels(models, text):
    with pytest.raises(ValueError, match="empty or whitespace only"):
        pipeline("label-attention-classification", model=models["lame"], trust_remote_code=True)(text)
    with pytest.raises(ValueError, match="empty or whitespace only"):
        pipeline("hierarchical-classification", model=models["layerwise"], trust_remote_code=True)(text)
    for kind in ("lame", "classifier", "ner"):
        with pytest.raises(ValueError, match=r'"inputs"\[1\]: empty or whitespace-only text'):
            EndpointHandler(models[kind])({"inputs": ["fine text", text]})
        with pytest.raises(ValueError, match="empty or whitespace only"):
            load_predictor(models[kind])[1](text)
    # The token-classification pipeline itself: no words, so no entities (documented empty result).
    assert pipeline("token-classification", model=models["ner"])(text) == []


def test_probe_4_4_unknown_parameters_are_named(models):
    with pytest.raises(ValueError, match=r"Unknown \"parameters\" \['treshold'\].*threshold"):
        EndpointHandler(models["lame"])({"inputs": "rash", "parameters": {"treshold": 0.2}})
    with pytest.raises(ValueError, match=r"\['topk'\].*top_k"):
        EndpointHandler(models["classifier"])({"inputs": "rash", "parameters": {"topk": 1}})
    with pytest.raises(TypeError, match=r"unknown argument\(s\) \['treshold'\]"):
        pipeline("label-attention-classification", model=models["lame"], trust_remote_code=True)("rash", treshold=0.2)


# ================================================================ 5. clean CLI errors
def test_probe_5_1_train_py_bad_input_is_one_message_and_exit_2(tmp_path):
    """As users run it: a subprocess, so the exit code and stderr are the real ones."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "train.py"), "--corpus", "hoc", "--data_dir", str(tmp_path / "missing"),
         "--output_dir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert completed.returncode == cli_errors.EXIT_USER_ERROR
    assert "Traceback" not in completed.stderr
    assert f"train.py: error: hoc: data_dir '{tmp_path / 'missing'}' does not exist" in completed.stderr
    assert "--traceback" in completed.stderr


def test_probe_5_2_train_py_options_and_traceback_on_request(tmp_path, capsys):
    from labelwise.training.cli import main

    code, err = run_cli(main, ["--model", "bogus"], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "Unknown --model 'bogus'" in err
    code, err = run_cli(main, ["--config", str(tmp_path / "none.json")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "none.json' not found" in err
    with pytest.raises(ValueError, match="Unknown --model"):
        main(["--model", "bogus", "--traceback"])


def test_probe_5_3_train_py_bad_resume_checkpoint_is_a_clear_error(tmp_path, capsys):
    from labelwise.training.cli import main

    folder = write_checkpoint(tmp_path, 2)
    (folder / "trainer_state.json").write_text("{}")
    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    code, err = run_cli(main, ["--model_name_or_path", checkpoint, "--output_dir", str(tmp_path / "out"),
                               "--max_train_samples", "8", "--label_attention_heads", "4", "--max_length", "32",
                               "--resume_from_checkpoint", str(folder)], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "checkpoint-2 cannot be resumed from" in err


def test_probe_5_4_prepare_names_the_corpus_file_and_line(tmp_path, capsys):
    from labelwise.data_scripts import prepare

    (tmp_path / "train.conll").write_text("Severe B-ADR\nrash WRONG-TAG\n\n", encoding="utf-8")
    code, err = run_cli(prepare.main, ["conll", "--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out"),
                                       "--cache_dir", str(tmp_path / "cache")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR
    assert "train.conll, line 2" in err and "WRONG-TAG" in err
    code, err = run_cli(prepare.main, ["conll", "--data_dir", str(tmp_path / "absent"), "--output_dir", str(tmp_path)], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "absent" in err


def test_probe_5_5_verify_crossval_and_push_print_clean_errors(models, tmp_path, capsys):
    from labelwise.data_scripts import verify
    from labelwise.experiments import crossval
    from labelwise.publishing import push

    (tmp_path / "hoc").mkdir()  # a corpus folder without the corpus
    code, err = run_cli(verify.main, ["--data_root", str(tmp_path), "--corpora", "hoc", "--cache_dir", str(tmp_path / "c")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "error:" in err
    code, err = run_cli(crossval.main, ["--corpus", "no_such_corpus", "--output_dir", str(tmp_path / "cv")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "no_such_corpus" in err
    folder = copy_model(models["lame"], tmp_path / "lame")
    edit_config(folder, auto_map={"AutoModelForSequenceClassification": FOREIGN})
    code, err = run_cli(push.main, [str(folder), "--repo_id", "user/x", "--dry_run"], capsys)
    assert code != 0 and "attacker/repo--modeling_evil" in err


def test_probe_5_6_full_disk_is_named_with_the_path(models, tmp_path, capsys):
    from labelwise.analysis import viewer

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    # /dev/full answers every write with ENOSPC, as a full disk does.
    code, err = run_cli(viewer.main, ["--model", models["lame"], "--text", "rash", "--output", "/dev/full"], capsys)
    assert code == cli_errors.EXIT_DISK_FULL
    assert "the disk is full" in err and "/dev/full" in err


def test_probe_5_7_full_disk_from_libraries_without_a_file_name(tmp_path):
    """safetensors reports a full disk as its own error type with the OS message inside; the path comes
    from the command's noted output folder."""
    cli_errors._output_paths.clear()
    cli_errors.note_output_path(tmp_path / "run")

    class SafetensorError(Exception):
        pass

    message, code = cli_errors.describe_error(
        SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })')
    )
    assert code == cli_errors.EXIT_DISK_FULL and str(tmp_path / "run") in message and "MiB free" in message
    message, code = cli_errors.describe_error(OSError(errno.ENOSPC, "No space left on device", "/data/x.parquet"))
    assert code == cli_errors.EXIT_DISK_FULL and "/data/x.parquet" in message


def test_probe_5_8_bugs_and_interrupts_exit_cleanly_and_debug_shows_the_traceback(capsys):
    @cli_errors.cli_main("probe")
    def broken(argv):
        raise TypeError("'NoneType' object is not subscriptable")

    @cli_errors.cli_main("probe")
    def interrupted(argv):
        raise KeyboardInterrupt

    @cli_errors.cli_main("probe")
    def wrapped_user_error(argv):
        try:
            raise FileNotFoundError(2, "No such file or directory", "/corpus/train.json")
        except FileNotFoundError as error:
            raise RuntimeError("An error occurred while generating the dataset") from error

    @cli_errors.cli_main("probe")
    def own_error_type(argv):
        # A labelwise error class that is not a ValueError (as issue 16 may add for corpora).
        error_type = type("CorpusRecordError", (Exception,), {"__module__": "labelwise.data_scripts.base"})
        raise error_type("corpus.json, record 7: no 'text' field")

    code, err = run_cli(own_error_type, [], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "probe: error: corpus.json, record 7: no 'text' field" in err
    code, err = run_cli(broken, [], capsys)
    assert code == cli_errors.EXIT_INTERNAL_ERROR and "unexpected TypeError" in err and "--debug" in err
    code, err = run_cli(interrupted, [], capsys)
    assert code == cli_errors.EXIT_INTERRUPTED and "interrupted" in err
    code, err = run_cli(wrapped_user_error, [], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "No such file or directory" in err and "/corpus/train.json" in err
    with pytest.raises(TypeError):
        broken(["--debug"])


def test_probe_5_9_handler_module_stays_free_of_labelwise_imports():
    """The handler runs on endpoints without labelwise: the new checks must not import it."""
    source = Path(handler_module.__file__).read_text()
    assert "import labelwise" not in source and "from labelwise" not in source


# --- issue 30, checkpoints, data and CLI errors ---
# Item 4: every file the Trainer loads on resume is loaded here as the Trainer loads it.
def _trainer_restores_rng(folder: Path) -> None:
    """The Trainer's own RNG restore (`Trainer._load_rng_state`) on `folder`, as one process runs it."""
    import random
    from types import SimpleNamespace

    import numpy
    from transformers import Trainer

    saved = random.getstate(), numpy.random.get_state(), torch.random.get_rng_state()
    try:
        Trainer._load_rng_state(SimpleNamespace(args=SimpleNamespace(world_size=1, parallel_mode=None)), str(folder))
    finally:
        random.setstate(saved[0])
        numpy.random.set_state(saved[1])
        torch.random.set_rng_state(saved[2])


def test_probe_30_4_rng_state_the_trainer_cannot_load_falls_back_to_the_previous_checkpoint(tmp_path, caplog):
    from fractions import Fraction

    for step in (1, 2):
        write_checkpoint(tmp_path, step)
    _trainer_restores_rng(tmp_path / "checkpoint-2")  # a good RNG file: the Trainer restores it
    # An intact archive (the old zip test passed it) holding an object weights_only loading refuses.
    torch.save({"python": Fraction(1, 3)}, tmp_path / "checkpoint-2" / "rng_state.pth")
    with pytest.raises(Exception, match="Unsupported global|weights_only"):
        _trainer_restores_rng(tmp_path / "checkpoint-2")  # what every restart did
    report = check_checkpoint(str(tmp_path / "checkpoint-2"))
    assert any(p.startswith("rng_state.pth cannot be read (UnpicklingError") for p in report.problems), report.problems
    with caplog.at_level(logging.WARNING, logger="labelwise.train"):
        assert last_good_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-1")
    assert "Not resuming from " + str(tmp_path / "checkpoint-2") in caplog.text and "rng_state.pth" in caplog.text


@pytest.mark.parametrize(
    "content, message",
    [
        ({"python": random_state} if (random_state := __import__("random").getstate()) else {}, "lacks the numpy, cpu"),
        ({"python": [1, 2, 3], "numpy": None, "cpu": torch.zeros(3)}, "cannot be restored"),
    ],
)
def test_probe_30_4b_rng_state_with_wrong_content_is_damaged(tmp_path, content, message):
    folder = write_checkpoint(tmp_path, 1)
    torch.save(content, folder / "rng_state.pth")
    with pytest.raises(Exception):
        _trainer_restores_rng(folder)
    assert any(message in p for p in check_checkpoint(str(folder)).problems)


def test_probe_30_4c_loss_scaler_state_is_checked_when_present(tmp_path):
    folder = write_checkpoint(tmp_path, 1)
    torch.save({"scale": torch.tensor(1024.0), "_growth_tracker": 0}, folder / "scaler.pt")
    assert check_checkpoint(str(folder)).ok
    (folder / "scaler.pt").write_bytes(b"PK\x03\x04cut")
    assert any(p.startswith("scaler.pt cannot be read") for p in check_checkpoint(str(folder)).problems)


# Item 6: silent wrong results.
def test_probe_30_6a_identical_descriptions_after_truncation_are_warned(tmp_path, caplog):
    from labelwise.kinds.lame import identical_descriptions, lame_model
    from labelwise.training.arguments import LabelwiseArguments

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    descriptions = {
        "same_a": "cancer cell growth", "same_b": "cancer cell growth",
        "cut_a": "immune reaction in patients with severe disease", "cut_b": "immune reaction in patients with fever",
        "other": "blood vessel angiogenesis",
    }
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    full = tokenizer(list(descriptions.values()))["input_ids"]
    assert full[2] != full[3]  # they differ before truncation
    args = LabelwiseArguments(model="lame", label_attention_heads=4, max_description_length=6)
    with caplog.at_level(logging.WARNING, logger="labelwise.train"):
        model = lame_model(
            args, checkpoint, tokenizer, list(descriptions), list(descriptions.values()), "multi_label_classification"
        )
    assert identical_descriptions(model.config) == [["same_a", "same_b"], ["cut_a", "cut_b"]]
    assert "'same_a', 'same_b' get identical label states" in caplog.text and "the same text" in caplog.text
    assert "'cut_a', 'cut_b' get identical label states" in caplog.text and "--max_description_length" in caplog.text
    assert "'other'" not in caplog.text


def test_probe_30_6b_integer_eurovoc_ids_keep_their_labels_with_label_set_used(tmp_path):
    from test_data_classification import write_eurlex

    from labelwise.data_scripts import load_corpus

    docs = {"train": [("A", [12]), ("B", [10, 2])], "dev": [("C", [11])], "test": [("D", [1])]}
    root = write_eurlex(tmp_path / "eurlex", docs)
    corpus = load_corpus("eurlex57k", data_dir=str(root), cache_dir=str(tmp_path / "cache"), label_set="used")
    names = corpus["train"].features["labels"].feature.names
    assert names == ["1", "2", "10", "11", "12"]
    assert [[names[i] for i in row] for row in corpus["train"]["labels"]] == [["12"], ["10", "2"]]


def test_probe_30_6c_conflicting_duplicate_rows_are_reported(tmp_path, caplog):
    from test_data_classification import write_medical

    from labelwise.data_scripts import load_corpus

    root = write_medical(tmp_path / "ma", with_train=False)
    path = root / "medical_tc_test.csv"
    path.write_text(path.read_text() + '3,"Abstract 0, about class 1."\n')  # row 1's abstract with another class
    with caplog.at_level(logging.WARNING):
        load_corpus("medical_abstracts", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    assert "1 abstract(s) occur in several rows with different classes" in caplog.text
    assert "medical_tc_test-1 (neoplasms)" in caplog.text and "medical_tc_test-51 (nervous system diseases)" in caplog.text


def test_probe_30_6d_the_encoding_suggested_is_the_one_the_bytes_show(tmp_path, caplog):
    from labelwise.data_scripts import load_corpus
    from labelwise.data_scripts.files import CorpusEncodingError, guess_encoding

    assert guess_encoding("café".encode())[0] == "utf-8"
    assert guess_encoding("\u201cquoted\u201d café".encode("cp1252"))[0] == "cp1252"
    assert guess_encoding("café".encode("latin-1"))[0] == "latin-1"
    assert guess_encoding("café".encode("utf-16"))[0] == "utf-16"

    def corpus(data: bytes, **options):
        folder = tmp_path / f"c{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        (folder / "train.txt").write_bytes(data)
        return load_corpus("conll", data_dir=str(folder), cache_dir=str(tmp_path / "cache"), split_ratio="1:0:0", **options)

    text = "Severe B-ADR\nrash I-ADR\nafter O\n\u201cthe\u201d O\ncaf\u00e9 O\n\n"
    with pytest.raises(CorpusEncodingError, match="looks like cp1252.*encoding='cp1252'"):
        corpus(text.encode("cp1252"))
    with pytest.raises(CorpusEncodingError, match="looks like utf-8: all its bytes are valid UTF-8"):
        corpus(text.encode(), encoding="ascii")
    # UTF-8 read as Latin-1 decodes without an error, into mojibake: that is now said.
    with caplog.at_level(logging.WARNING):
        read = corpus(text.encode(), encoding="latin-1")
    assert "Ã©" in " ".join(read["train"]["text"])
    assert "encoding='latin-1' but its text is valid UTF-8" in caplog.text
    assert "pass encoding=\"latin-1\"" not in (REPO_ROOT / "docs" / "DATA.md").read_text()


def test_probe_30_6e_entity_type_on_typed_tags_is_refused(tmp_path):
    from labelwise.data_scripts import load_corpus
    from labelwise.data_scripts.base import CorpusFormatError

    (tmp_path / "train.txt").write_text("Aspirin B-Chemical\ncaused O\nrash B-Disease\n\n", encoding="utf-8")
    options = dict(data_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"), split_ratio="1:0:0")
    with pytest.raises(CorpusFormatError, match=r"train.txt, line 1.*entity_type='Disease' types bare tags only"):
        load_corpus("conll", entity_type="Disease", **options)
    (tmp_path / "train.txt").write_text("Aspirin O\ncaused O\nrash B-Disease\nskin B\n\n", encoding="utf-8")
    corpus = load_corpus("conll", entity_type="Disease", **options)  # its own type, and a bare tag: fine
    assert len(corpus["train"]) == 1


def test_probe_30_6f_dry_run_refuses_the_repo_id_a_push_refuses(models, tmp_path, capsys):
    from labelwise.publishing import push

    folder = copy_model(models["lame"], tmp_path / "lame")
    for bad in ("user/my model", "a/b/c", "user/x--y", "user/x.git"):
        code, err = run_cli(push.main, [str(folder), "--repo_id", bad, "--dry_run"], capsys)
        assert code != 0 and f"--repo_id {bad!r} is not a valid Hub repo id" in err, (bad, err)
        with pytest.raises(ValueError, match="not a valid Hub repo id"):
            push.push_folder(folder, bad, token="hf_fake")  # the real push refuses it the same way, first
    _, err = run_cli(push.main, [str(folder), "--repo_id", "user/x", "--dry_run"], capsys)
    assert "not a valid Hub repo id" not in err  # a valid id passes on to the folder checks


def test_probe_30_6g_label_names_and_descriptions_are_escaped_in_the_card(tmp_path):
    from test_publishing_card import write_synthetic

    from labelwise.publishing.model_card import build_model_card

    names = ["plain", "two\nlines", "pipe|name", "<!-- hidden", "back\\slash `code`"]
    folder = write_synthetic(tmp_path / "card", "vanilla",
                             label_descriptions={"plain": "first\r\nsecond | third", "two\nlines": "<b>bold</b>"})
    config = json.loads((folder / "config.json").read_text())
    config.update(id2label={str(i): n for i, n in enumerate(names)}, label2id={n: i for i, n in enumerate(names)})
    (folder / "config.json").write_text(json.dumps(config))
    text = build_model_card(folder).text
    rows = [line for line in text.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    assert len(rows) == len(names)  # one row per label: nothing split or swallowed
    assert rows[0] == "| 0 | plain | first second \\| third |"
    assert rows[1] == "| 1 | two lines | &lt;b&gt;bold&lt;/b&gt; |"
    assert rows[2] == "| 2 | pipe\\|name |  |" and rows[3] == "| 3 | &lt;!-- hidden |  |"
    assert rows[4] == "| 4 | back\\\\slash \\`code\\` |  |"
    assert "<!-- hidden" not in text and "<b>" not in text


# Item 7: errors name what is wrong.
def _train_argv(tmp_path: Path, checkpoint: str, *extra: str) -> list[str]:
    return ["--model_name_or_path", checkpoint, "--output_dir", str(tmp_path / "out"), "--max_train_samples", "8",
            "--max_eval_samples", "8", "--max_steps", "1", "--label_attention_heads", "4", "--max_length", "32",
            "--disable_tqdm", "true", "--save_strategy", "no", "--eval_strategy", "no",
            "--load_best_model_at_end", "false", *extra]


def test_probe_30_7a_empty_conll_train_split_is_named(tmp_path, capsys):
    from labelwise.training.cli import main

    (tmp_path / "conll").mkdir()
    (tmp_path / "conll" / "train.txt").write_text("")
    (tmp_path / "conll" / "test.txt").write_text("rash B-ADR\nok O\n\n")
    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    code, err = run_cli(main, _train_argv(tmp_path, checkpoint, "--model", "token_classification", "--corpus", "conll",
                                          "--data_dir", str(tmp_path / "conll")), capsys)
    assert code == cli_errors.EXIT_USER_ERROR
    assert "--corpus conll" in err and "has an empty train split (0 examples)" in err
    assert "No columns in the dataset" not in err


def test_probe_30_7b_short_max_length_tags_without_a_stride_error(tmp_path, capsys):
    from labelwise.training.cli import main, run

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    ner = ("--model", "token_classification", "--corpus", "demo_ner")
    summary = run(_train_argv(tmp_path, checkpoint, *ner))  # --max_length 32, no --ner_stride: trains
    assert summary["model_kind"] == "token_classification"
    code, err = run_cli(main, _train_argv(tmp_path, checkpoint, *ner, "--ner_stride", "30"), capsys)
    assert code == cli_errors.EXIT_USER_ERROR
    assert "--ner_stride 30 must be at least 0 and below the 30 word pieces" in err and "--max_length 32" in err


def test_probe_30_7c_missing_model_folder_is_named_as_a_folder(tmp_path, capsys):
    from labelwise.training.cli import main

    for missing in (str(tmp_path / "models" / "bert"), "./no-such-model"):
        code, err = run_cli(main, _train_argv(tmp_path, missing), capsys)
        assert code == cli_errors.EXIT_USER_ERROR and f"--model_name_or_path {missing}: no such folder" in err, err
        assert "Repo id" not in err
    (tmp_path / "models").mkdir()  # a relative <folder>/<name> under an existing folder is a folder too
    os.chdir(tmp_path)
    code, err = run_cli(main, _train_argv(tmp_path, "models/bert"), capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "no such folder (models/ exists, but holds no 'bert')" in err


def test_probe_30_7d_output_dir_that_is_a_file_is_refused_before_loading(tmp_path, capsys, monkeypatch):
    from labelwise.training import cli

    def must_not_run(*args, **kwargs):
        raise AssertionError("the corpus or model was loaded before the --output_dir check")

    monkeypatch.setattr(cli, "resolve_backbone", must_not_run)
    monkeypatch.setattr(cli, "load_training_data", must_not_run)
    (tmp_path / "a_file").write_text("x")
    for output in (tmp_path / "a_file", tmp_path / "a_file" / "run"):
        argv = _train_argv(tmp_path, "default") + ["--output_dir", str(output)]
        code, err = run_cli(cli.main, argv, capsys)
        assert code == cli_errors.EXIT_USER_ERROR and f"--output_dir {output}" in err and "a file" in err
        assert "Errno" not in err


def test_probe_30_7e_viewer_unknown_label_leaves_no_file(models, tmp_path, capsys):
    from labelwise.analysis import viewer

    output = tmp_path / "view.html"
    code, err = run_cli(viewer.main, ["--model", models["lame"], "--text", "rash", "--output", str(output),
                                      "--label", "nosuch", "--trust_remote_code"], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "nosuch" in err
    assert not output.exists()

# --- issue 30, ONNX serving and parameters ---
# 30.1 code from another repository on the ONNX serving path, 30.2 the folder's own code only on
# request, 30.3 `python -m labelwise.export` errors, 30.5 call parameters of the pipelines and the handler.
import textwrap  # noqa: E402

from fake_hub import FakeHub  # noqa: E402
from helpers import run_python_without_labelwise  # noqa: E402

from labelwise.export import export_model, onnx_pipeline  # noqa: E402
from labelwise.export.__main__ import main as export_main  # noqa: E402
from labelwise.publishing.push import handler_files  # noqa: E402
from labelwise.remote_code import RemoteCodeError as SharedRemoteCodeError  # noqa: E402

FOREIGN_PIPELINE = "attacker/repo--pipeline_evil.EvilPipeline"
LAME_TASK = "label-attention-classification"
SURROGATE_TEXT = "severe rash \ud800 after the drug"


@pytest.fixture(scope="module")
def onnx_lame(models, tmp_path_factory):
    """The probes' LAME model exported to ONNX (fp32 only)."""
    folder = tmp_path_factory.mktemp("probe_onnx") / "lame-onnx"
    export_model(models["lame"], str(folder))
    return folder


def with_foreign_onnx(onnx_folder: Path, target: Path, where: str) -> Path:
    """A copy of the export whose `where` entry names code in another repository."""
    folder = copy_model(str(onnx_folder), target)
    if where == "custom_pipelines":
        edit_config(folder, custom_pipelines={LAME_TASK: {"impl": FOREIGN_PIPELINE, "pt": ["AutoModelForSequenceClassification"]}})
    elif where == "auto_map":
        config = json.loads((folder / "config.json").read_text())
        edit_config(folder, auto_map={**config["auto_map"], "AutoModelForSequenceClassification": "attacker/repo--modeling_evil.Evil"})
    else:
        edit_config(folder, "tokenizer_config.json", auto_map={"AutoTokenizer": [None, "attacker/repo--tokenization_evil.Fast"]})
    return folder


def booby_trap(folder: Path, marker: Path) -> None:
    """Make every Python file of `folder` write `marker` when it is imported."""
    for path in folder.glob("*.py"):
        with open(path, "a") as handle:
            handle.write(f"\nopen({str(marker)!r}, 'w').write('ran')\n")


@pytest.mark.parametrize("where", ["custom_pipelines", "auto_map", "tokenizer_config"])
@pytest.mark.parametrize("trust", [False, True])
def test_probe_30_1_onnx_pipeline_refuses_code_from_another_repository_even_when_trusted(onnx_lame, tmp_path, where, trust):
    folder = with_foreign_onnx(onnx_lame, tmp_path / "onnx", where)
    with pytest.raises(SharedRemoteCodeError, match=r"another repository.*attacker/repo--.*even with --trust_remote_code"):
        onnx_pipeline(str(folder), trust_remote_code=trust)


def test_probe_30_1b_handler_reads_the_onnx_configs_at_start_whatever_the_backend(models, onnx_lame, tmp_path, monkeypatch):
    repo = copy_model(models["lame"], tmp_path / "repo")
    with_foreign_onnx(onnx_lame, repo / "onnx", "custom_pipelines")
    for backend in ("onnx", "torch"):
        monkeypatch.setenv("LABELWISE_BACKEND", backend)
        with pytest.raises(ValueError, match=r'onnx/config.json: custom_pipelines\["label-attention-classification"\]\["impl"\] = .*attacker/repo'):
            EndpointHandler(str(repo))


def test_probe_30_1c_push_and_export_refuse_an_onnx_folder_or_model_with_foreign_code(models, onnx_lame, tmp_path, capsys):
    from labelwise.publishing import push

    repo = copy_model(models["lame"], tmp_path / "repo")
    (repo / "README.md").write_text("# card\n")
    with_foreign_onnx(onnx_lame, repo / "onnx", "custom_pipelines")
    with pytest.raises(FolderError, match=r"onnx/config.json: custom_pipelines.*attacker/repo"):
        check_folder(repo, write_card=False)
    code, err = run_cli(push.main, [str(repo), "--repo_id", "user/lame", "--include_onnx"], capsys)
    assert code != 0 and "onnx/config.json" in err and "attacker/repo" in err
    # A model whose own config names foreign code is not exported (so never reaches onnx/ either).
    source = copy_model(models["lame"], tmp_path / "source")
    edit_config(source, custom_pipelines={LAME_TASK: {"impl": FOREIGN_PIPELINE, "pt": []}})
    with pytest.raises(SharedRemoteCodeError, match="another repository"):
        export_model(str(source), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_probe_30_1d_foreign_code_onnx_repo_from_the_fake_hub_is_refused_without_labelwise(models, onnx_lame, tmp_path, monkeypatch):
    """An attacker publishes a repo whose onnx/config.json points at a pipeline in their other repo. An endpoint
    (the repo's own handler.py, LABELWISE_BACKEND=onnx) and onnx_serving with the opt-in both refuse it, and the
    attacker's code never runs; the control at the end shows transformers itself would have run it."""
    from huggingface_hub import HfApi, constants

    token = "hf_FakeSecretToken0123456789abcdef"
    attacker = tmp_path / "attacker"
    attacker.mkdir()
    (attacker / "pipeline_evil.py").write_text(
        "import os\nopen(os.environ['EVIL_MARKER'], 'w').write('ran')\n\nclass EvilPipeline:\n    pass\n"
    )
    repo = copy_model(models["lame"], tmp_path / "repo")
    for name, data in handler_files().items():
        (repo / name).write_bytes(data)
    with_foreign_onnx(onnx_lame, repo / "onnx", "custom_pipelines")
    onnx_files = sorted(path.name for path in (repo / "onnx").iterdir() if path.is_file())
    marker = tmp_path / "evil_ran"
    with FakeHub(tmp_path / "hub", token=token) as hub:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        api = HfApi(endpoint=hub.endpoint, token=token)
        for repo_id, folder in (("attacker/repo", attacker), ("attacker/lame", repo)):
            api.create_repo(repo_id)
            api.upload_folder(repo_id=repo_id, folder_path=str(folder))
        code = textwrap.dedent(
            f"""
            import json, os, sys
            from huggingface_hub import hf_hub_download, snapshot_download
            repo = snapshot_download("attacker/lame")
            for name in {onnx_files!r}:  # (the fake Hub's tree listing is not recursive)
                hf_hub_download("attacker/lame", "onnx/" + name)
            onnx_folder = os.path.join(repo, "onnx")
            result = {{}}
            sys.path.insert(0, repo)
            os.environ["LABELWISE_BACKEND"] = "onnx"
            from handler import EndpointHandler
            try:
                EndpointHandler(repo)
                result["handler"] = "served"
            except ValueError as error:
                result["handler"] = str(error)
            sys.path.insert(0, onnx_folder)
            from onnx_serving import onnx_pipeline
            try:
                onnx_pipeline(onnx_folder, trust_remote_code=True)
                result["onnx_serving"] = "served"
            except ValueError as error:
                result["onnx_serving"] = str(error)
            result["ran"] = os.path.exists(os.environ["EVIL_MARKER"])
            from transformers.dynamic_module_utils import get_class_from_dynamic_module
            get_class_from_dynamic_module({FOREIGN_PIPELINE!r}, onnx_folder)
            result["ran_in_control"] = os.path.exists(os.environ["EVIL_MARKER"])
            print("RESULT " + json.dumps(result))
            """
        )
        env = dict(HF_ENDPOINT=hub.endpoint, HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0", HF_HUB_DISABLE_XET="1",
                   HF_HOME=str(tmp_path / "hf_home"), EVIL_MARKER=str(marker), OMP_NUM_THREADS="1")
        completed = run_python_without_labelwise(code, cwd=tmp_path, env=env)
    assert "RESULT " in completed.stdout, completed.stderr[-3000:]
    result = json.loads(completed.stdout.rsplit("RESULT ", 1)[1].splitlines()[0])
    assert "Refusing to serve" in result["handler"] and "onnx/config.json" in result["handler"]
    assert "another repository" in result["onnx_serving"] and "attacker/repo--pipeline_evil" in result["onnx_serving"]
    assert result["ran"] is False
    assert result["ran_in_control"] is True  # the entry is a live attack, not a typo transformers would ignore


def test_probe_30_2_onnx_pipeline_runs_the_folders_own_code_only_on_request(onnx_lame, tmp_path, capfd):
    folder = copy_model(str(onnx_lame), tmp_path / "trapped")
    marker = tmp_path / "folder_code_ran"
    booby_trap(folder, marker)
    served = onnx_pipeline(str(folder))  # labelwise's installed classes
    result = served(TEXTS[0])
    assert not marker.exists()
    reference = onnx_pipeline(str(onnx_lame), trust_remote_code=True)(TEXTS[0])  # the clean folder's own code
    assert result == reference
    assert "[y/N]" not in "".join(capfd.readouterr())
    onnx_pipeline(str(folder), trust_remote_code=True)
    assert marker.exists()  # with the opt-in, the folder's code is what runs


@pytest.mark.slow
def test_probe_30_2b_onnx_serving_without_labelwise_names_the_flag(onnx_lame, tmp_path):
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(onnx_lame)!r})
        from onnx_serving import onnx_pipeline
        result = {{}}
        try:
            onnx_pipeline({str(onnx_lame)!r})
            result["plain"] = "served"
        except ValueError as error:
            result["plain"] = str(error)
        served = onnx_pipeline({str(onnx_lame)!r}, trust_remote_code=True)
        result["trusted"] = [item["label"] for item in served({TEXTS[0]!r})["labels"]]
        print("RESULT " + json.dumps(result))
        """
    )
    completed = run_python_without_labelwise(code, cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert "RESULT " in completed.stdout, completed.stderr[-3000:]
    result = json.loads(completed.stdout.rsplit("RESULT ", 1)[1].splitlines()[0])
    assert "trust_remote_code=True" in result["plain"] and "custom_pipelines" in result["plain"]
    assert result["trusted"] == [item["label"] for item in onnx_pipeline(str(onnx_lame))(TEXTS[0])["labels"]]
    assert "[y/N]" not in completed.stdout + completed.stderr


def _no_weights(folder: Path) -> None:
    (folder / "model.safetensors").unlink()


def _no_tokenizer(folder: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)


def _bad_config(folder: Path) -> None:
    (folder / "config.json").write_text("{\n  \"model_type\": \"lame\",,\n}")


def _no_config(folder: Path) -> None:
    (folder / "config.json").unlink()


def _foreign(folder: Path) -> None:
    edit_config(folder, custom_pipelines={LAME_TASK: {"impl": FOREIGN_PIPELINE, "pt": []}})


@pytest.mark.parametrize(
    "damage, expected",
    [
        (_no_weights, "has no model weights"),
        (_no_tokenizer, "has no tokenizer"),
        (_bad_config, r"config.json: line 2, column 24: invalid JSON"),
        (_no_config, r"config.json is missing"),
        (_foreign, "another repository"),
    ],
)
def test_probe_30_3_export_cli_names_what_is_wrong_with_the_folder(models, tmp_path, capsys, damage, expected):
    import re

    folder = copy_model(models["lame"], tmp_path / "lame")
    damage(folder)
    code, err = run_cli(export_main, ["--model", str(folder), "--output", str(tmp_path / "out")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and re.search(expected, err), err
    assert len(err.strip().splitlines()) == 2 and "sentencepiece" not in err.lower()  # the message + "--debug" hint
    assert not (tmp_path / "out").exists()


def test_probe_30_3b_export_cli_missing_folder_output_file_and_untrained_head(models, tmp_path, capsys):
    code, err = run_cli(export_main, ["--model", str(tmp_path / "missing"), "--output", str(tmp_path / "out")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "no such folder" in err
    (tmp_path / "taken").write_text("a file")
    code, err = run_cli(export_main, ["--model", models["lame"], "--output", str(tmp_path / "taken")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "--output" in err and "is a file" in err
    # A plain encoder (BertModel, no classifier) would be exported with a random head: refused, naming the tensors.
    bert = tiny_bert_checkpoint(tmp_path / "bert")
    code, err = run_cli(export_main, ["--model", bert, "--output", str(tmp_path / "out")], capsys)
    assert code == cli_errors.EXIT_USER_ERROR and "classifier.weight" in err and "random" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_probe_30_3c_export_command_in_a_shell_exits_2_without_a_traceback(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "labelwise.export", "--model", str(tmp_path / "missing"), "--output", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=tmp_path,
    )
    assert completed.returncode == cli_errors.EXIT_USER_ERROR
    assert "Traceback" not in completed.stderr and "no such folder" in completed.stderr


BAD_PARAMETERS = [
    ({"threshold": "high"}, r"threshold must be a probability in \[0, 1\], got 'high'"),
    ({"threshold": float("nan")}, r"threshold must be a probability in \[0, 1\], got nan"),
    ({"threshold": 1.5}, r"threshold must be a probability in \[0, 1\], got 1.5"),
    ({"max_length": 100000}, r"max_length must be an integer in \[3, 128\].*got 100000"),
]
LAME_ONLY = [({"top_k_evidence": -1}, r"top_k_evidence must be an integer >= 0, got -1")]


@pytest.mark.parametrize("parameters, expected", BAD_PARAMETERS + LAME_ONLY)
def test_probe_30_5_lame_pipelines_and_handler_name_the_bad_parameter(models, onnx_lame, parameters, expected):
    torch_pipe = pipeline(LAME_TASK, model=models["lame"], trust_remote_code=True)
    for served in (torch_pipe, onnx_pipeline(str(onnx_lame))):
        with pytest.raises(ValueError, match=expected):
            served(TEXTS[0], **parameters)
    with pytest.raises(ValueError, match=expected):
        EndpointHandler(models["lame"])({"inputs": TEXTS[0], "parameters": parameters})


@pytest.mark.parametrize("parameters, expected", BAD_PARAMETERS)
def test_probe_30_5b_layerwise_pipeline_names_the_bad_parameter(models, parameters, expected):
    served = pipeline("hierarchical-classification", model=models["layerwise"], trust_remote_code=True)
    with pytest.raises(ValueError, match=expected):
        served(TEXTS[0], **parameters)


def test_probe_30_5c_lone_surrogate_is_named_by_every_pipeline_and_the_handler(models):
    where = r"has a lone surrogate '\\ud800' at character 12"
    with pytest.raises(ValueError, match=where):
        pipeline(LAME_TASK, model=models["lame"], trust_remote_code=True)(SURROGATE_TEXT)
    with pytest.raises(ValueError, match=where):
        pipeline("hierarchical-classification", model=models["layerwise"], trust_remote_code=True)(SURROGATE_TEXT)
    for kind in ("lame", "classifier", "ner"):
        with pytest.raises(ValueError, match=r'"inputs"\[1\] ' + where):
            EndpointHandler(models[kind])({"inputs": [TEXTS[0], SURROGATE_TEXT]})


@pytest.mark.parametrize(
    "parameters, expected",
    [
        ({"max_length": 100000}, r"max_length must be an integer in \[3, 128\]"),
        ({"top_k": -1}, r"top_k must be an integer >= 1 \(or null: every label\), got -1"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
    ],
)
def test_probe_30_5d_handler_checks_the_standard_pipelines_parameters(models, parameters, expected):
    with pytest.raises(ValueError, match=expected):
        EndpointHandler(models["classifier"])({"inputs": TEXTS[0], "parameters": parameters})
    # In range, the same parameters are served.
    assert EndpointHandler(models["classifier"])({"inputs": TEXTS[0], "parameters": {"max_length": 64, "top_k": 1}})
