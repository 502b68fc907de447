// dist.c: see dist.h. Compiled three times: into the library without MPI
// (every call a no-op, more than one rank refused), with mpicc -DTB_MPI for
// build/tunebench-mpi (mk/grid.mk), and with -DTB_MPI -DTB_NCCL for
// build/tunebench-nccl (mk/nccl.mk), which adds dist_nccl.c's transport.
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist_buckets.h"
#include "lib/common.h"

int dist_gpu_for_rank(int local_rank, int local_size, int devices) {
    if (devices <= 0) return tb_error("this node shows no GPU to its ranks (CUDA_VISIBLE_DEVICES empty?)");
    if (local_rank < 0 || local_rank >= local_size)
        return tb_error("local rank %d is not one of the %d ranks of its node", local_rank, local_size);
    if (devices >= local_size) return local_rank;
    if (devices == 1) return 0;  // each rank was given a GPU of its own, as GPU 0
    return tb_error("%d ranks on this node share its %d GPUs, but NCCL needs a GPU per rank: launch at most %d "
                    "ranks per node (mpirun --map-by ppr:%d:node; srun --ntasks-per-node=%d --gpus-per-task=1)",
                    local_size, devices, devices, devices, devices);
}

#ifndef TB_MPI

int dist_start(void) { return 0; }
int dist_follow(void) { return 0; }

int dist_setup(Model *m, const char *model_name, const char *backend, int batch_size, int seq_len,
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
void dist_end(Model *m) { (void)m; }
void dist_describe(cJSON *env) { (void)env; }

int dist_local_rank(int *local_size) {
    *local_size = 1;
    return 0;
}
void dist_share_id(void (*make_id)(void *id), void *id, size_t id_bytes) {
    (void)id_bytes;
    make_id(id);
}

#else

#include <cblas.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <mpi.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef TB_NCCL
#include "dist_nccl.h"
#define DIST_BINARY "build/tunebench-nccl"
#else
#define DIST_BINARY "build/tunebench-mpi"
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
static int use_nccl;         // the NCCL transport (a cuda run of build/tunebench-nccl)
static Model *model;         // this rank's, while ranks > 1
static size_t num_params;
static int rows, seq_len;
static DistBuckets buckets;
static float weight;         // this rank's share of the step's predicted positions
// Rank 0: each rank's loss, predicted positions and share of them.
static float *losses;
static long long *positions;
static float *weights;
// The MPI transport. host: (ranks, num_params) on rank 0, rank r's gradients
// at r * num_params; (num_params) elsewhere. Each bucket's gather has its
// request and (on rank 0) its counts and displacements, which MPI reads
// until the request completes.
static float *host;
static MPI_Request requests[DIST_MAX_BUCKETS];
static int *gather_counts, *gather_displs;  // (DIST_MAX_BUCKETS, ranks)

static void send_command(int cmd) { MPI_Bcast(&cmd, 1, MPI_INT, 0, MPI_COMM_WORLD); }

static void release(void) {
    if (world_size == 1 || released) return;
    send_command(CMD_STOP);
    released = 1;
}

// However rank 0 ends (a return from cmd_train, tb_die), the others stop too.
// A step left in the middle (tb_die in a forward or backward) cannot be
// finished from here, as its collectives depend on the model: rank 0 exits
// without MPI_Finalize, and mpirun then stops the job.
static void leader_at_exit(void) {
    if (step_open && !released) {
        fprintf(stderr, "tunebench: rank 0 stopped during a step; mpirun stops the other ranks\n");
        return;
    }
    release();
    MPI_Finalize();
}

int dist_local_rank(int *local_size) {
    MPI_Comm node;
    int rank, local_rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank);
    MPI_Comm_size(node, local_size);
    MPI_Comm_free(&node);
    return local_rank;
}

void dist_share_id(void (*make_id)(void *id), void *id, size_t id_bytes) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) make_id(id);
    MPI_Bcast(id, (int)id_bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
}

int dist_start(void) {
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
#ifdef TB_NCCL
    if (world_size > 1) {
        int local_size, local_rank = dist_local_rank(&local_size);
        if (dist_nccl_pick_gpu(local_rank, local_size)) {
            fprintf(stderr, "tunebench: error: rank %d: %s (CPU ranks: build/tunebench-mpi)\n", world_rank,
                    tb_last_error());
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
#endif
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

// ---------------------------------------------------------------- buckets

// Scales this rank's gradients in [lo, hi) by its share and starts sending
// them to rank 0. On rank 0 the MPI transport's gather lands in host.
static void launch_bucket(Model *m, size_t lo, size_t hi) {
    size_t n = hi - lo;
    m->be->scale(m->params.grads + lo, weight, n);
#ifdef TB_NCCL
    if (use_nccl) {
        dist_nccl_reduce(m, lo, hi);
        return;
    }
#endif
    int k = buckets.launched - 1;
    m->be->to_host(host + lo, m->params.grads + lo, sizeof(float) * n);
    if (world_rank == 0) {
        int *counts = gather_counts + (size_t)k * ranks, *displs = gather_displs + (size_t)k * ranks;
        for (int r = 0; r < ranks; r++) counts[r] = (int)n, displs[r] = (int)((size_t)r * num_params + lo);
        MPI_Igatherv(MPI_IN_PLACE, 0, MPI_FLOAT, host, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD,
                     &requests[k]);
    } else {
        MPI_Igatherv(host + lo, (int)n, MPI_FLOAT, NULL, NULL, NULL, MPI_FLOAT, 0, MPI_COMM_WORLD, &requests[k]);
    }
}

// The model's promise during a backward (model_grads_final).
static void on_grads_final(Model *m, size_t from) {
    size_t lo, hi;
    if (step_open && dist_buckets_final(&buckets, from, &lo, &hi)) launch_bucket(m, lo, hi);
}

// After the backward: the last bucket, then every bucket is complete.
static void finish_buckets(Model *m) {
    size_t lo, hi;
    if (dist_buckets_rest(&buckets, &lo, &hi)) launch_bucket(m, lo, hi);
#ifdef TB_NCCL
    if (use_nccl) {
        dist_nccl_wait();
        return;
    }
#endif
    MPI_Waitall(buckets.launched, requests, MPI_STATUSES_IGNORE);
}

// What both sides allocate once the model exists. 0 or -1 with the error set.
static int prepare(Model *m) {
    model = m;
    num_params = m->params.num_params;
#ifdef TB_NCCL
    use_nccl = !m->be->on_host;
#endif
    if (!use_nccl && (size_t)ranks * num_params > (size_t)INT_MAX)
        return tb_error("%d ranks x %zu parameters do not fit MPI's int counts (2^31): use at most %zu ranks",
                        ranks, num_params, (size_t)INT_MAX / num_params);
    dist_buckets_init(&buckets, num_params);
    if (!use_nccl) {
        host = tb_malloc(sizeof(float) * num_params * (size_t)(world_rank == 0 ? ranks : 1));
        gather_counts = tb_malloc(sizeof(int) * DIST_MAX_BUCKETS * (size_t)ranks);
        gather_displs = tb_malloc(sizeof(int) * DIST_MAX_BUCKETS * (size_t)ranks);
    }
    m->grads_final = on_grads_final;
    return 0;
}

static void free_buffers(void) {
    free(host), free(gather_counts), free(gather_displs);
    free(losses), free(positions), free(weights);
    host = NULL, gather_counts = gather_displs = NULL, losses = NULL, positions = NULL, weights = NULL;
}

// Rank 0's parameters into every rank's.
static void share_params(Model *m) {
#ifdef TB_NCCL
    if (use_nccl) {
        dist_nccl_broadcast_params(m);
        return;
    }
#endif
    if (world_rank == 0) m->be->to_host(host, m->params.values, sizeof(float) * num_params);
    MPI_Bcast(host, (int)num_params, MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (world_rank != 0) m->be->to_device(m->params.values, host, sizeof(float) * num_params);
}

// ---------------------------------------------------------------- ranks 1..N-1

_Noreturn static void follower_fail(const char *what) {
    fprintf(stderr, "tunebench: error: rank %d: %s\n", world_rank, what);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);  // MPI_Abort does not return; the compiler cannot know
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
        m->vt->alloc_activations(m, s.rows, s.seq_len))
        follower_fail(tb_last_error());
    if ((long long)m->params.num_params != s.num_params) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s has %zu parameters here and %lld on rank 0", s.model, m->params.num_params,
                 s.num_params);
        follower_fail(msg);
    }
    ranks = world_size;
    if (prepare(m)) follower_fail(tb_last_error());
#ifdef TB_NCCL
    if (use_nccl && dist_nccl_connect(world_rank, world_size)) follower_fail(tb_last_error());
#endif
    size_t BT = (size_t)s.rows * s.seq_len;
    int32_t *inputs = tb_malloc(sizeof(int32_t) * BT), *targets = tb_malloc(sizeof(int32_t) * BT);
    for (;;) {
        MPI_Bcast(&cmd, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (cmd != CMD_STEP) break;
        share_params(m);
        MPI_Scatter(NULL, (int)BT, MPI_INT32_T, inputs, (int)BT, MPI_INT32_T, 0, MPI_COMM_WORLD);
        MPI_Scatter(NULL, (int)BT, MPI_INT32_T, targets, (int)BT, MPI_INT32_T, 0, MPI_COMM_WORLD);
        MPI_Scatter(NULL, 1, MPI_FLOAT, &weight, 1, MPI_FLOAT, 0, MPI_COMM_WORLD);
        m->vt->forward(m, inputs, targets, s.rows, s.seq_len);
        model_zero_grad(m);
        dist_buckets_begin(&buckets);
        step_open = 1;
        m->vt->backward(m);
        finish_buckets(m);
        step_open = 0;
        float loss = m->acts->loss;
        MPI_Gather(&loss, 1, MPI_FLOAT, NULL, 1, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
#ifdef TB_NCCL
    if (use_nccl) dist_nccl_close();
#endif
    free(inputs), free(targets);
    free_buffers();
    model_destroy(m);
    MPI_Finalize();
    return 0;
}

// ---------------------------------------------------------------- rank 0

int dist_setup(Model *m, const char *model_name, const char *backend, int batch_size, int seq_len_,
               int threads, int want) {
    if (want != world_size) {
        release();
        if (world_size == 1)
            return tb_error("ranks %d: this process is not one of %d MPI ranks; launch it with: mpirun -np %d "
                            DIST_BINARY " train ... --ranks %d", want, want, want, want);
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
    ranks = world_size;
    if (prepare(m)) {
        release();
        ranks = 1;
        m->grads_final = NULL;
        return -1;
    }
    Setup s;
    memset(&s, 0, sizeof s);
    snprintf(s.model, sizeof s.model, "%s", model_name);
    snprintf(s.backend, sizeof s.backend, "%s", backend);
    s.vocab_size = m->spec.vocab_size;
    s.rows = batch_size / world_size;
    s.seq_len = seq_len_;
    s.threads = threads;
    s.num_params = (long long)m->params.num_params;
    send_command(CMD_SETUP);
    MPI_Bcast(&s, sizeof s, MPI_BYTE, 0, MPI_COMM_WORLD);
#ifdef TB_NCCL
    if (use_nccl && dist_nccl_connect(0, world_size)) {
        fprintf(stderr, "tunebench: error: %s\n", tb_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
#endif
    rows = s.rows, seq_len = seq_len_;
    losses = tb_malloc(sizeof(float) * (size_t)ranks);
    positions = tb_malloc(sizeof(long long) * (size_t)ranks);
    weights = tb_malloc(sizeof(float) * (size_t)ranks);
    return 0;
}

int dist_local_rows(int batch_size) { return batch_size / ranks; }

void dist_scatter_batch(Model *m, const int32_t *inputs, const int32_t *targets) {
    if (ranks == 1) return;
    size_t BT = (size_t)rows * seq_len;
    send_command(CMD_STEP);
    share_params(m);
    MPI_Scatter(inputs, (int)BT, MPI_INT32_T, MPI_IN_PLACE, (int)BT, MPI_INT32_T, 0, MPI_COMM_WORLD);
    MPI_Scatter(targets, (int)BT, MPI_INT32_T, MPI_IN_PLACE, (int)BT, MPI_INT32_T, 0, MPI_COMM_WORLD);
    // Each rank's loss is a mean over its predicted positions (targets >= 0):
    // its share of the global mean is its share of those positions.
    long long total = 0;
    for (int r = 0; r < ranks; r++) {
        positions[r] = 0;
        for (size_t i = (size_t)r * BT; i < (size_t)(r + 1) * BT; i++) positions[r] += targets[i] >= 0;
        total += positions[r];
    }
    for (int r = 0; r < ranks; r++) weights[r] = total ? (float)((double)positions[r] / (double)total) : 0.0f;
    MPI_Scatter(weights, 1, MPI_FLOAT, MPI_IN_PLACE, 1, MPI_FLOAT, 0, MPI_COMM_WORLD);
    weight = weights[0];
    dist_buckets_begin(&buckets);
    step_open = 1;
}

void dist_reduce_grads(Model *m, float *loss) {
    if (ranks == 1) return;
    finish_buckets(m);
    losses[0] = *loss;
    MPI_Gather(MPI_IN_PLACE, 1, MPI_FLOAT, losses, 1, MPI_FLOAT, 0, MPI_COMM_WORLD);
    step_open = 0;
    double mean = 0;
    for (int r = 0; r < ranks; r++) mean += (double)weights[r] * losses[r];
    *loss = (float)mean;
    if (use_nccl) return;  // the reduce summed into m->params.grads
    // The scaled rows, added in rank order (each element on its own, so any
    // thread count gives the same bits).
    const size_t P = num_params;
    const int R = ranks;
    float *g = host;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < P; i++) {
        float acc = g[i];
        for (int r = 1; r < R; r++) acc += g[(size_t)r * P + i];
        g[i] = acc;
    }
    m->be->to_device(m->params.grads, host, sizeof(float) * P);
}

void dist_describe(cJSON *env) {
    if (ranks == 1) return;
    cJSON *dp = cJSON_AddObjectToObject(env, "data_parallel");
    cJSON_AddNumberToObject(dp, "ranks", ranks);
    cJSON_AddStringToObject(dp, "transport", use_nccl ? "nccl" : "mpi");
    cJSON_AddNumberToObject(dp, "bucket_floats", (double)buckets.min_floats);
    char version[32] = "";
#ifdef TB_NCCL
    if (use_nccl) dist_nccl_version(version, sizeof version);
#endif
    cJSON_AddItemToObject(dp, "nccl_version", version[0] ? cJSON_CreateString(version) : cJSON_CreateNull());
}

void dist_end(Model *m) {
    if (world_size == 1 || released) return;
    if (step_open && m && m == model) {
        // The forward's loss was not finite and rank 0 stopped there: the
        // others are in their backward, sending buckets. The same backward
        // here makes the same buckets; its result is not used.
        float loss = 0;
        model_zero_grad(m);
        m->vt->backward(m);
        dist_reduce_grads(m, &loss);
    }
    release();
    if (model) {
#ifdef TB_NCCL
        if (use_nccl) dist_nccl_close();
#endif
        model->grads_final = NULL;
        model = NULL;
        free_buffers();
    }
}

#endif
