# mk/gpt2.mk: the GPT-2 CPU benchmark.
##@ Benchmarks
## bench-gpt2       GPT-2 6M and 60M on the CPU, with the PyTorch peer: results/bench/gpt2-cpu.json (on a quiet machine)
#
# make bench-gpt2   writes results/bench/gpt2-cpu.json: gpt2-6m and gpt2-60m
#                   (training tokens/s and MFU at batch 8 x 256, prefill and
#                   full-context decode latency at batch 1, peak RSS), this
#                   machine's sgemm peak and read bandwidth, and, when
#                   /usr/bin/python3 has torch (scripts/deps.sh torch installs
#                   it), the PyTorch peer measured in the same run with the
#                   ratios. Run it on a quiet machine: other load skews it
#                   (with 2 OpenMP threads on 2 shared cores, every parallel
#                   region waits for a descheduled thread; decode, with about
#                   five regions per layer per token, suffers most). Check
#                   with `uptime` that the load is below 0.5 first.
BENCH_GPT2_ARGS ?= --batch 8 --seq 256 --steps 7 --warmup 2 --decode-steps 30 --threads 2

.PHONY: bench-gpt2
bench-gpt2: deps-build $(BUILD)/tunebench
	@bash scripts/deps.sh torch || echo "bench-gpt2: could not install python3-torch; measuring tunebench alone"
	@if /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then peer="--peer scripts/bench_torch_gpt2.py"; \
	  else peer=""; echo "bench-gpt2: no torch in /usr/bin/python3: no PyTorch peer"; fi; \
	  $(BUILD)/tunebench bench --model gpt2-6m,gpt2-60m $(BENCH_GPT2_ARGS) $$peer \
	    --out results/bench/gpt2-cpu.json
