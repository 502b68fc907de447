// fuzz_main.c: libFuzzer's entry for one target, chosen at compile time
// (-DFUZZ_ENTRY=fuzz_<name>). A broken invariant aborts, so that libFuzzer
// keeps the input as a crash.
#include <stdlib.h>

#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (FUZZ_ENTRY(data, size) != 0) abort();
    return 0;
}
