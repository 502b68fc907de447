# data.mk: the corpus, tokenizer and shards (make data), and the tokenizer benchmark.
# Each `make data` builds data/corpus/{raw,irishman}/ (vocab.tok, train.bin,
# val.bin, manifest.json).
##@ Data
## data             the default corpus (music21's folk collections, pinned wheel); ABC_SRC="a.abc dir" your own ABC; DATASET=irishman the IrishMAN JSON (needs huggingface.co)
## corpus-for-tests the default corpus if it is missing (make test needs it)
##@ Benchmarks
## bench-tokenizer  tokenizer encoding speed on one core: results/bench/tokenizer.json

.PHONY: data corpus-for-tests bench-tokenizer
DATASET   ?= music21
ABC_SRC   ?=
DATA_SEED ?= 1234
DATA_VAL  ?= 0.05
PREPARE_FLAGS = --out data/corpus --seed $(DATA_SEED) --val-fraction $(DATA_VAL)

data: deps-build $(BUILD)/tunebench
ifneq ($(strip $(ABC_SRC)),)
	@mkdir -p data/corpus
	@printf '{"kind": "abc_src", "paths": "%s"}\n' "$(ABC_SRC)" > data/corpus/abc_src.json
	$(BUILD)/tunebench prepare $(PREPARE_FLAGS) --source data/corpus/abc_src.json $(ABC_SRC)
else ifeq ($(DATASET),irishman)
	@bash scripts/fetch_corpus.sh irishman data/corpus/irishman-json
	$(BUILD)/tunebench prepare $(PREPARE_FLAGS) --source data/corpus/irishman-json/SOURCE data/corpus/irishman-json
else ifeq ($(DATASET),music21)
	@bash scripts/fetch_corpus.sh music21 data/corpus/abc
	$(BUILD)/tunebench prepare $(PREPARE_FLAGS) --source data/corpus/abc/SOURCE data/corpus/abc
else
	$(error DATASET must be music21 or irishman, not '$(DATASET)')
endif

# make test needs the default corpus; build it only when it is missing.
corpus-for-tests: $(BUILD)/tunebench
	@test -f data/corpus/raw/manifest.json -a -f data/corpus/irishman/manifest.json || \
	  $(MAKE) --no-print-directory BUILD=$(BUILD) OPT="$(OPT)" data
TEST_PREREQS += corpus-for-tests

# Encoding speed on one core (median of repeats) -> results/bench/tokenizer.json
$(BUILD)/bench/bench_tokenizer: $(BUILD)/bench/bench_tokenizer.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
bench-tokenizer: corpus-for-tests $(BUILD)/bench/bench_tokenizer
	@mkdir -p results/bench
	OMP_NUM_THREADS=1 $(BUILD)/bench/bench_tokenizer data/corpus results/bench/tokenizer.json
