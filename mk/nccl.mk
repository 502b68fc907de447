# nccl.mk: build/tunebench-nccl, data-parallel training with a GPU per MPI
# rank (src/runner/dist.h): the CUDA build (mk/cuda.mk) linked with
# src/runner/dist.c compiled by mpicc with -DTB_MPI -DTB_NCCL, and
# dist_nccl.c's NCCL transport. scripts/nccl_home.sh finds NCCL (NCCL_HOME,
# the CUDA toolkit's, Debian's libnccl-dev) or, through `scripts/deps.sh
# nccl`, installs NVIDIA's PyPI wheel into build/nccl-venv.
##@ GPU
## nccl             build/tunebench-nccl (mpicc, nvcc, NCCL): mpirun -np N build/tunebench-nccl train --backend cuda ... --ranks N
## deps-nccl        find NCCL, or install NVIDIA's wheel (nvidia-nccl-cuXX, PyPI) into build/nccl-venv

NCCL_BUILD := $(BUILD)/nccl
# "INCLUDE_DIR LIBRARY" of the NCCL found (empty if none), asked when a
# recipe runs: after deps-nccl.
nccl_found = $(shell CUDA_HOME='$(CUDA_HOME)' NCCL_HOME='$(NCCL_HOME)' bash scripts/nccl_home.sh)
NCCL_INC = $(word 1,$(nccl_found))
NCCL_SO = $(word 2,$(nccl_found))
NCCL_OBJ := $(NCCL_BUILD)/src/runner/dist.o $(NCCL_BUILD)/src/runner/dist_nccl.o

$(NCCL_BUILD)/%.o: %.c | deps-build deps-nccl
	@mkdir -p $(dir $@)
	$(say) MPICC $@
	$(Q)$(MPICC) $(CFLAGS) -DTB_MPI -DTB_NCCL -I$(NCCL_INC) -I$(CUDA_HOME)/include -c $< -o $@

# The linker takes dist_* from these objects, not the archive's (no MPI).
$(BUILD)/tunebench-nccl: $(CUDA_BUILD)/src/tunebench.o $(NCCL_OBJ) $(CUDA_BUILD)/libtunebench-cuda.a
	$(say) LD $@
	$(Q)$(MPICC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(NCCL_SO) -Wl,-rpath,$(dir $(NCCL_SO)) $(CUDA_LIBS)

.PHONY: nccl deps-nccl
nccl: deps-build deps-nccl $(BUILD)/tunebench-nccl
deps-nccl:
	@CUDA_HOME='$(CUDA_HOME)' NCCL_HOME='$(NCCL_HOME)' bash scripts/deps.sh nccl

-include $(NCCL_OBJ:.o=.d)
