"""push_to_hub.py against the fake Hub (tests/fake_hub.py): folder checks, a push of a LAME folder that
a fresh process without labelwise loads back with the same outputs, the token kept secret, and failed
pushes that leave the folder as it was."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from demo_models import save_classifier, save_lame
from fake_hub import FakeHub
from helpers import run_python_without_labelwise
from huggingface_hub import constants

from labelwise.publishing import push
from labelwise.publishing.model_card import REPO_ID_PLACEHOLDER
from labelwise.publishing.push import FolderError, PushError, check_folder, push_folder

TOKEN = "hf_FakeSecretToken0123456789abcdef"
REPO_ROOT = Path(__file__).resolve().parents[1]
TEXT = "The tumor cells showed growth signals."
SUMMARY = {
    "labelwise_version": "0.1.0",
    "model_kind": "lame",
    "task": "multi_label",
    "base_model": "sentence-transformers/all-MiniLM-L6-v2",
    "dataset": {"name": "demo", "hub_id": None, "config": {}},
    "hyperparameters": {"learning_rate": 5e-5},
    "metrics": {"test": {"micro_f1": 0.625}},
    "widget_examples": [TEXT],
    "label_descriptions": None,
    "levels": None,
}


def add_training_leftovers(folder: Path, kind: str = "lame") -> None:
    """What a Trainer output folder holds besides the model: none of it may be uploaded."""
    (folder / "training_summary.json").write_text(json.dumps({**SUMMARY, "model_kind": kind}))
    checkpoint = folder / "checkpoint-10"
    checkpoint.mkdir()
    (checkpoint / "model.safetensors").write_bytes(b"old weights")
    (checkpoint / "optimizer.pt").write_bytes(b"optimizer state")
    (folder / "training_args.bin").write_bytes(b"pickled arguments")
    (folder / "runs").mkdir()
    (folder / "runs" / "events.out.tfevents").write_bytes(b"logs")


def folder_hashes(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def hub(tmp_path):
    with FakeHub(tmp_path / "hub", token=TOKEN) as server:
        yield server


@pytest.fixture
def online(hub, monkeypatch):
    """Let this process talk to the fake Hub (conftest makes tests offline; hf_xet is not served)."""
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    return hub


def subprocess_env(hub: FakeHub, tmp_path: Path, **extra) -> dict:
    return dict(
        os.environ,
        HF_ENDPOINT=hub.endpoint,
        HF_HUB_OFFLINE="0",
        TRANSFORMERS_OFFLINE="0",
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(tmp_path / "hf_home"),
        **extra,
    )


# -- folder checks (no network) ------------------------------------------------------------------


def test_check_folder_uploads_the_model_and_keeps_training_state_local(tmp_path):
    folder = Path(save_lame(tmp_path / "lame"))
    add_training_leftovers(folder)
    (folder / ".cache").mkdir()
    (folder / ".cache" / "x").write_text("cache")
    plan = check_folder(folder)
    assert plan.card_written and (folder / "README.md").is_file()
    top_level = {name for name in os.listdir(folder) if (folder / name).is_file()}
    assert set(plan.files) == top_level - {"training_args.bin"}
    assert {
        "config.json",
        "model.safetensors",
        "configuration_lame.py",
        "modeling_lame.py",
        "pipeline_lame.py",
        "tokenizer.json",
        "tokenizer_config.json",
        "training_summary.json",
        "README.md",
    } <= set(plan.files)
    assert plan.remote_code == [
        "configuration_lame.py", "decision_thresholds.py", "encoders.py", "head_lame.py", "integrated_gradients.py", "labels_lame.py",
        "large_labels_lame.py", "modeling_lame.py", "pipeline_lame.py", "pipeline_parameters.py", "saved_folder.py", "segments.py",
    ]
    assert set(plan.skipped) == {
        "checkpoint-10/model.safetensors",
        "checkpoint-10/optimizer.pt",
        "training_args.bin",
        "runs/events.out.tfevents",
        ".cache/x",
    }
    assert "pickle" in plan.skipped["training_args.bin"] or "training state" in plan.skipped["training_args.bin"]


def test_lame_folder_without_its_pipeline_gets_a_warning(tmp_path):
    folder = Path(save_lame(tmp_path / "lame"))
    (folder / "README.md").write_text("# my own card\n")
    assert check_folder(folder, write_card=False).warnings == []
    config = json.loads((folder / "config.json").read_text())
    del config["custom_pipelines"]
    (folder / "config.json").write_text(json.dumps(config))
    (warning,) = check_folder(folder, write_card=False).warnings
    assert "pipeline_lame.py" in warning and "save_pretrained" in warning


def test_pickle_only_weights_are_refused(tmp_path):
    folder = Path(save_classifier(tmp_path / "m"))
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(FolderError, match=r"only as pickle files \(pytorch_model.bin\).*safetensors only"):
        check_folder(folder, write_card=False)


def test_missing_remote_code_is_named_with_the_config_field(tmp_path):
    folder = Path(save_lame(tmp_path / "lame"))
    (folder / "modeling_lame.py").unlink()
    with pytest.raises(FolderError, match=r'auto_map\["AutoModel.*"\].*needs modeling_lame.py'):
        check_folder(folder, write_card=False)


def test_remote_code_that_imports_labelwise_is_refused(tmp_path):
    folder = Path(save_lame(tmp_path / "lame"))
    lines = (folder / "pipeline_lame.py").read_text().splitlines()
    lines.insert(3, "from labelwise.modeling import LameConfig")
    (folder / "pipeline_lame.py").write_text("\n".join(lines))
    with pytest.raises(FolderError, match=r"pipeline_lame.py:4: remote code imports labelwise"):
        check_folder(folder, write_card=False)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "config.json").unlink(), "config.json is missing"),
        (lambda f: (f / "config.json").write_text("{\n  'bad': 1\n}"), "config.json: line 2"),
        (lambda f: (f / "tokenizer_config.json").unlink(), "no tokenizer"),
        (lambda f: (f / "model.safetensors").unlink(), r"no model weights \(\*.safetensors\)"),
        (lambda f: None, "neither a README.md nor the training_summary.json"),
    ],
)
def test_unpublishable_folders_fail_before_any_request(tmp_path, damage, message):
    folder = Path(save_classifier(tmp_path / "m"))
    damage(folder)
    with pytest.raises(FolderError, match=message):
        push_folder(folder, "user/never", token=TOKEN)  # no hub running: a request would fail differently


# -- pushes --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_push_lame_then_load_it_in_a_fresh_process_without_labelwise(tmp_path, hub):
    folder = Path(save_lame(tmp_path / "lame"))
    add_training_leftovers(folder)
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "push_to_hub.py"),
            str(folder),
            "--repo_id",
            "user/lame-demo",
            "--private",
            "--revision",
            "dev",
            "--commit_message",
            "First LAME upload",
        ],
        env=subprocess_env(hub, tmp_path, HF_TOKEN=TOKEN),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Not uploading training_args.bin" in result.stderr
    commit_url = result.stdout.strip().splitlines()[-1].split(": ", 1)[1]
    repo = hub.repo("user/lame-demo")
    assert repo.private and commit_url.endswith(repo.branches["dev"])
    assert repo.messages[repo.branches["dev"]] == "First LAME upload"
    assert set(hub.files("user/lame-demo", "main")) == {".gitattributes"}  # only the branch got the commit

    # The token went to the Hub in headers only: not in the output, not in the folder.
    assert TOKEN not in result.stdout + result.stderr
    assert all(TOKEN.encode() not in path.read_bytes() for path in folder.rglob("*") if path.is_file())

    files = hub.files("user/lame-demo", "dev")
    assert not any(name.startswith(("checkpoint-", "runs/")) or name.endswith((".bin", ".pt")) for name in files)
    assert files["model.safetensors"] == (folder / "model.safetensors").read_bytes()
    assert files["handler.py"] == Path(push.HANDLER_TEMPLATE).read_bytes()
    assert files["requirements.txt"].decode().startswith("transformers>=5.0,<6\n")
    readme = files["README.md"].decode()
    assert 'repo = "user/lame-demo"' in readme and REPO_ID_PLACEHOLDER not in readme
    assert REPO_ID_PLACEHOLDER in (folder / "README.md").read_text()  # the local card keeps the placeholder

    load = textwrap.dedent(
        f"""
        import json, torch
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import RepositoryNotFoundError
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
        try:
            hf_hub_download("user/lame-demo", "config.json", revision="dev", token=False)
            private = False
        except RepositoryNotFoundError:
            private = True
        repo = "user/lame-demo"
        tokenizer = AutoTokenizer.from_pretrained(repo, revision="dev", trust_remote_code=True)
        model = AutoModelForSequenceClassification.from_pretrained(repo, revision="dev", trust_remote_code=True).eval()
        with torch.no_grad():
            logits = model(**tokenizer({TEXT!r}, return_tensors="pt")).logits[0].tolist()
        out = pipeline(model=repo, revision="dev", trust_remote_code=True)({TEXT!r})
        labels = [[x["label"], x["score"], [w["word"] for w in x["evidence"]]] for x in out["labels"]]
        print(json.dumps({{"private": private, "module": type(model).__module__, "logits": logits, "labels": labels}}))
        """
    )
    env_code = "import os\nos.environ.update(" + repr(subprocess_env(hub, tmp_path, HF_TOKEN=TOKEN)) + ")\n"
    loaded = run_python_without_labelwise(env_code + load, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    report = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert report["private"], "the private repo must not be readable without the token"
    assert report["module"].startswith("transformers_modules"), report["module"]  # remote code, not labelwise

    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        logits = model(**tokenizer(TEXT, return_tensors="pt")).logits[0]
    assert torch.allclose(torch.tensor(report["logits"]), logits, atol=1e-5)
    expected = pipeline(model=str(folder), trust_remote_code=True)(TEXT)["labels"]
    assert [(x[0], x[2]) for x in report["labels"]] == [
        (x["label"], [w["word"] for w in x["evidence"]]) for x in expected
    ]
    assert [x[1] for x in report["labels"]] == pytest.approx([x["score"] for x in expected], abs=1e-5)


def test_failed_commit_leaves_the_folder_intact_and_names_repo_and_status(tmp_path, online, capsys, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, huggingface_hub's included
    folder = Path(save_classifier(tmp_path / "m"))
    add_training_leftovers(folder, kind="vanilla")
    check_folder(folder)  # writes README.md, so the hashes below cover a complete folder
    before = folder_hashes(folder)
    online.fail("commit", 500)
    with pytest.raises(PushError) as error:
        push_folder(folder, "user/broken")
    assert error.value.status == 500
    message = str(error.value)
    assert "user/broken" in message and "HTTP 500" in message and "committing" in message
    assert "Injected failure" in message  # the Hub's own explanation is passed on
    assert folder_hashes(folder) == before
    assert set(online.files("user/broken")) == {".gitattributes"}

    # The command line says the same on stderr and exits with 1, without the token.
    assert push.main([str(folder), "--repo_id", "user/broken"]) == 1
    captured = capsys.readouterr()
    assert "error: Pushing" in captured.err and "user/broken" in captured.err and "HTTP 500" in captured.err
    assert TOKEN not in captured.out + captured.err + caplog.text
    assert "Pushing" in caplog.text or "Uploading" in caplog.text  # the log was captured at all
    assert folder_hashes(folder) == before


def test_failed_repo_creation_is_reported(tmp_path, online):
    folder = Path(save_classifier(tmp_path / "m"))
    add_training_leftovers(folder, kind="vanilla")
    online.fail("create_repo", 503)
    with pytest.raises(PushError, match=r"user/new failed while creating the repository: HTTP 503"):
        push_folder(folder, "user/new")


def test_repeat_pushes_handler_flag_and_private_refusal(tmp_path, online):
    folder = Path(save_classifier(tmp_path / "m"))
    add_training_leftovers(folder, kind="vanilla")
    first = push_folder(folder, "user/clf", include_handler=False)
    files = online.files("user/clf")
    assert "handler.py" not in files and "handler.py" not in files["README.md"].decode()
    assert "requirements.txt" not in files
    assert online.repo("user/clf").messages[first.rsplit("/", 1)[1]] == "Upload vanilla model with labelwise"
    (folder / "training_summary.json").write_text(json.dumps({**SUMMARY, "model_kind": "vanilla", "metrics": {}}))
    second = push_folder(folder, "user/clf")  # the repo exists: pushed on top
    assert second != first and "handler.py" in online.files("user/clf")
    with pytest.raises(PushError, match="already exists and is public"):
        push_folder(folder, "user/clf", private=True)


def test_missing_token_is_a_clear_error(tmp_path, online, monkeypatch):
    folder = Path(save_classifier(tmp_path / "m"))
    add_training_leftovers(folder, kind="vanilla")
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    with pytest.raises(PushError, match="No Hugging Face token: set HF_TOKEN or run `hf auth login`"):
        push_folder(folder, "user/clf")
    assert online.repos == {}


def test_include_demo_adds_a_ready_space_folder_and_says_how_to_launch_it(tmp_path, online):
    from labelwise.analysis.space import SPACE_FILES

    folder = Path(save_classifier(tmp_path / "m"))
    add_training_leftovers(folder, kind="vanilla")
    push_folder(folder, "user/clf-demo", include_demo=True)
    files = online.files("user/clf-demo")
    assert {f"space/{name}" for name in SPACE_FILES} <= set(files)
    app = files["space/app.py"].decode()
    compile(app, "space/app.py", "exec")
    assert "'user/clf-demo'" in app and repr([TEXT]) in app  # the model repo and the card's widget examples
    assert files["space/README.md"].decode().startswith("---\ntitle:")
    readme = files["README.md"].decode()
    assert "## Demo Space" in readme and 'hf download user/clf-demo --include "space/*"' in readme
    assert "## Demo Space" not in (folder / "README.md").read_text()


def test_dry_run_lists_the_upload_and_sends_nothing(tmp_path, capsys):
    folder = Path(save_classifier(tmp_path / "m"))
    add_training_leftovers(folder, kind="vanilla")
    assert push.main([str(folder), "--repo_id", "user/x", "--dry_run"]) == 0  # offline: a request would fail
    out = capsys.readouterr().out
    assert "files would be uploaded" in out and "model.safetensors" in out
    assert "stays local: training_args.bin" in out and "stays local: checkpoint-10/optimizer.pt" in out


def test_pushing_an_unchanged_folder_makes_no_new_commit(tmp_path, online):
    folder = Path(save_classifier(tmp_path / "m"))
    add_training_leftovers(folder, kind="vanilla")
    first = push_folder(folder, "user/same")
    commits = len(online.repo("user/same").commits)
    assert push_folder(folder, "user/same") == first
    assert len(online.repo("user/same").commits) == commits


def test_dry_run_writes_nothing_into_the_folder(tmp_path, capsys):
    """A folder without README.md: the dry run says the card would be generated, and leaves the folder as it was."""
    folder = Path(save_classifier(tmp_path / "m"))
    add_training_leftovers(folder, kind="vanilla")
    assert not (folder / "README.md").exists()
    before = folder_hashes(folder)
    assert push.main([str(folder), "--repo_id", "user/x", "--dry_run"]) == 0
    assert folder_hashes(folder) == before
    out = capsys.readouterr().out
    assert "README.md would be generated from training_summary.json" in out
    assert "README.md" in out.splitlines()[0]  # listed among the files the upload would send
