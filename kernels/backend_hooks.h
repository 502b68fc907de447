// backend_hooks.h: wrap a Backend so that a hook sees every op call.
#ifndef TB_BACKEND_HOOKS_H
#define TB_BACKEND_HOOKS_H

#include "backend.h"

// Called before each op with its field name in Backend ("linear_forward").
typedef void (*BackendHook)(const char *op, void *ctx);
// A Backend that calls before(op, ctx), then real's op. One wrapper at a time:
// a second call re-points the same table. Optional ops stay NULL where real
// has none.
const Backend *backend_with_hooks(const Backend *real, BackendHook before, void *ctx);

#endif
