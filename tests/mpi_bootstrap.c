// mpi_bootstrap.c: the plain-MPI part of the NCCL bootstrap
// (src/runner/dist.h), on CPU ranks: tests/test_dist.sh runs
// `mpirun -np 2 build/mpi/tests/mpi_bootstrap`. Every rank finds its place
// on its node and its GPU (as if the node had a GPU per rank), and receives
// the id that rank 0 alone makes (NCCL's ncclGetUniqueId in
// build/tunebench-nccl; a fixed pattern here). Rank 0 gathers every rank's
// findings and prints the tally. Built by mpicc with -DTB_MPI (mk/grid.mk).
#include <mpi.h>

#include "lib/common.h"
#include "src/runner/dist.h"
#include "test.h"

enum { ID_BYTES = 128 };  // NCCL_UNIQUE_ID_BYTES
static int made;          // make_id calls on this rank

static void make_id(void *id) {
    unsigned char *bytes = id;
    for (int i = 0; i < ID_BYTES; i++) bytes[i] = (unsigned char)(i * 7 + 3);
    made++;
}

int main(void) {
    MPI_Init(NULL, NULL);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int local_size = 0, local_rank = dist_local_rank(&local_size);
    unsigned char id[ID_BYTES];
    memset(id, 0, sizeof id);
    dist_share_id(make_id, id, sizeof id);
    int same_id = 1;
    for (int i = 0; i < ID_BYTES; i++) same_id &= id[i] == (unsigned char)(i * 7 + 3);
    int gpu = dist_gpu_for_rank(local_rank, local_size, local_size);
    enum { FACTS = 5 };
    int mine[FACTS] = {local_rank, local_size, same_id, gpu, made};
    int *all = tb_malloc(sizeof(int) * FACTS * (size_t)size);
    MPI_Gather(mine, FACTS, MPI_INT, all, FACTS, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        CHECK(size >= 2, "run it as 2 or more ranks (mpirun -np 2); it ran as %d", size);
        unsigned seen = 0;
        int makers = 0;
        for (int r = 0; r < size; r++) {
            const int *f = all + FACTS * r;
            CHECK(f[1] == size, "rank %d counts %d ranks on its node; all %d run on this machine", r, f[1], size);
            CHECK(f[0] >= 0 && f[0] < size, "rank %d: local rank %d is outside 0..%d", r, f[0], size - 1);
            if (f[0] >= 0 && f[0] < 32) seen |= 1u << f[0];
            CHECK(f[2], "rank %d did not receive rank 0's id", r);
            CHECK(f[3] == f[0], "rank %d: with a GPU per rank it drives GPU %d, not its local rank %d", r, f[3], f[0]);
            makers += f[4];
            CHECK(f[4] == (r == 0), "rank %d made the id %d times (rank 0 alone makes it, once)", r, f[4]);
        }
        CHECK(size < 32 && seen == (1u << size) - 1, "the local ranks are 0..%d, each once", size - 1);
        CHECK(makers == 1, "one id made in all (%d)", makers);
    }
    free(all);
    MPI_Finalize();
    return rank == 0 ? test_summary("mpi_bootstrap") : 0;
}
