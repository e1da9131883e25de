"""End to end: `python -m labelwise.demo` on a tiny LAME model, driven in headless Chromium.

One app process and one browser session: submit a text (with markup in it), read back the predicted
labels and the shading of every word from the rendered page, switch the label, save a screenshot.

Needs Debian's `chromium` and the `playwright` Python package (`.ci/install_browser.sh`). When the
browser cannot start the test fails if the environment variable CI is set, and skips otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from demo_models import save_lame

from labelwise.analysis.viewer import CHROMIUM_FLAGS

pytestmark = pytest.mark.slow

TEXT = "Cancer cell growth <img src=x onerror=alert(1)> and immune inflammation in blood vessel angiogenesis."


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI needs the browser test: {reason} (run .ci/install_browser.sh)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """Start the demo on a free localhost port; yield `(url, model_folder)`."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        _unavailable("gradio (the `demo` extra) is not installed")
    folder = save_lame(tmp_path_factory.mktemp("e2e") / "lame")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("e2e-log") / "demo.log"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "labelwise.demo", "--model", folder, "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"the demo exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the demo did not answer on {url} within 180 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, folder
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        _unavailable("no chromium executable on PATH")
    driver = sync_playwright().start()
    try:
        # Playwright gives every launch a fresh, empty profile directory.
        instance = driver.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS[1:]))
    except Exception as error:  # noqa: BLE001  (any launch failure means "no browser here")
        driver.stop()
        _unavailable(f"Chromium ({executable}) did not start: {error}")
    yield instance
    instance.close()
    driver.stop()


def _alpha(colour: str) -> float:
    """The alpha of a computed `rgb(...)`/`rgba(...)` colour (0 for transparent)."""
    numbers = [float(x) for x in re.findall(r"[\d.]+", colour)]
    return numbers[3] if len(numbers) == 4 else 1.0


def test_demo_in_headless_chromium(browser, app, tmp_path):
    from transformers import pipeline

    url, folder = app
    expected = pipeline("label-attention-classification", model=folder, trust_remote_code=True)(TEXT)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    hosts, dialogs = set(), []
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(url)
    page.fill("#lw-input textarea", TEXT)
    page.click("#lw-submit")
    page.wait_for_selector("#lw-view .lw-lame", timeout=60_000)
    view = page.locator("#lw-view .lw-lame")

    # Predicted labels and probabilities, as the pipeline gives them, most probable first.
    chips = view.locator(".lw-label").evaluate_all(
        "els => els.map(e => [e.dataset.label, e.dataset.score, e.dataset.predicted, getComputedStyle(e).fontWeight])"
    )
    assert [(c[0], c[1], c[2]) for c in chips] == [
        (item["label"], f"{item['score']:.3f}", str(item["predicted"]).lower()) for item in expected["labels"]
    ]
    assert {c[0] for c in chips if c[2] == "true"} == {"growth"}  # fixed by the model's biases
    assert all((int(c[3]) >= 600) == (c[2] == "true") for c in chips)  # predicted labels are bold

    # The document: every word shaded by the selected (top) label's weight, normalised by its maximum.
    def shading() -> list[tuple[str, float]]:
        cells = view.locator(".lw-doc .lw-w").evaluate_all(
            "els => els.map(e => [e.textContent, getComputedStyle(e).backgroundColor])"
        )
        return [(word, _alpha(colour)) for word, colour in cells]

    def expected_shading(label: str) -> list[tuple[str, float]]:
        weights = expected["word_weights"][label]
        return [(w["word"], pytest.approx(x / max(weights), abs=0.01)) for w, x in zip(expected["words"], weights)]

    top = expected["labels"][0]["label"]
    assert shading() == expected_shading(top)
    assert view.locator(".lw-doc").inner_text() == TEXT  # the markup is shown as text ...
    assert dialogs == [] and page.locator("#lw-view img").count() == 0  # ... and never runs
    detail = view.locator(".lw-detail:visible")
    assert detail.count() == 1 and detail.get_attribute("data-label") == top
    evidence = detail.locator(".lw-ev").all_inner_texts()
    assert evidence == [e["word"] for e in expected["labels"][0]["evidence"]] and evidence

    # Switching the label (CSS only: gr.HTML runs no script) re-shades the words. The tiny model's
    # labels differ enough somewhere for a view stuck on the first label to fail.
    other = expected["labels"][-1]["label"]
    assert max(abs(a[1].expected - b[1].expected) for a, b in zip(expected_shading(top), expected_shading(other))) > 0.03
    view.locator(f'.lw-label[data-label="{other}"]').click()
    assert shading() == expected_shading(other)
    assert view.locator(".lw-detail:visible").get_attribute("data-label") == other
    view.locator(f'.lw-label[data-label="{top}"]').click()

    screenshot = tmp_path / "demo.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    assert hosts == {url.split("/")[2]}, f"the page reached other hosts: {hosts}"
    page.close()


def _viewer_prediction() -> dict:
    text = "Tumour cells invade blood vessels; immune cells answer."
    words = [{"word": m.group(), "start": m.start(), "end": m.end()} for m in re.finditer(r"\w+|[^\w\s]", text)]
    first = [0.05, 0.1, 0.4, 0.05, 0.2, 0.0, 0.0, 0.1, 0.0, 0.05]
    second = [0.0, 0.0, 0.0, 0.1, 0.1, 0.0, 0.6, 0.2, 0.0, 0.0]
    return {
        "text": text,
        "labels": [
            {"label": "invasion", "score": 0.9, "description": "activating invasion", "predicted": True, "evidence": []},
            {"label": "immune", "score": 0.6, "description": "avoiding immune destruction", "predicted": True, "evidence": []},
        ],
        "words": words,
        "word_weights": {"invasion": first, "immune": second},
    }


def test_saved_page_switches_labels_with_javascript_disabled(browser, tmp_path):
    from labelwise.analysis.viewer import render_html

    prediction = _viewer_prediction()
    path = tmp_path / "view.html"
    path.write_text(render_html(prediction), encoding="utf-8")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(path.as_uri())

    def alphas() -> list[float]:
        # Read the colours through the driver's own channel: the page's scripts are off.
        return [_alpha(s.evaluate("e => getComputedStyle(e).backgroundColor")) for s in page.locator(".lw-w").all()]

    for label in ("invasion", "immune", "invasion"):
        page.locator(f'.lw-label[data-label="{label}"]').click()
        weights = prediction["word_weights"][label]
        assert alphas() == pytest.approx([w / max(weights) for w in weights], abs=0.01), label
        assert page.locator(".lw-detail:visible").get_attribute("data-label") == label
    context.close()


def _png_size(path) -> tuple[int, int]:
    with open(path, "rb") as handle:
        data = handle.read(24)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_render_png_full_page_and_fixed_size(browser, tmp_path):
    """`render_png` through Playwright (whole page; in a fresh process, as Playwright's sync API does
    not nest) and through the chromium command line (fixed window)."""
    script = (
        "import json, sys\n"
        "from labelwise.analysis.viewer import render_png\n"
        "render_png(json.loads(sys.argv[1]), sys.argv[2], width=700)\n"
    )
    import json

    full = tmp_path / "full.png"
    completed = subprocess.run(
        [sys.executable, "-c", script, json.dumps(_viewer_prediction()), str(full)], capture_output=True, text=True, timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    width, height = _png_size(full)
    assert width == 700 and height >= 300

    from labelwise.analysis.viewer import render_png

    fixed = render_png(_viewer_prediction(), tmp_path / "fixed.png", width=640, height=480)
    assert _png_size(fixed) == (640, 480)
