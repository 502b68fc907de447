// ops_cuda.cuh: the host launchers of the CUDA backend, one group per file.
// Same signatures and conventions as the Backend table in kernels/backend.h;
// every pointer is device memory.
#ifndef TB_OPS_CUDA_CUH
#define TB_OPS_CUDA_CUH

#include "cuda_common.cuh"

// The ops of kernels/ops.def, each <name>_cuda, in the .cu file of its family.
#define OP(kind, ret, name, params, args) OP_CUDA_##kind(ret, name, params)
#define OP_CUDA_MEMORY(ret, name, params)
#define OP_CUDA_GRAPH(ret, name, params)
#define OP_CUDA_COMPUTE(ret, name, params) BACKEND_RET_##ret name##_cuda params;
#define OP_CUDA_QUERY OP_CUDA_COMPUTE
#include "../ops.def"
#undef OP

// The limits the Backend states. conv1d.cu's parameter-gradient kernel holds
// up to this many taps per thread; the scan kernels hold 16 lanes x 4 states
// per channel.
enum { CONV1D_MAX_KERNEL_CUDA = 8 };
enum { SELECTIVE_SCAN_MAX_DSTATE_CUDA = 64 };

#endif
