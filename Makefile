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
#   ## pre-WORD  text  a family of targets made from a list (exp-NAME,
#                    bench-ARCH): the mk file exports the list to `help` as
#                    HELP_<target with - as _> (help: export HELP_exp_NAME =
#                    $(EXPERIMENTS)), and help prints it below the line
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
## clean             remove build/, build-sanitize/ and build-fuzz/
## help              this list; `make V=1 ...` shows the full compiler commands

CC       ?= cc
BUILD    := build
OPT      ?= -O3 -march=native
CFLAGS   ?= $(OPT)
CFLAGS   += -std=c11 -Wall -Wextra -fopenmp -D_GNU_SOURCE -MMD -MP -I.
LDLIBS   += -lopenblas -lcjson -lcurl -lm -fopenmp
SANITIZE := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer

# bench/: the code behind `tunebench bench` is part of the library; a file
# there with a main() is a program of its own (bench_cuda, profile_ARCH, ...).
BENCH_PROGRAM_SRC := $(shell grep -l '^int main\b' bench/*.c)
LIB_SRC  := $(sort $(filter-out src/tunebench.c $(BENCH_PROGRAM_SRC),$(wildcard lib/*.c src/*.c src/*/*.c data/*.c models/*.c kernels/*.c kernels/cpu/*.c bench/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# The script tests (they drive make, the CLI, grep or python3 themselves:
# `make help` against the targets, the folder seam, the experiments end to
# end, signals, the LSTM in PyTorch); tests/run_all.sh runs them after the C
# tests.
TEST_BIN += $(sort $(wildcard tests/test_*.sh))

# Kernels that compute in whole vectors (kernels/cpu/vec16.h): every library
# or test source that includes vec16.h, found here so that a new kernel needs
# no edit. Their scalar tails and decode steps call the branch-free exp/log of
# kernels/cpu/vec_math.h, which GCC's default -ftrapping-math keeps scalar
# (the selects count as control flow). No code here enables FP traps, so that
# flag changes speed only. -ffp-contract=fast lets a*h + b become one FMA:
# with -std=c11 GCC contracts nothing, which doubles the selective scan's
# arithmetic; it changes rounding (within the tests' tolerances), never
# determinism.
# -Wno-psabi: built for a CPU without AVX-512 (the portable -march=x86-64-v3),
# GCC warns that a 64-byte vec16 is passed differently from an AVX-512 build.
# Every function that takes or returns one is static inline (vec16.h and the
# files that include it), so no vec16 ever crosses an ABI boundary: the
# warning cannot apply.
# A pattern per file, so that every build directory (BUILD=..., the CUDA
# build's host objects, the sanitizer build) compiles them the same way.
VEC16_SRC := $(shell grep -lE 'include[[:space:]]*"([^"]*/)?vec16\.h"' $(LIB_SRC) $(TEST_SRC))
$(addprefix %/,$(VEC16_SRC:.c=.o)): CFLAGS += -fno-trapping-math -ffp-contract=fast -Wno-psabi

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

# The experiments, one per experiments/NAME.json, in the order exp-all,
# make reference and the music table take them: the 6M ones, then the 60M
# ones, then any other, each group alphabetically.
EXPERIMENT_NAMES := $(patsubst experiments/%.json,%,$(sort $(wildcard experiments/*.json)))
EXPERIMENTS := $(strip $(filter %-6m,$(EXPERIMENT_NAMES)) $(filter %-60m,$(EXPERIMENT_NAMES)) \
                 $(filter-out %-6m %-60m,$(EXPERIMENT_NAMES)))
# The architectures: each ARCH of an experiment ARCH-6m or ARCH-60m.
ARCHS := $(sort $(patsubst %-6m,%,$(filter %-6m,$(EXPERIMENTS))) $(patsubst %-60m,%,$(filter %-60m,$(EXPERIMENTS))))

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
	rm -rf $(BUILD) build-sanitize build-fuzz

-include $(LIB_OBJ:.o=.d) $(TEST_BIN:%=%.d) $(BUILD)/src/tunebench.d
