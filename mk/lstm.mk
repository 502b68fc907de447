# mk/lstm.mk: LSTM-specific build settings and targets.
##@ Experiments
## exp-lstm-6m      train the LSTM 6M experiment (experiments/lstm-6m.json; STEPS= BATCH= BACKEND= ...)
## exp-lstm-60m     train the LSTM 60M experiment (experiments/lstm-60m.json)
##@ Benchmarks
## bench-lstm       LSTM 6M and 60M on the CPU against PyTorch's nn.LSTM: results/bench/lstm-cpu.json

# The cell's sigmoid and tanh and the per-step products compute in whole
# vectors (kernels/cpu/vec16.h) with vec_math.h's scalar tails: the same
# flags as the selective scan, for the same reasons (mk/mamba.mk: they change
# speed and rounding, never determinism; every vec16 function is static inline).
%/kernels/cpu/lstm.o: CFLAGS += -fno-trapping-math -ffp-contract=fast -Wno-psabi

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

# make bench-lstm: results/bench/lstm-cpu.json, lstm-6m and lstm-60m under the
# GPT-2 protocol (2 threads, batch 8 x 256, AdamW; prefill and decode at
# batch 1) with the PyTorch nn.LSTM peer (scripts/bench_torch_lstm.py) in the
# same run when /usr/bin/python3 has torch, and the ratios. Run it on a quiet
# machine (`uptime` below 0.5): two threads meet at a barrier every time
# step, so a descheduled thread stalls the whole recurrence.
# LSTM_PEER_MODELS=lstm-6m leaves out lstm-60m's peer.
BENCH_LSTM_ARGS ?= --batch 8 --seq 256 --steps 5 --warmup 1 --decode-steps 30 --threads 2
LSTM_PEER_MODELS ?= lstm-6m,lstm-60m
.PHONY: bench-lstm
bench-lstm: deps-build $(BUILD)/tunebench
	@mkdir -p results/bench
	@bash scripts/deps.sh torch || echo "bench-lstm: could not install python3-torch; measuring tunebench alone"
	@if /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then \
	  peer="--peer scripts/bench_torch_lstm.py --peer-models $(LSTM_PEER_MODELS)"; \
	  else peer=""; echo "bench-lstm: no torch in /usr/bin/python3: no PyTorch peer"; fi; \
	  $(BUILD)/tunebench bench --model lstm-6m,lstm-60m $(BENCH_LSTM_ARGS) $$peer \
	    --out results/bench/lstm-cpu.json
