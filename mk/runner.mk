# runner.mk: experiments, plots, tables and the paper (issue 5).
##@ Experiments
## exp-gpt2-6m      train GPT-2 6M: results/gpt2-6m/<run>.json and a checkpoint (STEPS= BATCH= BACKEND=cpu|cuda SEED= THREADS= RESULTS= DATA= TRAIN_FLAGS="--set key=value")
## exp-gpt2-60m     train GPT-2 60M (the same options)
## exp-mamba-6m     train Mamba 6M (the same options)
## exp-mamba-60m    train Mamba 60M (the same options)
## exp-all          the four experiments, one after another
## reference        the committed reference set results/reference: every experiment, tunes, figures, tables, paper (about 110 minutes on a 2-core CPU)
##@ Figures, tables and the paper
## plots            figures from the records in RECORDS (results/reference) into PLOTS_OUT (plots/out)
## tables           LaTeX and Markdown tables and paper facts into TABLES_OUT (paper/tables)
## paper            paper/paper.pdf from the plots and tables

EXPERIMENTS := gpt2-6m gpt2-60m mamba-6m mamba-60m
EXP_TARGETS := $(addprefix exp-,$(EXPERIMENTS))
CORPUS      ?= data/corpus/irishman
RECORDS     ?= results/reference
PLOTS_OUT   ?= plots/out
TABLES_OUT  ?= paper/tables
PLOT_SCRIPTS := loss val_bpb_time time_100k decode throughput_memory

.PHONY: $(EXP_TARGETS) exp-all plots tables paper reference

# The flags the binary was built with go into every run record.
$(BUILD)/src/runner/environment.o: CFLAGS += -DTB_BUILD_CFLAGS='"$(OPT)"'

# Each override becomes a `tunebench train` flag; the record lists them.
TRAIN_OVERRIDES = $(if $(STEPS),--steps $(STEPS)) $(if $(BATCH),--batch $(BATCH)) \
                  $(if $(BACKEND),--backend $(BACKEND)) $(if $(SEED),--seed $(SEED)) \
                  $(if $(THREADS),--threads $(THREADS)) $(if $(RESULTS),--results $(RESULTS)) \
                  $(if $(DATA),--data $(DATA)) $(TRAIN_FLAGS)

# BACKEND=cuda trains with the CUDA build (`make cuda`); the corpus is
# prepared by the CPU build either way.
TRAIN_BIN = $(if $(filter cuda,$(BACKEND)),$(BUILD)/tunebench-cuda,$(BUILD)/tunebench)

# 1. build what is missing, 2. prepare the corpus if it is missing, 3. train.
$(EXP_TARGETS): exp-%: deps-build $(BUILD)/tunebench $(TRAIN_BIN)
	@if [ -z "$(DATA)" ] && [ ! -f $(CORPUS)/train.bin ]; then \
	  echo "tunebench: the corpus $(CORPUS) is missing; preparing it with 'make data'"; \
	  $(MAKE) --no-print-directory data || exit 1; fi
	$(TRAIN_BIN) train --config experiments/$*.json $(strip $(TRAIN_OVERRIDES))

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
# models take about 10x longer per step); then tunes from each checkpoint and
# their music metrics, the representation table, the figures, tables and
# paper, and the samples page (scores and audio).
REF_STEPS_6M  ?= 2000
REF_STEPS_60M ?= 200
reference:
	rm -rf results/reference/gpt2-6m results/reference/gpt2-60m results/reference/mamba-6m results/reference/mamba-60m
	$(MAKE) --no-print-directory exp-gpt2-6m  RESULTS=results/reference STEPS=$(REF_STEPS_6M)
	$(MAKE) --no-print-directory exp-mamba-6m RESULTS=results/reference STEPS=$(REF_STEPS_6M)
	$(MAKE) --no-print-directory exp-gpt2-60m  RESULTS=results/reference STEPS=$(REF_STEPS_60M)
	$(MAKE) --no-print-directory exp-mamba-60m RESULTS=results/reference STEPS=$(REF_STEPS_60M)
	$(MAKE) --no-print-directory generated music-eval representation-table RECORDS=results/reference
	$(MAKE) --no-print-directory plots tables paper RECORDS=results/reference
	$(MAKE) --no-print-directory samples

# The end-to-end test is a script (it drives make itself); run_all.sh runs it
# with the C tests. test_stop_signal.sh stops child runs with SIGTERM and
# SIGINT (make test-gpu runs it again on the CUDA backend).
TEST_BIN += tests/test_experiments.sh tests/test_stop_signal.sh

# Under the sanitizers, undefined behaviour fails the test that meets it
# instead of printing a line that a passing tally hides.
test-sanitize: export UBSAN_OPTIONS = halt_on_error=1:print_stacktrace=1

# Header dependencies of the two tools (the Makefile includes only the library's).
-include $(BUILD)/plots/plot_data.d $(BUILD)/plots/records.d $(BUILD)/paper/make_tables.d
