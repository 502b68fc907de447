#!/usr/bin/env bash
# test_hf_transformers.sh: tests/check_hf_transformers.py (transformers'
# GPT2LMHeadModel and MambaForCausalLM load tunebench checkpoints with no
# rename and compute the same log-probabilities) when build/venv-ecosystem
# has transformers. `make test-ecosystem` makes it (python3-torch and PyPI);
# without it this says why and counts itself skipped.
cd "$(dirname "$0")/.."
venv=${TB_ECOSYSTEM_VENV:-build/venv-ecosystem}
if ! "$venv/bin/python" -c "import torch, transformers" >/dev/null 2>&1; then
  echo "SKIP test_hf_transformers: $venv has no transformers (make test-ecosystem makes it: python3-torch and transformers from PyPI)"
  echo "test_hf_transformers: 0 passed, 0 failed, 1 skipped"
  exit 0
fi
"$venv/bin/python" tests/check_hf_transformers.py 2>&1 | sed 's/^check_hf_transformers: \([0-9]* passed\)/test_hf_transformers: \1/'
exit "${PIPESTATUS[0]}"
