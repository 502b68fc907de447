# tunebench: GPT-2 vs Mamba on ABC music. `make help` lists the targets.
#
# Sources are found by wildcard, so adding a file needs no edit here. Each
# area adds its own targets in mk/<area>.mk, included at the end.

CC       ?= cc
BUILD    := build
OPT      ?= -O3 -march=native
CFLAGS   ?= $(OPT)
CFLAGS   += -std=c11 -Wall -Wextra -fopenmp -D_GNU_SOURCE -MMD -MP -I. -Isrc
LDLIBS   += -lopenblas -lcjson -lm -fopenmp
SANITIZE := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer

LIB_SRC  := $(sort $(filter-out src/tunebench.c,$(wildcard src/*.c src/*/*.c data/*.c models/*.c kernels/*.c kernels/cpu/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.DEFAULT_GOAL := all
TEST_PREREQS := $(BUILD)/tunebench
# Each area's targets; included before the rules below so that what they add
# to TEST_PREREQS is seen by `test`.
include $(sort $(wildcard mk/*.mk))

.PHONY: all help deps test test-sanitize clean
.SECONDARY:
all: deps-build $(BUILD)/tunebench

help:
	@echo "make              build build/tunebench (installs missing Debian packages first)"
	@echo "make test         build and run every test (prints 'N passed, N failed')"
	@echo "make test-sanitize  the same tests under ASan and UBSan"
	@echo "make data         build the default ABC corpus, tokenizer and shards"
	@echo "make deps         install missing Debian packages (apt-get)"
	@echo "make clean        remove build/"

# deps-build: only what compiling needs; deps: everything the project uses.
.PHONY: deps-build
deps-build:
	@bash scripts/deps.sh build
deps:
	@bash scripts/deps.sh all

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtunebench.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tunebench: $(BUILD)/src/tunebench.o $(BUILD)/libtunebench.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libtunebench.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Tests run from the repository root; each prints its own tally and
# tests/run_all.sh adds them up into one closing line.
test: deps-build $(TEST_PREREQS) $(TEST_BIN)
	@bash tests/run_all.sh $(TEST_BIN)

test-sanitize:
	$(MAKE) BUILD=build-sanitize OPT="$(SANITIZE)" LDLIBS="$(LDLIBS) -fsanitize=address,undefined" test

clean:
	rm -rf $(BUILD) build-sanitize

-include $(LIB_OBJ:.o=.d) $(TEST_BIN:%=%.d) $(BUILD)/src/tunebench.d
