# bench.mk: the CPU benchmark of each architecture, against its PyTorch peer
# in the same run, and the per-op profilers. The architectures are those of
# experiments/ARCH-6m.json and ARCH-60m.json (ARCHS, in the Makefile).
##@ Benchmarks
## bench            every architecture's CPU benchmark (bench-ARCH), one after another, on a quiet machine (bench-mamba alone takes about 20 minutes)
## bench-ARCH       ARCH-6m and ARCH-60m on the CPU with the PyTorch peer scripts/bench_torch_ARCH.py: results/bench/ARCH-cpu.json (PEER_MODELS= limits the peer)
## bench-first-hour the ETA of each 6M experiment at 50 and 500 steps, and the thread policy (default, ACTIVE, PASSIVE; THREAD_REPEATS=3 runs each, ETA_STEPS= for the policy only) quiet and loaded: results/bench/first_hour.json (about 60 minutes, on a quiet machine)
## bench-bf16-curves 200 steps of each 6M model in fp32 and in bf16 at batch 4 x 128 on the CPU (AVX512-BF16): the curves' distance against a stated bound, results/bench/bf16_curves.json (about 25 minutes)
## profile-ARCH     per-op time of a training and a decode step, from bench/profile_ARCH.c (a development tool; PROFILE_ARGS= its arguments)
#
# make bench-ARCH writes results/bench/ARCH-cpu.json: ARCH-6m and ARCH-60m
# (training tokens/s and MFU at batch 8 x 256 with AdamW, prefill and
# full-context decode latency at batch 1, peak RSS), this machine's sgemm
# peak and read bandwidth, and, when scripts/bench_torch_ARCH.py exists and
# /usr/bin/python3 has torch (scripts/deps.sh torch installs it), the PyTorch
# peer measured in the same run, with the ratios. PEER_MODELS="mamba-6m ..."
# runs the peer only for the models it names (default: all).
#
# Run them on a quiet machine: check with `uptime` that the load is below 0.5
# first. With 2 OpenMP threads on 2 shared cores every parallel region waits
# for a descheduled thread: decode, with about five regions per layer per
# token, suffers most, and the LSTM's two threads meet at a barrier every time
# step, so one descheduled thread stalls the whole recurrence. bench-mamba
# takes about 20 minutes and mamba-60m's sequential PyTorch peer peaks at
# about 17 GB (PEER_MODELS=mamba-6m leaves out mamba-60m's peers, about 10 of
# those minutes; the JSON says they were not run). The Mamba peers cap their
# timed steps at --max-timed-seconds (120 s, at least 2 steps) and run a
# variant under activation checkpointing when it would not fit in memory.

# Every architecture: 2 threads, batch 8 x 256, 5 timed steps after 1 untimed
# one, 30 decode steps; BENCH_ARGS_ARCH, if set, replaces these for bench-ARCH.
BENCH_ARGS ?= --batch 8 --seq 256 --steps 5 --warmup 1 --decode-steps 30 --threads 2
# GPT-2's step is the shortest (about 0.5 s at 6M), so 7 timed steps after 2
# untimed ones cost little and steady the median; results/bench/gpt2-cpu.json
# was measured so.
BENCH_ARGS_gpt2 ?= --batch 8 --seq 256 --steps 7 --warmup 2 --decode-steps 30 --threads 2
PEER_MODELS ?= $(EXPERIMENTS)

comma := ,
empty :=
space := $(empty) $(empty)
# $(call bench_models,ARCH): the configs bench-ARCH measures, as a list.
bench_models = $(filter $(1)-6m $(1)-60m,$(EXPERIMENTS))

BENCH_TARGETS := $(addprefix bench-,$(ARCHS))
.PHONY: bench $(BENCH_TARGETS)
help: export HELP_bench_ARCH = $(ARCHS)

# One after another: they would only slow each other down.
bench:
	@for a in $(ARCHS); do $(MAKE) --no-print-directory bench-$$a || exit 1; done

$(BENCH_TARGETS): bench-%: deps-build $(BUILD)/tunebench
	@mkdir -p results/bench
	@peer=""; peer_models="$(subst $(space),$(comma),$(strip $(filter $(subst $(comma),$(space),$(PEER_MODELS)),$(call bench_models,$*))))"; \
	if [ ! -f scripts/bench_torch_$*.py ]; then echo "bench-$*: no scripts/bench_torch_$*.py: no PyTorch peer"; \
	elif [ -z "$$peer_models" ]; then echo "bench-$*: PEER_MODELS names none of $(call bench_models,$*): no PyTorch peer"; \
	else bash scripts/deps.sh torch || echo "bench-$*: could not install python3-torch; measuring tunebench alone"; \
	  if /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then peer="--peer scripts/bench_torch_$*.py --peer-models $$peer_models"; \
	  else echo "bench-$*: no torch in /usr/bin/python3: no PyTorch peer"; fi; fi; \
	cmd="$(BUILD)/tunebench bench --model $(subst $(space),$(comma),$(call bench_models,$*)) $(or $(BENCH_ARGS_$*),$(BENCH_ARGS)) $$peer --out results/bench/$*-cpu.json"; \
	echo "$$cmd"; $$cmd

# make profile-ARCH: where a training step and a decode step spend their time,
# per op (bench/profile_ARCH.c; its header says what PROFILE_ARGS it takes,
# e.g. PROFILE_ARGS="mamba-60m 2 2" or "scan" for profile-mamba).
PROFILE_ARCHS   := $(patsubst bench/profile_%.c,%,$(sort $(wildcard bench/profile_*.c)))
PROFILE_TARGETS := $(addprefix profile-,$(PROFILE_ARCHS))
.PHONY: $(PROFILE_TARGETS)
help: export HELP_profile_ARCH = $(PROFILE_ARCHS)

$(BUILD)/bench/profile_%: $(BUILD)/bench/profile_%.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(PROFILE_TARGETS): profile-%: deps-build $(BUILD)/bench/profile_%
	$(BUILD)/bench/profile_$* $(PROFILE_ARGS)

# A name that is not in the lists: one line that gives the list.
bench-%:
	$(error make bench-$*: no architecture '$*' (no experiments/$*-6m.json or $*-60m.json); the architectures are: $(ARCHS))
profile-%:
	$(error make profile-$*: no bench/profile_$*.c; profile-ARCH exists for: $(PROFILE_ARCHS))

-include $(PROFILE_ARCHS:%=$(BUILD)/bench/profile_%.d)

# make bench-first-hour: scripts/bench_first_hour.sh (its header says what it
# measures); ETA_STEPS=, ETA_EXPERIMENTS=, THREAD_EXPERIMENTS= and
# THREAD_STEPS= narrow it.
.PHONY: bench-first-hour
bench-first-hour: $(BUILD)/tunebench
	@test -f $(CORPUS)/train.bin || $(MAKE) --no-print-directory data
	@mkdir -p results/bench
	bash scripts/bench_first_hour.sh $(BUILD) results/bench/first_hour.json

# make bench-bf16-curves: scripts/bench_bf16_curves.sh (its header states the
# runs and the bound); BF16_MODELS=, BF16_STEPS=, BF16_BATCH=, BF16_SEQ= and
# BF16_THREADS= change them.
.PHONY: bench-bf16-curves
bench-bf16-curves: $(BUILD)/tunebench
	@test -f $(CORPUS)/train.bin || $(MAKE) --no-print-directory data
	@mkdir -p results/bench
	bash scripts/bench_bf16_curves.sh $(BUILD) results/bench/bf16_curves.json
