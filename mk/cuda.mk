# mk/cuda.mk: the CUDA backend, built two ways from the same kernels/cuda/*.cu:
# `make test` compiles them with g++ against the SIMT emulation (emu/, which
# stands in for the CUDA runtime and cuBLAS headers) and links them into
# tests/test_cuda_*; `make cuda` compiles them with nvcc.
##@ GPU
## cuda             nvcc for sm_80 + sm_90 with cuBLAS: build/tunebench-cuda (builds without a GPU)
## test-gpu         the CUDA kernel and model tests natively, a determinism check, and SIGTERM to GPU runs
## bench-gpu        tokens/s, MFU, step breakdown, launch counts, decode with/without graphs: results/bench/cuda.json
## sass-count       SASS instructions per thread-step of the selective scan's inner loops, sm_80 and sm_90 (nvcc and nvdisasm, no GPU): results/bench/sass_scan.json

CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(CUDA_HOME)/bin/nvcc
CXX       ?= g++
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
# --default-stream per-thread: nothing may rely on the legacy default
# stream's implicit ordering (every copy is on the backend's stream).
NVCCFLAGS ?= -O3 -std=c++17 $(CUDA_ARCH) --default-stream per-thread -Xcompiler -Wall,-Wextra -I.
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++

CUDA_SRC     := $(sort $(wildcard kernels/cuda/*.cu))
SIMT_TEST_CU := $(sort $(wildcard tests/simt/*.cu))

# ---------------------------------------------------------------- emulation
EMU_BUILD    := $(BUILD)/emu
EMU_CXXFLAGS := $(OPT) -std=c++17 -Wall -Wextra -fno-exceptions -fno-rtti -D_GNU_SOURCE -MMD -MP -I. -Iemu
EMU_OBJ      := $(CUDA_SRC:%.cu=$(EMU_BUILD)/%.o) $(SIMT_TEST_CU:%.cu=$(EMU_BUILD)/%.o) \
                $(patsubst %.cpp,$(EMU_BUILD)/%.o,$(wildcard emu/*.cpp))

$(EMU_BUILD)/%.o: %.cu | deps-build
	@mkdir -p $(dir $@)
	$(say) CXX $@
	$(Q)$(CXX) $(EMU_CXXFLAGS) -x c++ -c $< -o $@
$(EMU_BUILD)/%.o: %.cpp | deps-build
	@mkdir -p $(dir $@)
	$(say) CXX $@
	$(Q)$(CXX) $(EMU_CXXFLAGS) -c $< -o $@

$(BUILD)/libtbcuda_emu.a: $(EMU_OBJ)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

# The CUDA tests link the emulated backend (this stem is shorter than the
# generic tests rule's, so make picks this rule for them).
$(BUILD)/tests/test_cuda_%.o: CFLAGS += -DTB_SIMT_EMU
$(BUILD)/tests/test_cuda_%: $(BUILD)/tests/test_cuda_%.o $(BUILD)/libtbcuda_emu.a $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lstdc++

-include $(EMU_OBJ:.o=.d)

# ---------------------------------------------------------------- native (nvcc)
CUDA_BUILD := $(BUILD)/cuda
CUDA_OBJ   := $(CUDA_SRC:%.cu=$(CUDA_BUILD)/%.o)
# The host library again, with -DTB_HAVE_CUDA so that kernels/backend.c
# offers the CUDA backend.
CUDA_LIB_OBJ := $(LIB_SRC:%.c=$(CUDA_BUILD)/%.o)

$(CUDA_BUILD)/%.o: %.cu | deps-build
	@mkdir -p $(dir $@)
	$(say) NVCC $@
	$(Q)$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@
$(CUDA_BUILD)/%.o: %.c | deps-build
	@mkdir -p $(dir $@)
	$(say) CC $@
	$(Q)$(CC) $(CFLAGS) -DTB_HAVE_CUDA -c $< -o $@

$(CUDA_BUILD)/libtunebench-cuda.a: $(CUDA_LIB_OBJ) $(CUDA_OBJ)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(BUILD)/tunebench-cuda: $(CUDA_BUILD)/src/tunebench.o $(CUDA_BUILD)/libtunebench-cuda.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(CUDA_LIBS)

# Native kernel tests: the emulation tests minus the one about the emulator.
GPU_TEST_SRC := $(filter-out tests/test_cuda_emu.c,$(wildcard tests/test_cuda_*.c))
GPU_TEST_BIN := $(GPU_TEST_SRC:tests/%.c=$(CUDA_BUILD)/tests/%)
$(CUDA_BUILD)/tests/%: $(CUDA_BUILD)/tests/%.o $(CUDA_BUILD)/libtunebench-cuda.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(CUDA_LIBS)

BENCH_GPU_BIN := $(CUDA_BUILD)/bench/bench_cuda
# The binary that offers --backend cuda (mk/runner.mk's exp-NAME BACKEND=cuda),
# the device it needs, and the shell test that finds one (run before the build).
BACKEND_BIN_cuda := $(BUILD)/tunebench-cuda
BACKEND_DEVICE_cuda := GPU (nvidia-smi -L lists none and there is no /dev/nvidia0)
BACKEND_DEVICE_PROBE_cuda = nvidia-smi -L >/dev/null 2>&1 || [ -e /dev/nvidia0 ]

.PHONY: cuda test-gpu bench-gpu sass-count
cuda: deps-build $(BUILD)/tunebench-cuda $(GPU_TEST_BIN) $(BENCH_GPU_BIN)

test-gpu: cuda
	@TB_STOP_BIN=$(BUILD)/tunebench-cuda TB_STOP_BACKEND=cuda bash tests/run_all.sh $(GPU_TEST_BIN) tests/test_stop_signal.sh

bench-gpu: cuda $(BENCH_GPU_BIN)
	@mkdir -p results/bench
	$(BENCH_GPU_BIN) results/bench/cuda.json $(BENCH_GPU_FLAGS)

# One architecture at a time: the build's flags without their -gencode list.
# nvdisasm, where the toolkit lacks it, comes from PyPI into a venv (python3-venv).
sass-count:
	@bash scripts/deps.sh venv
	@NVCC="$(NVCC)" NVCCFLAGS="$(filter-out -gencode arch=%,$(NVCCFLAGS))" \
	  bash scripts/sass_count.sh results/bench/sass_scan.json

$(CUDA_BUILD)/bench/%: $(CUDA_BUILD)/bench/%.o $(CUDA_BUILD)/libtunebench-cuda.a
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(CUDA_LIBS)

-include $(CUDA_OBJ:.o=.d) $(CUDA_LIB_OBJ:.o=.d)
