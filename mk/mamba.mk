# mamba.mk: Mamba-specific build settings and targets.
##@ Benchmarks
## bench-mamba      Mamba 6M and 60M on the CPU, with the PyTorch peers: results/bench/mamba-cpu.json (about 20 minutes, on a quiet machine)
## profile-mamba    per-op time of a mamba-6m training and decode step (PROFILE_ARGS="mamba-60m 2 2", or "scan")

# The scan and SiLU compute in whole vectors (kernels/cpu/vec16.h); their
# scalar tails and the decode step call the branch-free exp/log of
# kernels/cpu/vec_math.h, which GCC's default -ftrapping-math keeps scalar (the
# selects count as control flow). No code here enables FP traps, so that flag
# changes speed only. -ffp-contract=fast lets a*h + b become one FMA: with
# -std=c11 GCC contracts nothing, which doubles the scan's arithmetic; it
# changes rounding (within the tests' tolerances), never determinism.
# A pattern, so that every build directory (BUILD=..., the CUDA build's host
# objects, the sanitizer build) compiles these files the same way.
# -Wno-psabi: built for a CPU without AVX-512 (the portable -march=x86-64-v3),
# GCC warns that a 64-byte vec16 is passed differently from an AVX-512 build.
# Every function that takes or returns one is static inline in these two
# files, so no vec16 ever crosses an ABI boundary: the warning cannot apply.
%/kernels/cpu/selective_scan.o %/kernels/cpu/silu.o: CFLAGS += -fno-trapping-math -ffp-contract=fast -Wno-psabi

# make bench-mamba: both Mamba sizes under the GPT-2 protocol (2 threads,
# batch 8 x 256, AdamW), with the two PyTorch peers of
# scripts/bench_torch_mamba.py (selective_scan_ref's sequential loop and a
# two-level log-depth scan) in the same run. Uses the generic `tunebench
# bench`; bench_mamba.c adds the scan's share of the step and its bandwidth,
# memory per token (chunked vs naive states) and the ratios against each peer.
# The peers cap their timed steps at --max-timed-seconds (120 s, at least 2
# steps) and run a variant under activation checkpointing when it would not
# fit in memory (mamba-60m's log-depth scan); the JSON records both. Run it
# on a quiet machine: about 20 minutes, and mamba-60m's sequential PyTorch
# peer peaks at about 17 GB.
# MAMBA_PEER_MODELS=mamba-6m leaves out mamba-60m's peers (about 10 of those
# minutes; the JSON says they were not run).
MAMBA_PEER_MODELS ?= mamba-6m,mamba-60m
.PHONY: bench-mamba
bench-mamba: deps-build $(BUILD)/tunebench
	@mkdir -p results/bench
	@$(BUILD)/tunebench help | grep -q '^  bench ' || { echo "bench-mamba: this build has no 'tunebench bench' command (src/bench.c)" >&2; exit 1; }
	$(BUILD)/tunebench bench --model mamba-6m,mamba-60m --threads 2 \
	  --batch 8 --seq 256 --steps 5 --warmup 1 \
	  $$(test -x /usr/bin/python3 && /usr/bin/python3 -c 'import torch' 2>/dev/null && echo --peer scripts/bench_torch_mamba.py) \
	  --peer-models $(MAMBA_PEER_MODELS) --out results/bench/mamba-cpu.json
	@echo "wrote results/bench/mamba-cpu.json"

# make profile-mamba: per-op time of a mamba-6m training step and decode step
# (a development tool; bench/profile_mamba.c). PROFILE_ARGS="mamba-60m 2 2", or
# PROFILE_ARGS="scan" for the scan alone on one thread in CPU time.
$(BUILD)/bench/profile_mamba: $(BUILD)/bench/profile_mamba.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
.PHONY: profile-mamba
profile-mamba: deps-build $(BUILD)/bench/profile_mamba
	$(BUILD)/bench/profile_mamba $(PROFILE_ARGS)
