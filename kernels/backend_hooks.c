// backend_hooks.c: a Backend that forwards every function to another one and
// calls a hook before each, with its name. The call-count test counts ops with
// it, and the profilers time them; the models cannot tell it from the real
// backend. The trampolines are generated from kernels/ops.def, so every
// function of the list has one wherever it sits in the list.
#include "backend_hooks.h"

#include <stddef.h>

static const Backend *inner;
static BackendHook hook;
static void *hook_ctx;
static Backend hooked;

// A trampoline returns what the real function returns, or nothing (C does
// not allow `return f();` where f returns void).
#define HOOK_CALL_void(call) call;
#define HOOK_CALL_int(call) return call;
#define HOOK_CALL_double(call) return call;
#define HOOK_CALL_size_t(call) return call;
#define HOOK_CALL_ptr(call) return call;

#define OP(kind, ret, name, params, args)       \
    static BACKEND_RET_##ret hooked_##name params { \
        hook(#name, hook_ctx);                  \
        HOOK_CALL_##ret(inner->name args)       \
    }
#include "ops.def"
#undef OP

const Backend *backend_with_hooks(const Backend *real, BackendHook before, void *ctx) {
    inner = real, hook = before, hook_ctx = ctx;
    hooked = *real;
    // Optional functions (graphs) stay NULL where real has none.
#define OP(kind, ret, name, params, args) hooked.name = real->name ? hooked_##name : NULL;
#include "ops.def"
#undef OP
    return &hooked;
}
