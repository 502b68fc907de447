# runner.mk: experiments, plots, tables and the paper (issue 5).
##@ Experiments
## exp-NAME         train experiments/NAME.json: results/NAME/<run>.json and a checkpoint (STEPS= BATCH= BACKEND=cpu|cuda SEED= THREADS= RESULTS= DATA= TRAIN_FLAGS="--set key=value")
## exp-all          every experiment, one after another, the 6M ones first
## reference        the committed reference set results/reference: every experiment, tunes, figures, tables, paper (about 2.5 hours on a 2-core CPU); REF_EXPERIMENTS="a b" reruns only those
##@ Figures, tables and the paper
## plots            figures from the records in RECORDS (results/reference) into PLOTS_OUT (plots/out)
## tables           LaTeX and Markdown tables and paper facts into TABLES_OUT (paper/tables)
## paper            paper/paper.pdf from the plots and tables

# EXPERIMENTS (the Makefile's): one per experiments/*.json.
EXP_TARGETS := $(addprefix exp-,$(EXPERIMENTS))
CORPUS      ?= data/corpus/irishman
RECORDS     ?= results/reference
PLOTS_OUT   ?= plots/out
TABLES_OUT  ?= paper/tables
PLOT_SCRIPTS := loss val_bpb_time time_100k decode throughput_memory

.PHONY: $(EXP_TARGETS) exp-all plots tables paper reference
help: export HELP_exp_NAME = $(EXPERIMENTS)

# The flags the binary was built with go into every run record.
$(BUILD)/src/runner/environment.o: CFLAGS += -DTB_BUILD_CFLAGS='"$(OPT)"'

# Each override becomes a `tunebench train` flag; the record lists them.
TRAIN_OVERRIDES = $(if $(STEPS),--steps $(STEPS)) $(if $(BATCH),--batch $(BATCH)) \
                  $(if $(BACKEND),--backend $(BACKEND)) $(if $(SEED),--seed $(SEED)) \
                  $(if $(THREADS),--threads $(THREADS)) $(if $(RESULTS),--results $(RESULTS)) \
                  $(if $(DATA),--data $(DATA)) $(TRAIN_FLAGS)

# BACKEND=NAME trains with the build that offers that backend: the kernels'
# mk file names it as BACKEND_BIN_NAME (mk/cuda.mk: `make cuda`'s binary),
# the plain build otherwise. The corpus is prepared by the plain build either way.
TRAIN_BIN = $(or $(BACKEND_BIN_$(BACKEND)),$(BUILD)/tunebench)

# 1. build what is missing, 2. prepare the corpus if it is missing, 3. train.
$(EXP_TARGETS): exp-%: deps-build $(BUILD)/tunebench $(TRAIN_BIN)
	@if [ -z "$(DATA)" ] && [ ! -f $(CORPUS)/train.bin ]; then \
	  echo "tunebench: the corpus $(CORPUS) is missing; preparing it with 'make data'"; \
	  $(MAKE) --no-print-directory data || exit 1; fi
	$(TRAIN_BIN) train --config experiments/$*.json $(strip $(TRAIN_OVERRIDES))

# A name without experiments/NAME.json: one line that gives the list.
exp-%:
	$(error make exp-$*: no experiments/$*.json; the experiments are: $(EXPERIMENTS))

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

plots: deps-build $(BUILD)/plot_data
	@mkdir -p $(PLOTS_OUT)/data
	$(BUILD)/plot_data $(RECORDS) $(PLOTS_OUT)/data
	@for s in $(PLOT_SCRIPTS); do for f in png svg; do \
	  gnuplot -e "data='$(PLOTS_OUT)/data'; out='$(PLOTS_OUT)/$$s'; fmt='$$f'" plots/$$s.gp || exit 1; \
	done; done
	@echo "plots: $(PLOTS_OUT)/{$(shell echo $(PLOT_SCRIPTS) | tr ' ' ',')}.{png,svg} from $(RECORDS)"
	@$(MAKE) --no-print-directory music-figure

tables: deps-build $(BUILD)/make_tables
	$(BUILD)/make_tables $(RECORDS) $(TABLES_OUT)
	@echo "tables: $(TABLES_OUT)/*.tex and *.md from $(RECORDS)"
	@$(MAKE) --no-print-directory music-table

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
# REF_EXPERIMENTS="lstm-6m lstm-60m" reruns only those: it removes and retrains
# their folders under REF_DIR and generates their tunes; the other
# experiments' committed records and tunes stay as they are (their checkpoints
# are not committed, and `generated` only touches REF_EXPERIMENTS). Music
# metrics, figures, tables, paper and samples are then made from the whole set.
REF_DIR         ?= results/reference
REF_STEPS_6M    ?= 2000
REF_STEPS_60M   ?= 200
REF_EXPERIMENTS ?= $(EXPERIMENTS)
# The experiments to run, in EXPERIMENTS' order, and any name that is not one.
REF_RUN     = $(filter $(REF_EXPERIMENTS),$(EXPERIMENTS))
REF_UNKNOWN = $(filter-out $(EXPERIMENTS),$(REF_EXPERIMENTS))
ref_steps = $(or $(REF_STEPS_$(1)),$(if $(filter %-6m,$(1)),$(REF_STEPS_6M)),$(if $(filter %-60m,$(1)),$(REF_STEPS_60M)))
REF_NO_STEPS = $(strip $(foreach e,$(REF_RUN),$(if $(call ref_steps,$(e)),,$(e))))
define ref_train
	$(MAKE) --no-print-directory exp-$(1) RESULTS=$(REF_DIR) STEPS=$(call ref_steps,$(1))

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
