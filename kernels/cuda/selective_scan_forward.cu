// selective_scan_forward.cu: Mamba's selective scan, forward (the design and
// the cost estimate are in selective_scan.cuh).
//
// Grid (ceil(dim / CH), batch); a block walks the whole sequence of its CH
// channels, tile by tile, from zeros or p.initial_state, and writes the state
// entering each chunk and each tile (chunk_states, from which the backward
// restarts every tile) and, if asked, the final state. Per tile: stage delta,
// u, B, C (coalesced); walk the TT steps, each thread summing C h over its 4
// states into a per-step partial; sum the partials over the channel's lanes
// (one butterfly for the whole tile: each lane ends with TT / LPC steps);
// write out = (y + D u) silu(z), coalesced.
#include "selective_scan.cuh"

// At most 96 registers (5 blocks of 128 threads per SM): mamba-60m's 640
// blocks at batch 16 then run in one wave on 132 SMs; left alone, nvcc takes
// 168 for the unrolled walk and fits only 3 blocks per SM.
template <int LPC>
__global__ void __launch_bounds__(ScanLayout<LPC>::THREADS, 5 * 128 / ScanLayout<LPC>::THREADS)
    selective_scan_forward_kernel(SelectiveScanParams p) {
    typedef ScanLayout<LPC> L;
    typedef Butterfly<SCAN_TT, LPC / 2, 1> OverStates;  // y over the lanes of a channel
    SHARED(float, s_delta, [SCAN_TT][L::CH]);
    SHARED(float, s_u, [SCAN_TT][L::CH]);
    SHARED(float, s_B, [SCAN_TT][L::NPAD]);
    SHARED(float, s_C, [SCAN_TT][L::NPAD]);
    SHARED(float, s_y, [SCAN_TT][L::CH + 1]);  // + 1: lanes of a channel write rows TT/LPC apart
    SHARED_BYTES_CHECK("selective_scan_forward",
                       sizeof s_delta + sizeof s_u + sizeof s_B + sizeof s_C + sizeof s_y);
    const ScanThread<LPC> k(p);
    const int N = p.dstate, nchunks = ceil_div(p.seqlen, p.chunk);
    float A[SCAN_NS], A2[SCAN_NS], h[SCAN_NS];
    scan_load_A(p, k, A, A2);
    // The state before the first step: zeros, or initial_state to continue a
    // sequence (may alias final_state: this thread reads its states here and
    // writes the same ones at the end).
    const float *init = p.initial_state ? p.initial_state + ((size_t)k.b * p.dim + k.d) * N : NULL;
    for (int j = 0; j < SCAN_NS; j++) h[j] = init && k.owns(j, N) ? init[k.state(j)] : 0.0f;
    const float bias = k.rvalid ? p.delta_bias[k.dr] : 0.0f, Dskip = k.rvalid ? p.D[k.dr] : 0.0f;

    for (int chunk = 0; chunk < nchunks; chunk++) {
        const int t0 = chunk * p.chunk, len = min(p.chunk, p.seqlen - t0);
        float *state = p.chunk_states + (((size_t)k.b * nchunks + chunk) * p.dim + k.d) * N;
        for (int j = 0; j < SCAN_NS; j++)
            if (k.owns(j, N)) state[k.state(j)] = h[j];
        for (int tile = 0; tile < len; tile += SCAN_TT) {
            const int tlen = min(SCAN_TT, len - tile);
            if (tile > 0) {
                float *saved = scan_tile_state(p, k, chunk, tile / SCAN_TT);
                for (int j = 0; j < SCAN_NS; j++) saved[j * L::THREADS] = h[j];
            }
            const size_t row0 = (size_t)k.b * p.seqlen + t0 + tile;
            // The staging below overwrites only what this thread's own
            // epilogue read (same row mapping), but the barrier keeps the
            // tile's phases apart should the mappings ever differ.
            __syncthreads();
            scan_stage_tile<LPC>(p, k, bias, row0, tlen, s_delta, s_u, NULL, s_B, s_C);
            __syncthreads();
            float y[SCAN_TT];
            SCAN_UNROLL
            for (int s = 0; s < SCAN_TT; s++) {
                float delta = s_delta[s][k.c], du = delta * s_u[s][k.c], acc = 0.0f;
                SCAN_UNROLL
                for (int j = 0; j < SCAN_NS; j++) {
                    h[j] = exp2f(delta * A2[j]) * h[j] + du * s_B[s][k.state(j)];
                    acc += s_C[s][k.state(j)] * h[j];
                }
                y[s] = acc;
            }
            OverStates::sum(y);
            const int first = OverStates::base();
            SCAN_UNROLL
            for (int j = 0; j < OverStates::KEPT; j++) s_y[first + j][k.c] = y[j];
            __syncthreads();
            for (int s = k.slot; s < tlen; s += LPC) {
                if (!k.rvalid) break;
                size_t r = row0 + s;
                float z = p.z[r * p.z_stride + k.dr];
                float yv = s_y[s][k.cr] + Dskip * s_u[s][k.cr];
                p.out[r * p.out_stride + k.dr] = yv * z * sigmoidf_(z);
            }
        }
    }
    if (p.final_state) {
        float *fin = p.final_state + ((size_t)k.b * p.dim + k.d) * N;
        for (int j = 0; j < SCAN_NS; j++)
            if (k.owns(j, N)) fin[k.state(j)] = h[j];
    }
    (void)A;
}

size_t selective_scan_saved_floats_cuda(const SelectiveScanParams *p) {
    scan_check_shapes(p);
    const int tpc = scan_tiles_per_chunk(p->seqlen, p->chunk);
    if (tpc < 1) return 0;  // an empty sequence
    const size_t tiles = (size_t)p->batch * ceil_div(p->dim, scan_block_channels(p->dstate)) *
                         ceil_div(p->seqlen, p->chunk) * (tpc - 1);
    return scan_chunk_state_floats(*p) +
           tiles * SCAN_NS * scan_block_channels(p->dstate) * scan_lanes_per_channel(p->dstate);
}

void selective_scan_forward_cuda(const SelectiveScanParams *p) {
    scan_check_shapes(p);
    if (p->batch == 0 || p->seqlen == 0 || p->dim == 0) return;
    dim3 grid(ceil_div(p->dim, scan_block_channels(p->dstate)), p->batch);
    switch (scan_lanes_per_channel(p->dstate)) {
        case 1: LAUNCH(selective_scan_forward_kernel<1>, grid, ScanLayout<1>::THREADS, 0)(*p); break;
        case 2: LAUNCH(selective_scan_forward_kernel<2>, grid, ScanLayout<2>::THREADS, 0)(*p); break;
        case 4: LAUNCH(selective_scan_forward_kernel<4>, grid, ScanLayout<4>::THREADS, 0)(*p); break;
        case 8: LAUNCH(selective_scan_forward_kernel<8>, grid, ScanLayout<8>::THREADS, 0)(*p); break;
        default: LAUNCH(selective_scan_forward_kernel<16>, grid, ScanLayout<16>::THREADS, 0)(*p); break;
    }
    LAUNCH_CHECK();
}
