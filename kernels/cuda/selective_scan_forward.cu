// selective_scan_forward.cu: Mamba's selective scan, forward (the design and
// the cost estimate are in selective_scan.cuh).
//
// Grid (ceil(dim / CH), batch); a block walks the whole sequence of its CH
// channels, tile by tile, from zeros or p.initial_state, and writes the state
// entering each chunk and each tile (chunk_states, from which the backward
// restarts every tile) and, if asked, the final state. Per tile: wait for its
// copies (cp.async, issued during the previous tile) and finish delta; issue
// the next tile's copies; walk the TT steps, each thread summing C h over its
// 4 states into a per-step partial; sum the partials over the channel's lanes
// (one butterfly for the whole tile: each lane ends with TT / LPC steps);
// write out = (y + D u) silu(z), coalesced. Two barriers per tile.
#include "selective_scan.cuh"

// At most 96 registers (5 blocks of 128 threads per SM): mamba-60m's 640
// blocks at batch 16 then run in one wave on 132 SMs; left alone, nvcc takes
// 168 for the unrolled walk and fits only 3 blocks per SM.
template <int LPC>
__global__ void __launch_bounds__(ScanLayout<LPC>::THREADS, 5 * 128 / ScanLayout<LPC>::THREADS)
    selective_scan_forward_kernel(SelectiveScanParams p) {
    typedef ScanLayout<LPC> L;
    typedef Butterfly<SCAN_TT, LPC / 2, 1> OverStates;  // y over the lanes of a channel
    SHARED(ScanForwardTile<LPC>, s_tile, [2]);          // the ring: this tile, the next
    SHARED(float, s_y, [SCAN_TT][L::CH + 1]);  // + 1: lanes of a channel write rows TT/LPC apart
    SHARED_BYTES_CHECK("selective_scan_forward", sizeof s_tile + sizeof s_y);
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
    const size_t row_b = (size_t)k.b * p.seqlen;
    const ScanSaved<LPC> saved(p, k, nchunks);

    ScanTile x = scan_first_tile(p);
    scan_issue_tile(p, k, row_b, x.len, s_tile[0]);
    for (int i = 0; x.t < p.seqlen; i++) {
        const ScanTile next = scan_next_tile(p, x);
        const size_t row0 = row_b + x.t;
        ScanForwardTile<LPC> &cur = s_tile[i & 1];
        saved.save(k, N, x.chunk, x.index, h);  // the state the backward restarts the tile from
        __pipeline_wait_prior(0);
        scan_finish_tile(k, x.len, bias, cur);
        // Every thread's copies of this tile are in, and every thread is done
        // with the previous one (its epilogue read the other buffer and s_y).
        __syncthreads();
        if (next.t < p.seqlen) scan_issue_tile(p, k, row_b + next.t, next.len, s_tile[(i + 1) & 1]);
        float y[SCAN_TT];
        SCAN_UNROLL
        for (int s = 0; s < SCAN_TT; s++) {
            float delta = cur.delta[s][k.c], du = delta * cur.u[s][k.c], acc = 0.0f;
            SCAN_UNROLL
            for (int j = 0; j < SCAN_NS; j++) {
                h[j] = scan_exp2(delta * A2[j]) * h[j] + du * cur.B[s][k.state(j)];
                acc += cur.C[s][k.state(j)] * h[j];
            }
            y[s] = acc;
        }
        OverStates::sum(y);
        const int first = OverStates::base();
        SCAN_UNROLL
        for (int j = 0; j < OverStates::KEPT; j++) s_y[first + j][k.c] = y[j];
        __syncthreads();
        SCAN_UNROLL
        for (int round = 0; round < SCAN_TT / LPC; round++) {
            const int s = k.slot + round * LPC;
            if (s >= x.len || !k.rvalid) break;
            const float z = cur.z[s][k.cr], yv = s_y[s][k.cr] + Dskip * cur.u[s][k.cr];
            p.out[(row0 + s) * p.out_stride + k.dr] = yv * z * scan_sigmoid(z);
        }
        x = next;
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
