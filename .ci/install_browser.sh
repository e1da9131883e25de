#!/usr/bin/env bash
# Install what the end-to-end browser test (tests/test_demo_e2e.py) needs: Debian's Chromium
# (Playwright's own browser download cannot reach its CDN here, so the test drives
# /usr/bin/chromium through `executable_path`), Gradio for the demo app and the Playwright
# Python driver. Idempotent and quiet: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

# Gradio (the `demo` extra) and Playwright (in the `test` extra), only when missing: a pip run that
# finds everything installed still takes half a minute to resolve.
if ! python -c "import gradio, playwright" >/dev/null 2>&1; then
  python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "torch==2.13.0" -e ".[demo,test]"
fi
# Debian's wrapper script prints a harmless shell warning on stderr.
chromium --version 2>/dev/null
