# mamba.mk: Mamba-specific build settings and targets.

# The scan and SiLU loops call the branch-free exp/log of kernels/cpu/vec_math.h.
# With GCC's default -ftrapping-math, the selects inside them count as control
# flow and the loops stay scalar (3-4x slower). No code here enables FP traps,
# so the flag changes speed only, never a result.
MAMBA_VEC_OBJ := $(BUILD)/kernels/cpu/selective_scan.o $(BUILD)/kernels/cpu/silu.o
$(MAMBA_VEC_OBJ): CFLAGS += -fno-trapping-math -ffp-contract=fast

# make bench-mamba: both Mamba sizes under the GPT-2 protocol (2 threads,
# batch 8 x 256, AdamW), with the two PyTorch peers of
# scripts/bench_torch_mamba.py (sequential selective_scan_ref loop and a
# log-depth parallel scan) in the same run. Uses the generic `tunebench bench`.
.PHONY: bench-mamba
bench-mamba: deps-build $(BUILD)/tunebench
	@mkdir -p results/bench
	@$(BUILD)/tunebench help | grep -q '^  bench ' || { echo "bench-mamba: this build has no 'tunebench bench' command (src/bench.c)" >&2; exit 1; }
	OMP_WAIT_POLICY=PASSIVE $(BUILD)/tunebench bench --model mamba-6m,mamba-60m --threads 2 \
	  --batch 8 --seq 256 --steps 5 --warmup 1 \
	  $$(test -x /usr/bin/python3 && /usr/bin/python3 -c 'import torch' 2>/dev/null && echo --peer scripts/bench_torch_mamba.py) \
	  --out results/bench/mamba-cpu.json
	@echo "wrote results/bench/mamba-cpu.json"

# make profile-mamba: per-op time of a mamba-6m training step and decode step
# (a development tool; bench/profile_mamba.c). PROFILE_ARGS="mamba-60m 2 2", or
# PROFILE_ARGS="scan" for the scan alone on one thread in CPU time.
$(BUILD)/bench/profile_mamba: $(BUILD)/bench/profile_mamba.o $(BUILD)/libtunebench.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
.PHONY: profile-mamba
profile-mamba: deps-build $(BUILD)/bench/profile_mamba
	OMP_WAIT_POLICY=PASSIVE $(BUILD)/bench/profile_mamba $(PROFILE_ARGS)
