#!/usr/bin/env bash
# test_torch_lstm.sh: tests/check_torch_lstm.py (a tunebench LSTM checkpoint
# loaded into torch.nn.LSTM computes the same loss) when /usr/bin/python3 has
# torch (`bash scripts/deps.sh torch`); torch is never needed to build or run
# tunebench, so without it this says why and counts itself skipped.
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then
  echo "SKIP test_torch_lstm: /usr/bin/python3 has no torch (bash scripts/deps.sh torch installs it)"
  echo "test_torch_lstm: 0 passed, 0 failed, 1 skipped"
  exit 0
fi
/usr/bin/python3 tests/check_torch_lstm.py 2>&1 | sed 's/^check_torch_lstm: \([0-9]* passed\)/test_torch_lstm: \1/'
exit "${PIPESTATUS[0]}"
