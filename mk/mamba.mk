# mamba.mk: Mamba-specific build settings and targets.

# The scan and SiLU loops call the branch-free exp/log of kernels/cpu/vec_math.h.
# With GCC's default -ftrapping-math, the selects inside them count as control
# flow and the loops stay scalar (3-4x slower). No code here enables FP traps,
# so the flag changes speed only, never a result.
MAMBA_VEC_OBJ := $(BUILD)/kernels/cpu/selective_scan.o $(BUILD)/kernels/cpu/silu.o
$(MAMBA_VEC_OBJ): CFLAGS += -fno-trapping-math
