# runner.mk: experiments, plots, tables and the paper (issue 5).
#
#   make exp-gpt2-6m [STEPS=N] [BATCH=N] [BACKEND=cpu|cuda] [SEED=N] [THREADS=N]
#   make exp-all      the four experiments, one after another
#   make plots        figures from the records in $(RESULTS) into plots/out/
#   make tables       LaTeX and Markdown tables into paper/tables/
#   make paper        paper/paper.pdf
#   make reference    the committed reference set (hours on a CPU)

# The flags the binary was built with go into every run record.
$(BUILD)/src/runner/environment.o: CFLAGS += -DTB_BUILD_CFLAGS='"$(OPT)"'
