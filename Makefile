# tunebench: GPT-2 vs Mamba on ABC music. `make help` lists the targets.
#
# Sources are found by wildcard, so adding a file needs no edit here. Each
# area adds its own targets in mk/<area>.mk, included below.
#
# `make help` prints the `##` comment lines of this file and mk/*.mk (so the
# list sits beside the targets and tests/test_make_help.sh checks that it
# names every .PHONY target and nothing else):
#   ##@ Group        the group of the lines that follow (help shows the groups
#                    in the order they first appear; the lines below fix it)
#   ## target  text  one line per target: its name, then what it does
##@ Build and test
##@ Data
##@ Experiments
##@ Generated music
##@ Figures, tables and the paper
##@ GPU
##@ Benchmarks
##@ Build and test
## all               (plain `make`) build build/tunebench; installs missing Debian packages first
## test              build and run every test; prints 'N passed, N failed'
## test-sanitize     the same tests under ASan and UBSan (build-sanitize/)
## deps              install every missing Debian package the project uses (apt-get)
## deps-build        install only what compiling and `make test` need (every compile waits for it)
## clean             remove build/ and build-sanitize/
## help              this list; `make V=1 ...` shows the full compiler commands

CC       ?= cc
BUILD    := build
OPT      ?= -O3 -march=native
CFLAGS   ?= $(OPT)
CFLAGS   += -std=c11 -Wall -Wextra -fopenmp -D_GNU_SOURCE -MMD -MP -I.
LDLIBS   += -lopenblas -lcjson -lm -fopenmp
SANITIZE := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer

LIB_SRC  := $(sort $(filter-out src/tunebench.c,$(wildcard lib/*.c src/*.c src/*/*.c data/*.c models/*.c kernels/*.c kernels/cpu/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# `make help` against the targets (a script; run_all.sh runs it with the C tests).
TEST_BIN += tests/test_make_help.sh tests/test_seam.sh

.DEFAULT_GOAL := all

# Quiet build, as kbuild does: one short line per file ("  CC  build/x.o"),
# the full commands with `make V=1`. Warnings and errors print in full either way.
V ?= 0
ifeq ($(V),1)
Q   :=
say := @true
else
Q   := @
say := @printf '  %-5s %s\n'
endif

TEST_PREREQS := $(BUILD)/tunebench
# Each area's targets; included before the rules below so that what they add
# to TEST_PREREQS is seen by `test`.
include $(sort $(wildcard mk/*.mk))

.PHONY: all help deps test test-sanitize clean
.SECONDARY:
all: deps-build $(BUILD)/tunebench

help:
	@awk -f scripts/make_help.awk Makefile $(sort $(wildcard mk/*.mk))

# deps-build: only what compiling needs; deps: everything the project uses.
# Every compile rule has deps-build as an order-only prerequisite, so that
# `make -j` installs the headers (libopenblas-dev, libcjson-dev) before any
# compiler needs them; it runs once per make, and checking takes a moment.
.PHONY: deps-build
deps-build:
	@bash scripts/deps.sh build
deps:
	@bash scripts/deps.sh all

$(BUILD)/%.o: %.c | deps-build
	@mkdir -p $(dir $@)
	$(say) CC $@
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtunebench.a: $(LIB_OBJ)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(BUILD)/tunebench: $(BUILD)/src/tunebench.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Tests run from the repository root; each prints its own tally and
# tests/run_all.sh adds them up into one closing line.
test: deps-build $(TEST_PREREQS) $(TEST_BIN)
	@bash tests/run_all.sh $(TEST_BIN)

test-sanitize:
	$(MAKE) BUILD=build-sanitize OPT="$(SANITIZE)" LDLIBS="$(LDLIBS) -fsanitize=address,undefined" test

clean:
	rm -rf $(BUILD) build-sanitize

-include $(LIB_OBJ:.o=.d) $(TEST_BIN:%=%.d) $(BUILD)/src/tunebench.d
