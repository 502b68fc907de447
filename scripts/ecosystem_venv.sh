#!/usr/bin/env bash
# ecosystem_venv.sh [DIR]: makes DIR (default build/venv-ecosystem), a Python
# environment for tests/check_hf_transformers.py: Debian's python3 and torch
# (python3-torch, through scripts/deps.sh ecosystem) plus transformers from
# PyPI. 4.44.2 is the transformers checked to load both architectures on
# Debian 12's torch 1.13. Reuses DIR when it already imports transformers.
set -euo pipefail
venv=${1:-build/venv-ecosystem}
transformers_pin="transformers==4.44.2"
if "$venv/bin/python" -c "import torch, transformers, safetensors" >/dev/null 2>&1; then exit 0; fi
bash scripts/deps.sh ecosystem
start=$(date +%s)
rm -rf "$venv"
/usr/bin/python3 -m venv --system-site-packages "$venv"
if ! "$venv/bin/pip" install -q --disable-pip-version-check "$transformers_pin" safetensors >"$venv.log" 2>&1; then
  echo "ecosystem_venv: error: pip could not install $transformers_pin (needs pypi.org); see $venv.log" >&2
  rm -rf "$venv"
  exit 1
fi
echo "ecosystem_venv: made $venv ($transformers_pin over Debian's torch) in $(( $(date +%s) - start )) s"
