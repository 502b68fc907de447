// targets.h: the fuzz targets' entry points (targets.def). Each takes any
// bytes, must never crash, leak or read out of bounds (the sanitizers catch
// that), and returns 0 when the invariants it checks hold, -1 (after
// printing which one to stderr) when one does not.
#ifndef TB_FUZZ_TARGETS_H
#define TB_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_TARGET(name, what) int fuzz_##name(const uint8_t *data, size_t size);
#include "targets.def"
#undef FUZZ_TARGET

#endif
