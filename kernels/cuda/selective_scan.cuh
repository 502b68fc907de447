// selective_scan.cuh: the thread layout and the helpers that the selective
// scan's forward (selective_scan_forward.cu) and backward
// (selective_scan_backward.cu) share.
//
// The recurrence, for one (batch b, channel d, state n):
//   h_t = a_t h_{t-1} + delta_t B_t[n] u_t,   a_t = exp(delta_t A[n])
//   y_t = sum_n C_t[n] h_t[n] + D u_t,        out_t = y_t silu(z_t)
//
// ---------------------------------------------------------------- design
// Parallel over (b, d, n), serial over time. A thread owns NS = 4 consecutive
// states n of one channel d of one batch row and walks the sequence from the
// first step to the last (the backward: from the last to the first). The
// (b, d, n) recurrences are independent, so this is the whole parallelism of
// the problem without any scan over time: B x D x N / 4 threads (32,768 for
// mamba-6m at batch 16; 81,920 for mamba-60m). The serial chain per thread is
// T fused multiply-adds (h = a h + bx), about 1,000 cycles for T = 256: not the
// limit. The alternative, threads over time with a block scan of affine maps
// (mamba_ssm's design), needs a block-wide scan per state per
// chunk and, in the backward, a second scan for the adjoint; it only pays when
// B x D x N is too small to fill the GPU, which is not the case for training.
//
// Why 4 states per thread and not 1 (one thread per (d, n)): the per-step sums
// over n (y in the forward; sum g B, sum g h a A and y in the backward) are
// 3 in-thread adds and log2(N/4) shuffles instead of log2(N) shuffles, and
// each thread has 4 independent recurrences in flight (instruction-level
// parallelism), at 4x fewer threads, which is still several warps per
// scheduler for these shapes.
//
// Block layout. LPC = lanes per channel = the next power of two >= N/4 (1, 2,
// 4, 8, 16 for N up to 4, 8, 16, 32, 64). Lane `slice` of a channel owns states
// slice*4 .. slice*4+3; states >= N are inert (A = 0, B = C = 0, so h = 0).
// A block is CH channels x LPC lanes: 32 channels for N <= 16 (32, 64 or 128
// threads), 128/LPC channels for N = 32 and 64 (128 threads). The channels of
// a warp are consecutive, so are the lanes of a channel: reductions over n are
// xor shuffles over the low lane bits, reductions over channels over the high
// bits. Channels past `dim` are inert (u = delta = dy = 0).
//
// Memory. The sequence is cut into tiles of TT = 16 steps (never across a
// chunk boundary). Per tile the block copies delta_raw, u, z (and, in the
// backward, dout) for its channels, and B_t, C_t, into shared memory with
// cp.async, in the "row" mapping: thread i copies channel i % CH of step i /
// CH (+ LPC per round), so a warp reads whole runs of consecutive channels of
// one (b, t) row: coalesced, every 32-byte sector fully used. Each thread then
// turns its own rows into delta = softplus(delta_raw + bias) (and dy = dout
// silu(z)). The tiles sit in a ring of two: the next tile's copies are issued
// once the block has started on this one and land while it walks, so the
// loads' latency hides behind the walk instead of stalling between tiles. The
// per-step results go back through shared memory and are written with the
// same row mapping (out; du, ddelta_raw, dz). The forward saves the state
// entering each tile (see "saved states" below); the backward restarts every
// tile from it, so it walks each step's forward once.
//
// Determinism. Every sum has a fixed shape: xor butterflies (a + b == b + a, so
// both partners of an exchange hold the same bits), in-thread sums in index
// order, and sums over warps, slots, channel tiles and batch rows in index
// order. No atomics. See selective_scan_backward.cu for the dB/dC and
// parameter-gradient reductions.
//
// ---------------------------------------------------------------- estimate
// An estimate from the hardware's figures, not a measurement: an H200 (132 SMs,
// 1.98 GHz, 4.8 TB/s) per layer at batch 16 x 256, N = 16, D = 512 (mamba-6m;
// mamba-60m's D = 1280 scales everything by 2.5).
// - Bytes: each (B, T, D) tensor is 8.4 MB. The forward reads u, delta_raw, z
//   and writes out and the saved states (chunk and tile states: 8.4 MB):
//   ~42 MB, 9 us. The backward reads u, delta_raw, z, dout and the saved
//   states, writes du, ddelta_raw, dz, and writes then reads the dB/dC
//   partials (one per 32-channel tile: 8.4 MB): ~84 MB, 18 us.
// - Instructions (sm_90 SASS, N = 16, counted by scripts/sass_count.sh: the
//   tile loop's instructions over its 16 steps): the forward issues ~67 per
//   thread per step, the backward ~172 (the forward walk once, the adjoint
//   with 7 shuffles a step for dB/dC, staging, the epilogue and the dB/dC
//   partials). With B x T x D x 4 lanes = 8.4 M thread-steps, that is 17.5 M
//   and 45 M warp instructions, over 528 schedulers at 1.98 GHz: 17 us
//   forward and 43 us backward at one instruction per scheduler per cycle.
//   So the scan is issue-bound, not memory-bound; allowing for stalls (2-4
//   warps per scheduler; the next tile's copies are in flight during the
//   walk), expect ~25 + ~65 us per mamba-6m layer, ~1.2 ms per training step
//   for 13 layers, and ~5 ms for mamba-60m's 23 layers. MUFU (exp2, 2 per
//   state-step in the backward) and shuffles stay under half of their
//   throughput.
// - Serial chain: T = 256 dependent steps per thread, one FMA each (the exp2
//   that feeds it does not depend on h), ~1-2 us: hidden by the other warps.
#ifndef TB_SELECTIVE_SCAN_CUH
#define TB_SELECTIVE_SCAN_CUH

#include <float.h>

#include "backend_cuda.h"
#include "ops_cuda.cuh"

#ifdef __CUDACC__
#include <cuda_pipeline_primitives.h>  // cp.async (the emulation has its own)
#define SCAN_UNROLL _Pragma("unroll")
#else
#define SCAN_UNROLL
#endif

enum {
    SCAN_NS = 4,            // states per thread
    SCAN_TT = 16,           // time steps per tile
    SCAN_MAX_DSTATE = SELECTIVE_SCAN_MAX_DSTATE_CUDA,  // (ops_cuda.cuh) LPC = 16 lanes x 4 states
};
static_assert(SCAN_MAX_DSTATE == 16 * SCAN_NS, "the scan's largest layout is 16 lanes per channel");
static constexpr float SCAN_LOG2E = 1.4426950408889634f;

// The decay a = 2^x = exp(delta A), x <= 0. exp2f is a MUFU.EX2 plus a
// fix-up that keeps results below 2^-126 as denormals (3 more instructions);
// ex2.approx.ftz flushes them to zero instead. A decay that small scales h
// by less than 1.2e-38, so the flush moves h by less than 1.2e-38 |h|:
// nothing the CPU reference (which keeps denormals) can tell apart at the
// tests' tolerances. The emulation flushes the same results.
#ifdef __CUDACC__
static __device__ __forceinline__ float scan_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
#else
static inline float scan_exp2(float x) {
    const float y = exp2f(x);
    return y < FLT_MIN ? 0.0f : y;
}
#endif

// Lanes per channel for a state size (1..SCAN_MAX_DSTATE).
static inline int scan_lanes_per_channel(int dstate) {
    int need = (dstate + SCAN_NS - 1) / SCAN_NS, lanes = 1;
    while (lanes < need) lanes *= 2;
    return lanes;
}

template <int LPC>
struct ScanLayout {
    static constexpr int NS = SCAN_NS;
    static constexpr int CH = LPC <= 4 ? 32 : 128 / LPC;  // channels per block
    static constexpr int THREADS = CH * LPC;
    static constexpr int WARPS = THREADS / 32;
    static constexpr int NPAD = LPC * NS;  // states covered, >= dstate
    // The row loops run SCAN_TT / LPC rounds, B and C's SCAN_TT NPAD / THREADS.
    static_assert(THREADS % 32 == 0 && SCAN_TT % LPC == 0 && SCAN_TT * NPAD % THREADS == 0, "scan layout");
};

// Channels per block for a state size (host side, for grids and scratch).
static inline int scan_block_channels(int dstate) {
    switch (scan_lanes_per_channel(dstate)) {
        case 1: return ScanLayout<1>::CH;
        case 2: return ScanLayout<2>::CH;
        case 4: return ScanLayout<4>::CH;
        case 8: return ScanLayout<8>::CH;
        default: return ScanLayout<16>::CH;
    }
}

static inline void scan_check_shapes(const SelectiveScanParams *p) {
    if (p->dstate < 1 || p->dstate > SCAN_MAX_DSTATE)
        tb_die("selective scan (cuda): d_state %d is outside 1..%d that the kernel supports "
               "(set a smaller d_state in the model config)",
               p->dstate, SCAN_MAX_DSTATE);
    if (p->chunk < 1)
        tb_die("selective scan (cuda): chunk %d must be at least 1 (set scan_chunk in the model "
               "config)", p->chunk);
}

// ---------------------------------------------------------------- butterflies
// Sums K values (a power of two) per lane over the lanes that differ in the
// lane-index bits HI, HI/2, ..., LO (powers of two, LO >= 1; no bits if HI <
// LO). While a lane holds more than one value, each exchange halves what it
// keeps: the lane with the bit set keeps the upper half and receives its
// partner's upper half, the other keeps the lower half; afterwards each bit is
// a plain xor sum of the one value left. So K values over 2^k lanes cost
// K/2 + K/4 + ... shuffles, not K k.
static constexpr int butterfly_halvings(int k, int o, int lo) {
    return o < lo || k == 1 ? 0 : 1 + butterfly_halvings(k / 2, o / 2, lo);
}
static constexpr int butterfly_plain_mask(int k, int o, int lo) {
    return o < lo ? 0 : (k == 1 ? o : 0) | butterfly_plain_mask(k > 1 ? k / 2 : 1, o / 2, lo);
}

template <int K, int HI, int LO>
struct Butterfly {
    static_assert(K >= 1 && (K & (K - 1)) == 0 && LO >= 1, "butterfly: K a power of two, LO >= 1");
    static constexpr int KEPT = K >> butterfly_halvings(K, HI, LO);  // values per lane afterwards
    // Lane bits of the plain (non-halving) exchanges: a result is held by
    // every lane that differs only in these bits.
    static constexpr int PLAIN = butterfly_plain_mask(K, HI, LO);

    static __device__ __forceinline__ void sum(float (&v)[K]) { stages<K, HI>(v); }
    // One exchange per call, recursing on (values held, lane bit), so every
    // index is a compile-time constant and v stays in registers.
    template <int k, int o>
    static __device__ __forceinline__ void stages(float (&v)[K]) {
        if constexpr (o >= LO) {
            if constexpr (k > 1) {
                constexpr int h = k / 2;
                const int upper = (threadIdx.x & o) != 0;
                SCAN_UNROLL
                for (int i = 0; i < h; i++) {
                    float send = upper ? v[i] : v[i + h];
                    float keep = upper ? v[i + h] : v[i];
                    v[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
                }
                stages<h, o / 2>(v);
            } else {
                v[0] += __shfl_xor_sync(0xffffffffu, v[0], o);
                stages<1, o / 2>(v);
            }
        }
    }
    // Value j of this lane after sum() is the sum of input value base() + j.
    static __device__ __forceinline__ int base() {
        const int lane = threadIdx.x % 32;
        int k = K, first = 0;
        for (int o = HI; o >= LO && k > 1; o /= 2) {
            k /= 2;
            if (lane & o) first += k;
        }
        return first;
    }
    // Whether this lane is the one (of those holding the same sums) that
    // writes them.
    static __device__ __forceinline__ int owner() { return (threadIdx.x % 32 & PLAIN) == 0; }
};

// ---------------------------------------------------------------- coordinates
// A thread's two roles: in the walk it owns states slice*NS.. of channel c; in
// loads and stores ("rows") it handles channel cr at steps slot, slot + LPC, ...
template <int LPC>
struct ScanThread {
    typedef ScanLayout<LPC> L;
    int b, d0, c, slice, d, dvalid, cr, slot, dr, rvalid;
    __device__ ScanThread(const SelectiveScanParams &p) {
        const int tid = threadIdx.x;
        b = blockIdx.y, d0 = blockIdx.x * L::CH;
        c = tid / LPC, slice = tid % LPC, d = d0 + c, dvalid = d < p.dim;
        cr = tid % L::CH, slot = tid / L::CH, dr = d0 + cr, rvalid = dr < p.dim;
    }
    // State index of value j of this thread (may be >= dstate: inert).
    __device__ int state(int j) const { return slice * L::NS + j; }
    __device__ int owns(int j, int N) const { return dvalid && state(j) < N; }
};

// A = -exp(A_log) for the thread's states, and A log2(e) for exp2f (0 for
// inert states, so that a = 1 and h stays 0).
template <int LPC>
static __device__ void scan_load_A(const SelectiveScanParams &p, const ScanThread<LPC> &k,
                                   float (&A)[SCAN_NS], float (&A2)[SCAN_NS]) {
    for (int j = 0; j < SCAN_NS; j++) {
        A[j] = k.owns(j, p.dstate) ? -expf(p.A_log[(size_t)k.d * p.dstate + k.state(j)]) : 0.0f;
        A2[j] = A[j] * SCAN_LOG2E;
    }
}

// ---------------------------------------------------------------- saved states
// The forward saves the state entering every tile, so that the backward walks
// each tile's forward once, from its own start. p.chunk_states holds the
// chunk states (batch, nchunks, dim, dstate), as on the CPU, then the state
// entering every tile but a chunk's first: (batch, channel tiles, nchunks,
// tiles per chunk - 1, NS, THREADS), each thread's NS values a block's threads
// apart, so that a warp's stores and loads are contiguous.
static __host__ __device__ inline int scan_tiles_per_chunk(int seqlen, int chunk) {
    return ceil_div(chunk < seqlen ? chunk : seqlen, SCAN_TT);
}
static __host__ __device__ inline size_t scan_chunk_state_floats(const SelectiveScanParams &p) {
    return (size_t)p.batch * ceil_div(p.seqlen, p.chunk) * p.dim * p.dstate;
}

// Where this thread's saved states live, worked out once per thread (the
// tile loop then only adds offsets: no division in it).
template <int LPC>
struct ScanSaved {
    float *chunks;  // the state of (b, d) entering chunk 0; chunk c is chunk_stride further
    float *tiles;   // this thread's state entering tile 1 of chunk 0, value j at [j * THREADS]
    size_t chunk_stride;
    int tiles_per_chunk;
    __device__ ScanSaved(const SelectiveScanParams &p, const ScanThread<LPC> &k, int nchunks) {
        tiles_per_chunk = scan_tiles_per_chunk(p.seqlen, p.chunk);
        chunk_stride = (size_t)p.dim * p.dstate;
        chunks = p.chunk_states + ((size_t)k.b * nchunks * p.dim + k.d) * p.dstate;
        tiles = p.chunk_states + scan_chunk_state_floats(p) +
                ((size_t)k.b * gridDim.x + blockIdx.x) * nchunks * (tiles_per_chunk - 1) * SCAN_NS *
                    ScanLayout<LPC>::THREADS +
                threadIdx.x;
    }
    __device__ float *chunk(int c) const { return chunks + c * chunk_stride; }
    __device__ float *tile(int c, int index) const {  // index >= 1
        return tiles + ((size_t)c * (tiles_per_chunk - 1) + index - 1) * SCAN_NS * ScanLayout<LPC>::THREADS;
    }
    // Saves or loads h, the state entering tile `index` of chunk c.
    __device__ void save(const ScanThread<LPC> &k, int N, int c, int index, const float (&h)[SCAN_NS]) const {
        if (index > 0) {
            float *dst = tile(c, index);
            for (int j = 0; j < SCAN_NS; j++) dst[j * ScanLayout<LPC>::THREADS] = h[j];
        } else {
            float *dst = chunk(c);
            for (int j = 0; j < SCAN_NS; j++)
                if (k.owns(j, N)) dst[k.state(j)] = h[j];
        }
    }
    __device__ void load(const ScanThread<LPC> &k, int N, int c, int index, float (&h)[SCAN_NS]) const {
        if (index > 0) {
            const float *src = tile(c, index);
            for (int j = 0; j < SCAN_NS; j++) h[j] = src[j * ScanLayout<LPC>::THREADS];
        } else {
            const float *src = chunk(c);
            for (int j = 0; j < SCAN_NS; j++) h[j] = k.owns(j, N) ? src[k.state(j)] : 0.0f;
        }
    }
};

// The gates' sigmoid with a fast divide (one MUFU.RCP instead of an IEEE
// division and its slow path): 2 ulp, and the denominator 1 + e^-x >= 1 is
// inside __fdividef's range up to e^-x = 2^126, past which it gives 0, the
// limit anyway.
static __device__ __forceinline__ float scan_sigmoid(float x) { return __fdividef(1.0f, 1.0f + expf(-x)); }

// ---------------------------------------------------------------- staging
// A tile's inputs in shared memory, as the block copies them (row mapping)
// and as the walk reads them. The forward's: delta_raw as copied (raw), delta
// = softplus(raw + bias), u, z, B_t and C_t. The kernels keep two in a ring
// (where shared memory allows) and copy the next tile in with cp.async while
// they walk this one.
template <int LPC>
struct ScanForwardTile {
    typedef ScanLayout<LPC> L;
    static constexpr bool BACKWARD = false;
    float raw[SCAN_TT][L::CH], delta[SCAN_TT][L::CH], u[SCAN_TT][L::CH], z[SCAN_TT][L::CH];
    float B[SCAN_TT][L::NPAD], C[SCAN_TT][L::NPAD];
};
// The backward's adds dout as copied and dy = dout silu(z).
template <int LPC>
struct ScanBackwardTile {
    typedef ScanLayout<LPC> L;
    static constexpr bool BACKWARD = true;
    float raw[SCAN_TT][L::CH], delta[SCAN_TT][L::CH], u[SCAN_TT][L::CH], z[SCAN_TT][L::CH];
    float dout[SCAN_TT][L::CH], dy[SCAN_TT][L::CH];
    float B[SCAN_TT][L::NPAD], C[SCAN_TT][L::NPAD];
};

static __device__ __forceinline__ void scan_copy(float *dst_shared, const float *src) {
    __pipeline_memcpy_async(dst_shared, src, sizeof(float));
}

// Issues the copies of one tile of tlen steps from row row0 = b * seqlen + t
// into st, as one commit group, and zeros u, B and C past tlen and u past
// dim (with the zero delta of scan_finish_tile, identity steps: a = 1,
// nothing added). Nobody may still read st: the caller's barrier sees to it.
// Every copy is 4 bytes: rows and views have any alignment.
template <int LPC, class Tile>
static __device__ void scan_issue_tile(const SelectiveScanParams &p, const ScanThread<LPC> &k, size_t row0,
                                       int tlen, Tile &st) {
    typedef ScanLayout<LPC> L;
    SCAN_UNROLL
    for (int round = 0; round < SCAN_TT / LPC; round++) {
        const int s = k.slot + round * LPC;
        if (s < tlen && k.rvalid) {
            const size_t r = row0 + s;
            scan_copy(&st.raw[s][k.cr], &p.delta_raw[r * p.delta_stride + k.dr]);
            scan_copy(&st.u[s][k.cr], &p.u[r * p.u_stride + k.dr]);
            scan_copy(&st.z[s][k.cr], &p.z[r * p.z_stride + k.dr]);
            if constexpr (Tile::BACKWARD) scan_copy(&st.dout[s][k.cr], &p.dout[r * p.dout_stride + k.dr]);
        } else {
            st.u[s][k.cr] = 0.0f;
        }
    }
    SCAN_UNROLL
    for (int round = 0; round < SCAN_TT * L::NPAD / L::THREADS; round++) {
        const int i = threadIdx.x + round * L::THREADS, s = i / L::NPAD, n = i % L::NPAD;
        if (s < tlen && n < p.dstate) {
            const size_t r = row0 + s;
            scan_copy(&st.B[s][n], &p.Bmat[r * p.B_stride + n]);
            scan_copy(&st.C[s][n], &p.Cmat[r * p.C_stride + n]);
        } else {
            st.B[s][n] = st.C[s][n] = 0.0f;
        }
    }
    __pipeline_commit();
}

// After the wait for st's group: this thread's own rows of st (the ones it
// copied, so no barrier is needed before) get delta (and, in the backward,
// dy); zero past tlen and dim. The caller's barrier then publishes them.
template <int LPC, class Tile>
static __device__ __forceinline__ void scan_finish_tile(const ScanThread<LPC> &k, int tlen, float bias, Tile &st) {
    SCAN_UNROLL
    for (int round = 0; round < SCAN_TT / LPC; round++) {
        const int s = k.slot + round * LPC;
        const int valid = s < tlen && k.rvalid;
        st.delta[s][k.cr] = valid ? softplusf_(st.raw[s][k.cr] + bias) : 0.0f;
        if constexpr (Tile::BACKWARD) {
            const float z = st.z[s][k.cr];
            st.dy[s][k.cr] = valid ? st.dout[s][k.cr] * z * scan_sigmoid(z) : 0.0f;
        }
    }
}

// The order in which the kernels visit tiles: a tile starts at a chunk's
// start or TT steps after the previous tile, and never crosses a chunk's end.
// A tile: its first step t, its length, its chunk and its index there.
struct ScanTile {
    int t, len, chunk, index;
};
static __device__ __forceinline__ ScanTile scan_first_tile(const SelectiveScanParams &p) {
    return ScanTile{0, min(SCAN_TT, min(p.chunk, p.seqlen)), 0, 0};
}
static __device__ __forceinline__ ScanTile scan_next_tile(const SelectiveScanParams &p, ScanTile x) {
    const int t = x.t + x.len, chunk_end = min((x.chunk + 1) * p.chunk, p.seqlen);
    ScanTile n = t < chunk_end ? ScanTile{t, 0, x.chunk, x.index + 1} : ScanTile{t, 0, x.chunk + 1, 0};
    n.len = min(SCAN_TT, min((n.chunk + 1) * p.chunk, p.seqlen) - t);
    return n;
}
// The last tile of chunk c (chunk < 0: none, the walk back is over).
static __device__ __forceinline__ ScanTile scan_last_tile_of(const SelectiveScanParams &p, int c) {
    const int c0 = c * p.chunk, end = min(c0 + p.chunk, p.seqlen), index = (end - 1 - c0) / SCAN_TT;
    return ScanTile{c0 + index * SCAN_TT, end - c0 - index * SCAN_TT, c, index};
}
static __device__ __forceinline__ ScanTile scan_prev_tile(const SelectiveScanParams &p, ScanTile x) {
    if (x.index > 0) return ScanTile{x.t - SCAN_TT, SCAN_TT, x.chunk, x.index - 1};
    return scan_last_tile_of(p, x.chunk - 1);
}

// The forward recurrence over one staged tile, h updated in place; if
// h_before is given, the state entering each step is kept there.
template <int LPC, class Tile>
static __device__ __forceinline__ void scan_walk_tile(const ScanThread<LPC> &k, const float (&A2)[SCAN_NS],
                                                      float (&h)[SCAN_NS], const Tile &st,
                                                      float (*h_before)[SCAN_NS]) {
    SCAN_UNROLL
    for (int s = 0; s < SCAN_TT; s++) {
        float delta = st.delta[s][k.c], du = delta * st.u[s][k.c];
        SCAN_UNROLL
        for (int j = 0; j < SCAN_NS; j++) {
            if (h_before) h_before[s][j] = h[j];
            h[j] = scan_exp2(delta * A2[j]) * h[j] + du * st.B[s][k.state(j)];
        }
    }
}

#endif
