# data.mk: the corpus, tokenizer and shards (make data), and the tokenizer benchmark.
# `make data` builds data/corpus/<source>/<style>/ (vocab.tok, train.bin,
# val.bin, manifest.json): the source names the corpus (data/sources.def), the
# style how its tunes are written (data/styles.def).
##@ Data
## data             the default corpus data/corpus/music21/{plain,control}/ (music21's folk collections, pinned wheel); DATASET=irishman IrishMAN at its pinned revision (data/corpus/irishman/); ABC_SRC="a.abc dir" your own ABC (data/corpus/local/); AUGMENT=transpose also <style>-transpose/ with key-transposed training tunes
## corpus-for-tests the default corpus if it is missing (make test needs it)
##@ Benchmarks
## bench-tokenizer  tokenizer encoding speed on one core: results/bench/tokenizer.json

.PHONY: data corpus-for-tests bench-tokenizer
DATASET   ?= music21
ABC_SRC   ?=
AUGMENT   ?= none
DATA_SEED ?= 1234
DATA_VAL  ?= 0.05
PREPARE_FLAGS = --out data/corpus --seed $(DATA_SEED) --val-fraction $(DATA_VAL)
# The corpus as downloaded, and the `prepare` arguments that read it.
ifneq ($(strip $(ABC_SRC)),)
PREPARE_INPUT = --corpus local --source data/corpus/local/abc_src.json $(ABC_SRC)
else ifeq ($(DATASET),irishman)
PREPARE_INPUT = --corpus irishman --source data/corpus/irishman/download/SOURCE data/corpus/irishman/download
else ifeq ($(DATASET),music21)
PREPARE_INPUT = --corpus music21 --source data/corpus/music21/abc/SOURCE data/corpus/music21/abc
endif

data: deps-build $(BUILD)/tunebench
ifneq ($(filter-out none transpose,$(AUGMENT)),)
	$(error AUGMENT must be transpose or none, not '$(AUGMENT)')
endif
ifneq ($(strip $(ABC_SRC)),)
	@mkdir -p data/corpus/local
	@printf '{"kind": "abc_src", "paths": "%s"}\n' "$(ABC_SRC)" > data/corpus/local/abc_src.json
else ifeq ($(filter $(DATASET),music21 irishman),)
	$(error DATASET must be music21 or irishman, not '$(DATASET)')
else
	@bash scripts/fetch_corpus.sh $(DATASET)
endif
	$(BUILD)/tunebench prepare $(PREPARE_FLAGS) $(PREPARE_INPUT)
ifeq ($(AUGMENT),transpose)
	$(BUILD)/tunebench prepare $(PREPARE_FLAGS) --augment transpose $(PREPARE_INPUT)
endif

# make test needs the default corpus; build it only when it is missing.
corpus-for-tests: $(BUILD)/tunebench
	@test -f data/corpus/music21/plain/manifest.json -a -f data/corpus/music21/control/manifest.json || \
	  $(MAKE) --no-print-directory BUILD=$(BUILD) OPT="$(OPT)" DATASET=music21 ABC_SRC= AUGMENT=none data
TEST_PREREQS += corpus-for-tests

# Encoding speed on one core (median of repeats) -> results/bench/tokenizer.json
$(BUILD)/bench/bench_tokenizer: $(BUILD)/bench/bench_tokenizer.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
bench-tokenizer: corpus-for-tests $(BUILD)/bench/bench_tokenizer
	@mkdir -p results/bench
	OMP_NUM_THREADS=1 $(BUILD)/bench/bench_tokenizer data/corpus/music21 results/bench/tokenizer.json
