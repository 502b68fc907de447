// backend.c: picking a backend by name, and the names of its functions.
//
// The CPU backend is always built (kernels/cpu/backend_cpu.c). The CUDA
// backend exists only in a `make cuda` build, which compiles this file with
// -DTB_HAVE_CUDA and links kernels/cuda/, where backend_cuda_get() lives.
#include "backend.h"

#include <stddef.h>

#include "lib/common.h"

#ifdef TB_HAVE_CUDA
// Defined in kernels/cuda/: the CUDA backend, or NULL with tb_error() set when
// no GPU is usable.
const Backend *backend_cuda_get(void);
#endif

const char *const backend_op_names[BACKEND_OP_COUNT] = {
#define OP(kind, ret, name, params, args) #name,
#include "ops.def"
#undef OP
};

const size_t backend_op_offsets[BACKEND_OP_COUNT] = {
#define OP(kind, ret, name, params, args) offsetof(Backend, name),
#include "ops.def"
#undef OP
};

const unsigned char backend_op_kinds[BACKEND_OP_COUNT] = {
#define OP(kind, ret, name, params, args) BACKEND_KIND_##kind,
#include "ops.def"
#undef OP
};

const char *const precision_names[PRECISION_COUNT] = {
#define PRECISION(id, name, meaning) name,
#include "precisions.def"
#undef PRECISION
};
const char *const precision_meanings[PRECISION_COUNT] = {
#define PRECISION(id, name, meaning) meaning,
#include "precisions.def"
#undef PRECISION
};
// "|fp32|tf32|bf16" without its first bar.
const char *const precision_choices = (""
#define PRECISION(id, name, meaning) "|" name
#include "precisions.def"
#undef PRECISION
) + 1;

int precision_by_name(const char *name) {
    for (int i = 0; i < PRECISION_COUNT; i++)
        if (name && tb_streq(name, precision_names[i])) return i;
    return tb_error("unknown precision '%s': use one of %s", name ? name : "(none)", precision_choices);
}

int backend_op_index(const char *name) {
    for (int i = 0; i < BACKEND_OP_COUNT; i++)
        if (tb_streq(backend_op_names[i], name)) return i;
    return -1;
}

const Backend *backend_cuda(void) {
#ifdef TB_HAVE_CUDA
    return backend_cuda_get();
#else
    tb_error("this build has no CUDA backend: build with `make cuda`");
    return NULL;
#endif
}

static const BackendKind backend_kinds[] = {
    {"cpu", 0, "tunebench"},
    {"cuda", 1, "tunebench-cuda"},
};

const BackendKind *backend_kind(const char *name) {
    for (size_t i = 0; i < sizeof backend_kinds / sizeof backend_kinds[0]; i++)
        if (name && tb_streq(name, backend_kinds[i].name)) return &backend_kinds[i];
    tb_error("unknown backend '%s': use cpu or cuda", name ? name : "(none)");
    return NULL;
}

const Backend *backend_by_name(const char *name) {
    if (!name) {
        tb_error("no backend named: use --backend cpu or --backend cuda");
        return NULL;
    }
    if (tb_streq(name, "cpu")) return backend_cpu();
    if (tb_streq(name, "cuda")) return backend_cuda();
    tb_error("unknown backend '%s': use cpu or cuda", name);
    return NULL;
}
