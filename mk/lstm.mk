# mk/lstm.mk: LSTM-specific build settings and targets.

# The cell's sigmoid and tanh compute in whole vectors (kernels/cpu/vec16.h)
# with vec_math.h's scalar tails: the same flags as the selective scan
# (mk/mamba.mk says why; they change speed and rounding, never determinism).
%/kernels/cpu/lstm.o: CFLAGS += -fno-trapping-math -ffp-contract=fast

# make exp-lstm-6m, make exp-lstm-60m: the same as runner.mk's exp-% targets
# (STEPS= BATCH= BACKEND= SEED= THREADS= RESULTS= DATA= TRAIN_FLAGS=), for
# experiments/lstm-*.json. The recipe's variables (TRAIN_BIN, CORPUS,
# TRAIN_OVERRIDES) are runner.mk's, expanded when the recipe runs.
LSTM_EXP_TARGETS := exp-lstm-6m exp-lstm-60m
.PHONY: $(LSTM_EXP_TARGETS)
$(LSTM_EXP_TARGETS): exp-%: deps-build $(BUILD)/tunebench $(if $(filter cuda,$(BACKEND)),$(BUILD)/tunebench-cuda)
	@if [ -z "$(DATA)" ] && [ ! -f $(CORPUS)/train.bin ]; then \
	  echo "tunebench: the corpus $(CORPUS) is missing; preparing it with 'make data'"; \
	  $(MAKE) --no-print-directory data || exit 1; fi
	$(TRAIN_BIN) train --config experiments/$*.json $(strip $(TRAIN_OVERRIDES))

# tests/check_torch_lstm.py, run by `make test` when /usr/bin/python3 has torch.
TEST_BIN += tests/test_torch_lstm.sh
