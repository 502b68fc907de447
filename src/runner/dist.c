// dist.c: see dist.h. Compiled twice: into the library without MPI (every
// call a no-op, more than one rank refused), and with mpicc -DTB_MPI for
// build/tunebench-mpi (mk/grid.mk).
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

#ifndef TB_MPI

int dist_start(void) { return 0; }
int dist_follow(void) { return 0; }

int dist_setup(const Model *m, const char *model_name, const char *backend, int batch_size, int seq_len,
               int threads, int ranks) {
    (void)m, (void)model_name, (void)backend, (void)batch_size, (void)seq_len, (void)threads;
    if (ranks > 1)
        return tb_error("ranks %d: this tunebench is built without MPI; build build/tunebench-mpi with 'make mpi' "
                        "and launch: mpirun -np %d build/tunebench-mpi train ... --ranks %d", ranks, ranks, ranks);
    return 0;
}

int dist_local_rows(int batch_size) { return batch_size; }
void dist_scatter_batch(Model *m, const int32_t *inputs, const int32_t *targets) { (void)m, (void)inputs, (void)targets; }
void dist_reduce_grads(Model *m, float *loss) { (void)m, (void)loss; }

#else

#include <cblas.h>
#include <mpi.h>
#ifdef _OPENMP
#include <omp.h>
#endif

// What rank 0 broadcasts before each of its messages.
enum { CMD_STOP = 0, CMD_SETUP = 1, CMD_STEP = 2 };

// What the other ranks build.
typedef struct {
    char model[32];
    char backend[8];
    int vocab_size;
    int rows, seq_len;    // each rank's slice: (rows, seq_len)
    int threads;
    long long num_params;
} Setup;

static int world_rank, world_size = 1;
static int ranks = 1;        // > 1 once dist_setup has started the others
static int released;         // the others have been told to stop
static int step_open;        // a batch is out whose gradients are not gathered yet
static size_t num_params;
static float *gathered;      // (ranks, num_params) host: rank r's gradients at r * num_params
static float *losses;        // (ranks)
static long long *counts;    // (ranks) predicted positions of each rank's rows
static float *weights;       // (ranks) each rank's share of the positions
static int rows, seq_len;

static void send_command(int cmd) { MPI_Bcast(&cmd, 1, MPI_INT, 0, MPI_COMM_WORLD); }

// Rank 0's gathers of a step, whose result is not wanted (the run is ending).
static void drain_step(void) {
    MPI_Gather(MPI_IN_PLACE, (int)num_params, MPI_FLOAT, gathered, (int)num_params, MPI_FLOAT, 0, MPI_COMM_WORLD);
    MPI_Gather(MPI_IN_PLACE, 1, MPI_FLOAT, losses, 1, MPI_FLOAT, 0, MPI_COMM_WORLD);
    step_open = 0;
}

static void release(void) {
    if (world_size == 1 || released) return;
    if (step_open) drain_step();
    send_command(CMD_STOP);
    released = 1;
}

// However rank 0 ends (a return from cmd_train, tb_die), the others stop too.
static void leader_at_exit(void) {
    release();
    MPI_Finalize();
}

int dist_start(void) {
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    if (world_rank == 0) atexit(leader_at_exit);
    return world_rank > 0;
}

static void set_threads(int threads) {
    if (threads <= 0) return;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    openblas_set_num_threads(threads);
}

// Ranks 1..N-1: what dist.h's table shows on the right.
int dist_follow(void) {
    int cmd;
    MPI_Bcast(&cmd, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (cmd == CMD_STOP) {
        MPI_Finalize();
        return 0;
    }
    Setup s;
    MPI_Bcast(&s, sizeof s, MPI_BYTE, 0, MPI_COMM_WORLD);
    set_threads(s.threads);
    const Backend *be = backend_by_name(s.backend);
    ModelSpec spec;
    Model *m = NULL;
    if (!be || model_spec_by_name(&spec, s.model, s.vocab_size) || !(m = model_create(&spec, be)) ||
        m->vt->alloc_activations(m, s.rows, s.seq_len)) {
        fprintf(stderr, "tunebench: error: rank %d: %s\n", world_rank, tb_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if ((long long)m->num_params != s.num_params) {
        fprintf(stderr, "tunebench: error: rank %d: %s has %zu parameters here and %lld on rank 0\n", world_rank,
                s.model, m->num_params, s.num_params);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    size_t P = m->num_params, BT = (size_t)s.rows * s.seq_len;
    float *host = tb_malloc(sizeof(float) * P);
    int32_t *inputs = tb_malloc(sizeof(int32_t) * BT), *targets = tb_malloc(sizeof(int32_t) * BT);
    for (;;) {
        MPI_Bcast(&cmd, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (cmd != CMD_STEP) break;
        MPI_Bcast(host, (int)P, MPI_FLOAT, 0, MPI_COMM_WORLD);
        be->to_device(m->params, host, sizeof(float) * P);
        MPI_Scatter(NULL, (int)BT, MPI_INT32_T, inputs, (int)BT, MPI_INT32_T, 0, MPI_COMM_WORLD);
        MPI_Scatter(NULL, (int)BT, MPI_INT32_T, targets, (int)BT, MPI_INT32_T, 0, MPI_COMM_WORLD);
        m->vt->forward(m, inputs, targets, s.rows, s.seq_len);
        model_zero_grad(m);
        m->vt->backward(m);
        be->to_host(host, m->grads, sizeof(float) * P);
        float loss = m->loss;
        MPI_Gather(host, (int)P, MPI_FLOAT, NULL, (int)P, MPI_FLOAT, 0, MPI_COMM_WORLD);
        MPI_Gather(&loss, 1, MPI_FLOAT, NULL, 1, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
    free(host), free(inputs), free(targets);
    model_destroy(m);
    MPI_Finalize();
    return 0;
}

int dist_setup(const Model *m, const char *model_name, const char *backend, int batch_size, int seq_len_,
               int threads, int want) {
    if (want != world_size) {
        release();
        if (world_size == 1)
            return tb_error("ranks %d: this process is not one of %d MPI ranks; launch it with: mpirun -np %d "
                            "build/tunebench-mpi train ... --ranks %d", want, want, want, want);
        return tb_error("launched as %d MPI ranks, but the run has ranks %d (a resumed run keeps the rank count "
                        "it started with, so that it continues bit-identically): use mpirun -np %d", world_size,
                        want, want);
    }
    if (world_size == 1) return 0;
    if (batch_size % world_size != 0) {
        release();
        return tb_error("batch_size %d does not split over %d ranks: give a multiple of %d", batch_size,
                        world_size, world_size);
    }
    Setup s;
    memset(&s, 0, sizeof s);
    snprintf(s.model, sizeof s.model, "%s", model_name);
    snprintf(s.backend, sizeof s.backend, "%s", backend);
    s.vocab_size = m->spec.vocab_size;
    s.rows = batch_size / world_size;
    s.seq_len = seq_len_;
    s.threads = threads;
    s.num_params = (long long)m->num_params;
    send_command(CMD_SETUP);
    MPI_Bcast(&s, sizeof s, MPI_BYTE, 0, MPI_COMM_WORLD);
    ranks = world_size;
    rows = s.rows, seq_len = seq_len_;
    num_params = m->num_params;
    gathered = tb_malloc(sizeof(float) * num_params * (size_t)ranks);
    losses = tb_malloc(sizeof(float) * (size_t)ranks);
    counts = tb_malloc(sizeof(long long) * (size_t)ranks);
    weights = tb_malloc(sizeof(float) * (size_t)ranks);
    return 0;
}

int dist_local_rows(int batch_size) { return batch_size / ranks; }

void dist_scatter_batch(Model *m, const int32_t *inputs, const int32_t *targets) {
    if (ranks == 1) return;
    size_t BT = (size_t)rows * seq_len;
    send_command(CMD_STEP);
    m->be->to_host(gathered, m->params, sizeof(float) * num_params);
    MPI_Bcast(gathered, (int)num_params, MPI_FLOAT, 0, MPI_COMM_WORLD);
    MPI_Scatter(inputs, (int)BT, MPI_INT32_T, MPI_IN_PLACE, (int)BT, MPI_INT32_T, 0, MPI_COMM_WORLD);
    MPI_Scatter(targets, (int)BT, MPI_INT32_T, MPI_IN_PLACE, (int)BT, MPI_INT32_T, 0, MPI_COMM_WORLD);
    // Each rank's loss is a mean over its predicted positions (targets >= 0).
    for (int r = 0; r < ranks; r++) {
        counts[r] = 0;
        for (size_t i = (size_t)r * BT; i < (size_t)(r + 1) * BT; i++) counts[r] += targets[i] >= 0;
    }
    step_open = 1;
}

void dist_reduce_grads(Model *m, float *loss) {
    if (ranks == 1) return;
    m->be->to_host(gathered, m->grads, sizeof(float) * num_params);
    losses[0] = *loss;
    MPI_Gather(MPI_IN_PLACE, (int)num_params, MPI_FLOAT, gathered, (int)num_params, MPI_FLOAT, 0, MPI_COMM_WORLD);
    MPI_Gather(MPI_IN_PLACE, 1, MPI_FLOAT, losses, 1, MPI_FLOAT, 0, MPI_COMM_WORLD);
    step_open = 0;
    // The global mean: rank r's mean weighted by its share of the positions,
    // added in rank order (each element on its own, so any thread count
    // gives the same bits).
    long long total = 0;
    for (int r = 0; r < ranks; r++) total += counts[r];
    float *w = weights;
    double mean = 0;
    for (int r = 0; r < ranks; r++) {
        w[r] = total ? (float)((double)counts[r] / (double)total) : 0.0f;
        mean += (double)w[r] * losses[r];
    }
    const size_t P = num_params;
    const int R = ranks;
    float *g = gathered;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < P; i++) {
        float acc = w[0] * g[i];
        for (int r = 1; r < R; r++) acc += w[r] * g[(size_t)r * P + i];
        g[i] = acc;
    }
    m->be->to_device(m->grads, gathered, sizeof(float) * P);
    *loss = (float)mean;
}

#endif
