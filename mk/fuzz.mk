# fuzz.mk: libFuzzer targets for the readers of outside input (the list is
# tests/fuzz/targets.def). `make fuzz` installs clang (scripts/deps.sh fuzz),
# builds the library with clang, ASan, UBSan and coverage into build-fuzz/,
# then runs each target for FUZZ_SECONDS on its corpus tests/fuzz/<target>/.
# A run goes on after a crash (-fork, -ignore_crashes), so that it reports
# every one it finds in its time; each input that crashes (or hangs for 10 s:
# timeout-, runs out of memory: oom-) is written to
# tests/fuzz/<target>/<kind>-<sha1>, where tests/test_fuzz_replay.c replays it
# in `make test` once it is committed. New inputs that only add coverage stay
# in build-fuzz/corpus-<target>/.
##@ Build and test
## fuzz              run each libFuzzer target (tests/fuzz/targets.def; FUZZ_TARGETS="abc config" some) for FUZZ_SECONDS (60); crashes and hangs go to tests/fuzz/<target>/
## deps-fuzz         install clang and libFuzzer (scripts/deps.sh fuzz; make fuzz does it)

FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_NAMES   := $(shell sed -n 's/^FUZZ_TARGET.\([a-z_0-9]*\),.*/\1/p' tests/fuzz/targets.def)
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_CFLAGS  := -O1 -g -Wno-pass-failed -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_LIBS    := -lopenblas -lcjson -lm -fopenmp

.PHONY: fuzz deps-fuzz
deps-fuzz:
	@bash scripts/deps.sh fuzz

# The library, as every other build makes it (the sub-make's own rules and
# .d files), with clang, the sanitizers and coverage throughout: coverage only
# where the fuzzed readers live would miss what they call.
ifneq ($(BUILD),$(FUZZ_BUILD))
$(FUZZ_BUILD)/libtunebench.a: $(LIB_SRC) $(wildcard lib/*.h models/*.h src/*.h src/*/*.h data/*.h kernels/*.h kernels/cpu/*.h) | deps-fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
	  OPT="$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link" $@
endif

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_main.c tests/fuzz/targets.c tests/fuzz/targets.h tests/fuzz/targets.def $(FUZZ_BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -std=c11 -D_GNU_SOURCE -I. -Itests/fuzz -DFUZZ_ENTRY=fuzz_$* \
	  tests/fuzz/fuzz_main.c tests/fuzz/targets.c $(FUZZ_BUILD)/libtunebench.a -o $@ $(FUZZ_LIBS)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
	@found=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	  before=$$(ls tests/fuzz/$$t | grep -cE '^(crash|timeout|oom|leak)-'); \
	  $(FUZZ_BUILD)/fuzz_$$t -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=10 \
	    -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=tests/fuzz/$$t/ \
	    $(FUZZ_BUILD)/corpus-$$t tests/fuzz/$$t > $(FUZZ_BUILD)/fuzz_$$t.log 2>&1; \
	  after=$$(ls tests/fuzz/$$t | grep -cE '^(crash|timeout|oom|leak)-'); \
	  runs=$$(grep -o '^#[0-9]*' $(FUZZ_BUILD)/fuzz_$$t.log | tail -1 | tr -d '#'); \
	  cov=$$(grep -o 'cov: [0-9]*' $(FUZZ_BUILD)/fuzz_$$t.log | tail -1 | cut -d' ' -f2); \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s, $${runs:-0} inputs, $${cov:-0} edges, $$((after - before)) new crashing or hanging inputs in tests/fuzz/$$t/ (log $(FUZZ_BUILD)/fuzz_$$t.log)"; \
	  found=$$((found + after - before)); \
	done; \
	if [ $$found -gt 0 ]; then echo "fuzz: $$found new crashing or hanging inputs: fix them, then commit them (make test replays them)"; exit 1; fi
