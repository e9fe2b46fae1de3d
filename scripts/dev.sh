#!/usr/bin/env bash
# Run a command inside the project's virtual environment (.venv), creating and filling it first
# when it is missing or pyproject.toml changed. Needs only python3 with venv and pip.
#
#   bash scripts/dev.sh sdpa-bench run -c configs/default.yaml
#   bash scripts/dev.sh pytest
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.installed-$(python3 -c 'import hashlib,sys; print(hashlib.sha1(open("pyproject.toml","rb").read()).hexdigest()[:12])')"

if [ ! -f "$stamp" ]; then
  if [ ! -x "$venv/bin/python" ]; then
    if python3 -c 'import torch' 2>/dev/null; then
      # Keep the torch the user already has (often a CUDA build): the venv sees it, so pip
      # finds the requirement satisfied and replaces nothing.
      echo "dev.sh: reusing the torch of $(command -v python3)" >&2
      python3 -m venv --system-site-packages "$venv"
    else
      python3 -m venv "$venv"
    fi
  fi
  if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    # No torch anywhere: take the release this project is tested with. Unpinned, pip would
    # pick the newest CUDA build (several GB) even on a machine without a GPU.
    "$venv/bin/python" -m pip install -q "torch==2.13.0"
  fi
  "$venv/bin/python" -m pip install -q -e ".[test]"
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
export PATH="$PWD/$venv/bin:$PATH"
exec "$@"
