# runner.mk: experiments, learning-rate sweeps, plots, tables and the paper.
##@ Experiments
## exp-NAME         train experiments/NAME.json: results/NAME/<run>.json and a checkpoint (STEPS= BATCH= BACKEND=cpu|cuda PRECISION=fp32|tf32|bf16 SEED= or SEEDS="1 2 3" THREADS= RESULTS= DATA= TRAIN_FLAGS="--set key=value")
## exp-all          every experiment, one after another, the 6M ones first
## sweep-EXP        learning-rate sweep of experiments/EXP.json: STEPS=N runs at LRS="..." (default: its rate x 1/4, 1/2, 1, 2, 4) into SWEEP_DIR (results/sweep), the choice in SWEEP_DIR/EXP.json, the figure SWEEP_DIR/lr_sweep.png
## sweep-figure     SWEEP_DIR/lr_sweep.{png,svg} from every sweep in SWEEP_DIR
## reference        the committed reference set results/reference: every experiment (REF_STEPS_6M=400 steps x REF_SEEDS_6M="1 2 3", REF_STEPS_60M=50 x REF_SEEDS_60M=1), tunes, figures, tables, paper (about 100 minutes on a 2-core CPU); REF_EXPERIMENTS="a b" reruns only those
##@ Figures, tables and the paper
## plots            figures from the records in RECORDS (results/reference) into PLOTS_OUT (plots/out for the reference set, else RECORDS/report/plots); ALLOW_MIXED=1 plots records of several hosts or commits
## tables           LaTeX and Markdown tables and paper facts into TABLES_OUT (paper/tables for the reference set, else RECORDS/report/tables)
## paper            paper/paper.pdf from the plots and tables

# EXPERIMENTS (the Makefile's): one per experiments/*.json.
EXP_TARGETS   := $(addprefix exp-,$(EXPERIMENTS))
SWEEP_TARGETS := $(addprefix sweep-,$(EXPERIMENTS))
CORPUS      ?= data/corpus/music21/control
REF_DIR     ?= results/reference
RECORDS     ?= $(REF_DIR)
# The reference set's figures, tables and music metrics are committed: only
# the reference set writes them. Any other RECORDS gets its own folder beside
# its records, RECORDS/report/ (plots, tables, and the tunes and music
# metrics of its own checkpoints), unless the command line names one.
IS_REFERENCE := $(if $(filter $(patsubst %/,%,$(REF_DIR)),$(patsubst %/,%,$(RECORDS))),1)
ifeq ($(IS_REFERENCE),1)
PLOTS_OUT   ?= plots/out
TABLES_OUT  ?= paper/tables
else
PLOTS_OUT   ?= $(RECORDS)/report/plots
TABLES_OUT  ?= $(RECORDS)/report/tables
ifeq ($(filter command line environment,$(origin MUSIC_DIR)),)
MUSIC_DIR     := $(RECORDS)/report/music
endif
ifeq ($(filter command line environment,$(origin GENERATED_DIR)),)
GENERATED_DIR := $(RECORDS)/report/generated
endif
endif
PLOT_SCRIPTS := loss loss_tokens val_bpb_time time_100k decode throughput_memory
# ALLOW_MIXED=1: plot and tabulate records of several hosts or commits (every
# figure and the tables then say so); without it they are refused.
MIXED_FLAG = $(if $(filter 1 yes,$(ALLOW_MIXED)),--allow-mixed)
SWEEP_DIR   ?= results/sweep
SWEEP_JSONS  = $(wildcard $(SWEEP_DIR)/*.json)

.PHONY: $(EXP_TARGETS) $(SWEEP_TARGETS) exp-all plots tables paper reference sweep-figure
help: export HELP_exp_NAME = $(EXPERIMENTS)
help: export HELP_sweep_EXP = $(EXPERIMENTS)

# The flags the binary was built with go into every run record.
$(BUILD)/src/runner/environment.o: CFLAGS += -DTB_BUILD_CFLAGS='"$(OPT)"'

# Each override becomes a `tunebench train` flag; the record lists them.
TRAIN_OVERRIDES = $(if $(STEPS),--steps $(STEPS)) $(if $(BATCH),--batch $(BATCH)) \
                  $(if $(BACKEND),--backend $(BACKEND)) $(if $(PRECISION),--precision $(PRECISION)) \
                  $(if $(SEED),--seed $(SEED)) \
                  $(if $(THREADS),--threads $(THREADS)) $(if $(RESULTS),--results $(RESULTS)) \
                  $(if $(DATA),--data $(DATA)) $(TRAIN_FLAGS)

# BACKEND=NAME trains with the build that offers that backend: the kernels'
# mk file names it as BACKEND_BIN_NAME (mk/cuda.mk: `make cuda`'s binary),
# the plain build otherwise. The corpus is prepared by the plain build either way.
TRAIN_BIN = $(or $(BACKEND_BIN_$(BACKEND)),$(BUILD)/tunebench)

# A backend whose mk file (included before this one) names a device probe is
# checked before its binary is built, so that a machine without the device
# fails at once, not after the build. GPU_CHECK=0 skips the check (on a login
# node that builds for the compute nodes; `make cuda` only builds).
TRAIN_GOALS := $(filter exp-% sweep-%,$(MAKECMDGOALS))
ifneq ($(and $(TRAIN_GOALS),$(BACKEND_DEVICE_PROBE_$(BACKEND))),)
ifneq ($(GPU_CHECK),0)
ifneq ($(shell $(BACKEND_DEVICE_PROBE_$(BACKEND)) && echo found),found)
$(error make $(firstword $(TRAIN_GOALS)) BACKEND=$(BACKEND): this machine has no $(BACKEND_DEVICE_$(BACKEND)); train on the CPU with BACKEND=cpu, or build $(TRAIN_BIN) anyway with GPU_CHECK=0)
endif
endif
endif

# SEEDS="1 2 3": one run per seed, one after another (each run id ends in
# -s<seed>); the plots and tables average an experiment's seeds.
SEEDS_BAD = $(if $(and $(SEED),$(SEEDS)),give SEED= or SEEDS= but not both)
corpus_check = if [ -z "$(DATA)" ] && [ ! -f $(CORPUS)/train.bin ]; then \
	  echo "tunebench: the corpus $(CORPUS) is missing; preparing it with 'make data'"; \
	  $(MAKE) --no-print-directory data || exit 1; fi

# 1. build what is missing, 2. prepare the corpus if it is missing, 3. train.
$(EXP_TARGETS): exp-%: deps-build $(BUILD)/tunebench $(TRAIN_BIN)
	$(if $(SEEDS_BAD),$(error make exp-$*: $(SEEDS_BAD)))
	@$(corpus_check)
	$(if $(SEEDS),@for s in $(SEEDS); do echo "exp-$*: seed $$s of $(words $(SEEDS)) ($(SEEDS))"; \
	  $(TRAIN_BIN) train --config experiments/$*.json $(strip $(TRAIN_OVERRIDES)) --seed $$s || exit $$?; done,\
	$(TRAIN_BIN) train --config experiments/$*.json $(strip $(TRAIN_OVERRIDES)))

# A name without experiments/NAME.json: one line that gives the list.
exp-%:
	$(error make exp-$*: no experiments/$*.json; the experiments are: $(EXPERIMENTS))

# ---------------------------------------------------------------- learning-rate sweeps
# `tunebench sweep` (src/sweep.c): STEPS=N steps at each rate, each a normal
# run under SWEEP_DIR/NAME/ (BATCH=, SEED=, THREADS=, DATA=, BACKEND= and
# TRAIN_FLAGS= apply to every run), the choice in SWEEP_DIR/NAME.json; then
# the figure of every sweep in SWEEP_DIR.
SWEEP_OVERRIDES = --steps $(STEPS) $(if $(BATCH),--batch $(BATCH)) $(if $(BACKEND),--backend $(BACKEND)) \
                  $(if $(PRECISION),--precision $(PRECISION)) \
                  $(if $(SEED),--seed $(SEED)) $(if $(THREADS),--threads $(THREADS)) $(if $(DATA),--data $(DATA)) \
                  $(if $(LRS),--lrs "$(LRS)") $(TRAIN_FLAGS)
$(SWEEP_TARGETS): sweep-%: deps-build $(BUILD)/tunebench $(TRAIN_BIN) $(BUILD)/plot_data
	$(if $(STEPS),,$(error make sweep-$*: give STEPS=N, the steps of each run (a few hundred is usual): make sweep-$* STEPS=300))
	@$(corpus_check)
	$(TRAIN_BIN) sweep --config experiments/$*.json --results $(SWEEP_DIR) $(strip $(SWEEP_OVERRIDES))
	@$(MAKE) --no-print-directory sweep-figure

# A name without experiments/NAME.json: one line that gives the list.
sweep-%:
	$(error make sweep-$*: no experiments/$*.json; the experiments are: $(EXPERIMENTS))

sweep-figure: deps-build $(BUILD)/plot_data
	$(BUILD)/plot_data --sweeps $(SWEEP_DIR) $(SWEEP_DIR)/data
	@for f in png svg; do gnuplot -e "sweeps='$(SWEEP_DIR)/data'; out='$(SWEEP_DIR)/lr_sweep'; fmt='$$f'" plots/lr_sweep.gp || exit 1; done
	@echo "plots: $(SWEEP_DIR)/lr_sweep.{png,svg} from $(SWEEP_DIR)/*.json"

# One after another: they would only slow each other down on a shared CPU.
exp-all:
	@for e in $(EXPERIMENTS); do $(MAKE) --no-print-directory exp-$$e || exit 1; done

# ---------------------------------------------------------------- plots and tables
$(BUILD)/plot_data: $(BUILD)/plots/plot_data.o $(BUILD)/plots/records.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/make_tables: $(BUILD)/paper/make_tables.o $(BUILD)/plots/records.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
# tests/test_exit_codes.sh runs both tools.
TEST_PREREQS += $(BUILD)/plot_data $(BUILD)/make_tables

# The reference set's plots and tables also show the sweeps of SWEEP_DIR
# (lr_sweep and the sweep table, for the paper) when it has any; music-figure and music-table get the music metrics of the same
# set (MUSIC_DIR above).
plots: deps-build $(BUILD)/plot_data
	@mkdir -p $(PLOTS_OUT)/data
	$(BUILD)/plot_data $(MIXED_FLAG) $(RECORDS) $(PLOTS_OUT)/data
	@for s in $(PLOT_SCRIPTS); do for f in png svg; do \
	  gnuplot -e "data='$(PLOTS_OUT)/data'; out='$(PLOTS_OUT)/$$s'; fmt='$$f'" plots/$$s.gp || exit 1; \
	done; done
	@echo "plots: $(PLOTS_OUT)/{$(shell echo $(PLOT_SCRIPTS) | tr ' ' ',')}.{png,svg} from $(RECORDS)"
	@rm -f $(PLOTS_OUT)/lr_sweep.png $(PLOTS_OUT)/lr_sweep.svg
	$(if $(and $(IS_REFERENCE),$(SWEEP_JSONS)),@$(BUILD)/plot_data --sweeps $(SWEEP_DIR) $(PLOTS_OUT)/data && for f in png svg; do \
	  gnuplot -e "sweeps='$(PLOTS_OUT)/data'; out='$(PLOTS_OUT)/lr_sweep'; fmt='$$f'" plots/lr_sweep.gp || exit 1; done)
	@$(MAKE) --no-print-directory music-figure MUSIC_DIR=$(MUSIC_DIR) GENERATED_DIR=$(GENERATED_DIR) \
	  PLOTS_OUT=$(PLOTS_OUT) MUSIC_SETS=$(PLOTS_OUT)/data/sets.txt

tables: deps-build $(BUILD)/make_tables
	@rm -f $(TABLES_OUT)/sweep.tex $(TABLES_OUT)/sweep.md
	$(BUILD)/make_tables $(MIXED_FLAG) $(RECORDS) $(TABLES_OUT) $(if $(and $(IS_REFERENCE),$(SWEEP_JSONS)),$(SWEEP_DIR))
	@echo "tables: $(TABLES_OUT)/*.tex and *.md from $(RECORDS)"
	@$(MAKE) --no-print-directory music-table MUSIC_DIR=$(MUSIC_DIR) GENERATED_DIR=$(GENERATED_DIR) \
	  TABLES_OUT=$(TABLES_OUT) MUSIC_SETS=$(TABLES_OUT)/sets.txt

# pdflatex twice, for the references; its log stays in paper/ if it fails.
paper: plots tables
	@bash scripts/deps.sh paper
	cd paper && pdflatex -interaction=nonstopmode -halt-on-error paper.tex >/dev/null && \
	  pdflatex -interaction=nonstopmode -halt-on-error paper.tex >/dev/null || \
	  { echo "pdflatex failed; see paper/paper.log" >&2; exit 1; }
	@echo "paper: paper/paper.pdf"

# ---------------------------------------------------------------- the reference set
# Every experiment on this machine's CPU, as many steps as it allows (the 60M
# models take about 10x longer per step): REF_STEPS_6M for each NAME-6m,
# REF_STEPS_60M for each NAME-60m (REF_STEPS_NAME for any other), the 6M ones
# first; then tunes from each checkpoint and their music metrics, the
# representation table, the figures, tables and paper, and the samples page
# (scores and audio).
# REF_SEEDS_6M (1 2 3) and REF_SEEDS_60M (1) are the seeds each size trains
# (exp-NAME's SEEDS; SEEDS= given here sets both).
# REF_EXPERIMENTS="lstm-6m lstm-60m" reruns only those: it removes and retrains
# their folders under REF_DIR and generates their tunes; the other
# experiments' committed records and tunes stay as they are (their checkpoints
# are not committed, and `generated` only touches REF_EXPERIMENTS). Music
# metrics, figures, tables, paper and samples are then made from the whole set.
REF_STEPS_6M    ?= 400
REF_STEPS_60M   ?= 50
REF_SEEDS_6M    ?= $(or $(SEEDS),1 2 3)
REF_SEEDS_60M   ?= $(or $(SEEDS),1)
REF_EXPERIMENTS ?= $(EXPERIMENTS)
# The experiments to run, in EXPERIMENTS' order, and any name that is not one.
REF_RUN     = $(filter $(REF_EXPERIMENTS),$(EXPERIMENTS))
REF_UNKNOWN = $(filter-out $(EXPERIMENTS),$(REF_EXPERIMENTS))
ref_steps = $(or $(REF_STEPS_$(1)),$(if $(filter %-6m,$(1)),$(REF_STEPS_6M)),$(if $(filter %-60m,$(1)),$(REF_STEPS_60M)))
REF_NO_STEPS = $(strip $(foreach e,$(REF_RUN),$(if $(call ref_steps,$(e)),,$(e))))
ref_seeds = $(if $(filter %-60m,$(1)),$(REF_SEEDS_60M),$(REF_SEEDS_6M))
define ref_train
	$(MAKE) --no-print-directory exp-$(1) RESULTS=$(REF_DIR) STEPS=$(call ref_steps,$(1)) SEEDS="$(call ref_seeds,$(1))"

endef
reference:
	$(if $(REF_UNKNOWN),$(error make reference: REF_EXPERIMENTS names $(REF_UNKNOWN): no experiments/NAME.json; the experiments are: $(EXPERIMENTS)))
	$(if $(REF_RUN),,$(error make reference: REF_EXPERIMENTS is empty; the experiments are: $(EXPERIMENTS)))
	$(if $(REF_NO_STEPS),$(error make reference: no step count for $(REF_NO_STEPS) (neither NAME-6m nor NAME-60m): give REF_STEPS_NAME=N))
	rm -rf $(addprefix $(REF_DIR)/,$(REF_RUN))
	$(foreach e,$(REF_RUN),$(call ref_train,$(e)))
	$(MAKE) --no-print-directory generated music-eval RECORDS=$(REF_DIR) GEN_EXPERIMENTS="$(REF_RUN)"
	$(MAKE) --no-print-directory representation-table plots tables paper RECORDS=$(REF_DIR)
	$(MAKE) --no-print-directory samples

# The script tests (tests/test_*.sh, added in the Makefile): test_experiments.sh
# drives make itself; test_stop_signal.sh stops child runs with SIGTERM and
# SIGINT (make test-gpu runs it again on the CUDA backend).

# Under the sanitizers, undefined behaviour fails the test that meets it
# instead of printing a line that a passing tally hides.
test-sanitize: export UBSAN_OPTIONS = halt_on_error=1:print_stacktrace=1

# Header dependencies of the two tools (the Makefile includes only the library's).
-include $(BUILD)/plots/plot_data.d $(BUILD)/plots/records.d $(BUILD)/paper/make_tables.d

# test_study reads records with the plot tools' reader.
$(BUILD)/tests/test_study: $(BUILD)/tests/test_study.o $(BUILD)/plots/records.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
