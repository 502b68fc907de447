# grid.mk: grids of runs (grids/*.json) on this machine (a pool of workers) or
# on Slurm (job arrays), through `tunebench grid` (src/grid/); and
# build/tunebench-mpi, data-parallel training over MPI (src/runner/dist.h;
# its GPU build, build/tunebench-nccl, is mk/nccl.mk's).
##@ Experiments
## grid             every unfinished run of GRID=grids/NAME.json here, WORKERS=N at a time (THREADS= each, default cores/N; GRID_BIN=build/tunebench-cuda for cuda); SCHEDULER=slurm submits Slurm job arrays instead
## grid-status      each run of GRID from its record (SCHEDULER=slurm adds the Slurm queue)
##@ Benchmarks
## bench-grid       a 4-run grid with 1 and 2 workers, and gpt2-6m as 2 MPI ranks vs 1 process of 2 threads: results/bench/grid.json (a few minutes)
##@ Build and test
## mpi              build/tunebench-mpi (mpicc, OpenMPI): mpirun -np N build/tunebench-mpi train ... --ranks N

GRIDS     := $(sort $(wildcard grids/*.json))
WORKERS   ?= 1
SCHEDULER ?= local
# The binary the local workers run: build/tunebench-cuda (make cuda) for a
# grid whose backend is cuda. The Slurm scripts pick theirs from the backend.
GRID_BIN  ?= $(BUILD)/tunebench

.PHONY: grid grid-status mpi bench-grid

# A missing or unknown GRID: one line that lists the grids.
grid_check = $(if $(GRID),$(if $(wildcard $(GRID)),,$(error make $(1): no grid file $(GRID); the grids are: $(GRIDS))),\
               $(error make $(1): give GRID=grids/NAME.json; the grids are: $(GRIDS)))

# The corpus the default experiments train on is prepared first if missing.
grid: deps-build $(BUILD)/tunebench
	$(call grid_check,grid)
ifeq ($(SCHEDULER),slurm)
	$(BUILD)/tunebench grid sbatch $(GRID) --submit --bin $(BUILD)
else ifeq ($(SCHEDULER),local)
	@if [ ! -f $(CORPUS)/train.bin ]; then \
	  echo "tunebench: the corpus $(CORPUS) is missing; preparing it with 'make data'"; \
	  $(MAKE) --no-print-directory data || exit 1; fi
	$(GRID_BIN) grid run $(GRID) --workers $(WORKERS) $(if $(THREADS),--threads $(THREADS))
else
	$(error make grid: SCHEDULER is local or slurm, not '$(SCHEDULER)')
endif

grid-status: deps-build $(BUILD)/tunebench
	$(call grid_check,grid-status)
	@$(BUILD)/tunebench grid status $(GRID) $(if $(filter slurm,$(SCHEDULER)),--slurm)

# ---------------------------------------------------------------- MPI
# The default build has no MPI: src/runner/dist.c compiles to no-ops there.
# build/tunebench-mpi links the same library with dist.c compiled by mpicc
# with -DTB_MPI (the linker takes dist_* from that object, not the archive's).
MPICC ?= mpicc
$(BUILD)/mpi/%.o: %.c | deps-build
	@mkdir -p $(dir $@)
	$(say) MPICC $@
	$(Q)$(MPICC) $(CFLAGS) -DTB_MPI -c $< -o $@
$(BUILD)/tunebench-mpi: $(BUILD)/src/tunebench.o $(BUILD)/mpi/src/runner/dist.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(MPICC) $(CFLAGS) $^ -o $@ $(LDLIBS)
mpi: deps-build $(BUILD)/tunebench-mpi
# The NCCL bootstrap's MPI part on CPU ranks, which tests/test_dist.sh runs
# under mpirun (not a tests/test_*.c: it needs mpicc).
$(BUILD)/mpi/tests/mpi_bootstrap: $(BUILD)/mpi/tests/mpi_bootstrap.o $(BUILD)/mpi/src/runner/dist.o $(BUILD)/libtunebench.a
	$(say) LD $@
	$(Q)$(MPICC) $(CFLAGS) $^ -o $@ $(LDLIBS)

bench-grid: corpus-for-tests $(BUILD)/tunebench $(BUILD)/tunebench-mpi
	@mkdir -p results/bench
	bash scripts/bench_grid.sh $(BUILD) results/bench/grid.json

-include $(BUILD)/mpi/src/runner/dist.d $(BUILD)/mpi/tests/mpi_bootstrap.d
