// embedding.cu: token (+ position) embedding, forward and backward.
//
// The backward adds many rows of dout into the same dwte row when a token
// repeats, and must do it deterministically and in the CPU's order (position
// order, onto the row's old value), so float atomics are out. The rows are
// grouped by token on the device, with no copy to the host: each position
// becomes the key (token << 32 | position), and the keys are sorted. They are
// unique, so the sorted order is unique too, whatever the schedule: tokens
// increasing, and each token's positions increasing. Then one block column
// per run of equal tokens adds that token's rows in position order.
//
// The sort, for n = B*T keys:
//   1. embedding_tile_sort: each tile of EMB_TILE keys, sorted by rank (a
//      key's place in its tile is the number of smaller keys there; the
//      tile sits in shared memory).
//   2. embedding_merge (more than one tile): a key's place among all n is
//      its place in its tile plus, for every other tile, the number of that
//      tile's keys below it, by binary search.
//   3. embedding_backward: the runs of equal tokens, and dwpe's rows.
// So 2 launches up to EMB_TILE rows, 3 above; scratch is 2n keys.
#include "ops_cuda.cuh"

// out (B*T, C) = wte[tokens] (+ wpe[t]).
__global__ void embedding_forward_kernel(float *out, const int32_t *tokens, const float *wte,
                                         const float *wpe, int T, int C) {
    int row = blockIdx.x;  // b * T + t
    const float *w = wte + (size_t)tokens[row] * C;
    const float *p = wpe ? wpe + (size_t)(row % T) * C : NULL;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        out[(size_t)row * C + c] = w[c] + (p ? p[c] : 0.0f);
}

void embedding_forward_cuda(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                            int B, int T, int C) {
    if (B * T == 0) return;
    LAUNCH(embedding_forward_kernel, B * T, 128, 0)(out, tokens, wte, wpe, T, C);
    LAUNCH_CHECK();
}

// ---------------------------------------------------------------- backward
// A tile of 512 keys: the first pass costs 512 comparisons a key (in shared
// memory), the second a binary search of 9 steps per other tile, 7 of them
// at batch 16 x 256 (n / 512 - 1 in general, so it grows with n).
enum { EMB_TILE = 512, EMB_SORT_THREADS = 256, EMB_THREADS = 128, EMB_TOKEN_BLOCKS = 512,
       EMB_POSITION_BLOCKS = 256 };

static __device__ __forceinline__ uint32_t key_token(uint64_t key) { return (uint32_t)(key >> 32); }
static __device__ __forceinline__ uint32_t key_position(uint64_t key) { return (uint32_t)key; }

// tile_sorted (n): each tile of EMB_TILE keys of the positions
// [tile * EMB_TILE, ...) in increasing order.
__global__ void embedding_tile_sort_kernel(uint64_t *tile_sorted, const int32_t *tokens, int n) {
    SHARED(uint64_t, keys, [EMB_TILE]);
    SHARED_BYTES_CHECK("embedding_tile_sort", sizeof keys);
    int base = blockIdx.x * EMB_TILE;
    int len = n - base < EMB_TILE ? n - base : EMB_TILE;
    for (int j = threadIdx.x; j < len; j += blockDim.x)
        keys[j] = (uint64_t)(uint32_t)tokens[base + j] << 32 | (uint32_t)(base + j);
    __syncthreads();
    for (int j = threadIdx.x; j < len; j += blockDim.x) {
        uint64_t key = keys[j];
        int rank = 0;
        for (int q = 0; q < len; q++) rank += keys[q] < key;
        tile_sorted[base + rank] = key;
    }
}

// The number of keys below key in sorted (len), which holds no key equal to it.
static __device__ int keys_below(const uint64_t *sorted, int len, uint64_t key) {
    int lo = 0, hi = len;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (sorted[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// sorted (n) = all of tile_sorted's keys in increasing order.
__global__ void embedding_merge_kernel(uint64_t *sorted, const uint64_t *tile_sorted, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int own = i / EMB_TILE, ntiles = (n + EMB_TILE - 1) / EMB_TILE;
    uint64_t key = tile_sorted[i];
    int rank = i - own * EMB_TILE;
    for (int u = 0; u < ntiles; u++) {
        int len = n - u * EMB_TILE < EMB_TILE ? n - u * EMB_TILE : EMB_TILE;
        if (u != own) rank += keys_below(tile_sorted + (size_t)u * EMB_TILE, len, key);
    }
    sorted[rank] = key;
}

// Block columns 0 .. token_blocks-1: for every run of equal tokens in sorted
// (n), dwte[token] += dout's rows of the run, in position order. The rest
// (when dwpe is given): dwpe[t] += dout[b, t] for b in order. Each column
// starts from the old value and adds one row at a time, as the CPU does.
__global__ void embedding_backward_kernel(float *dwte, float *dwpe, const float *dout,
                                          const uint64_t *sorted, int n, int B, int T, int C,
                                          int token_blocks) {
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    if ((int)blockIdx.x < token_blocks) {
        for (int i = blockIdx.x; i < n; i += token_blocks) {
            uint32_t token = key_token(sorted[i]);
            if (i > 0 && key_token(sorted[i - 1]) == token) continue;  // not a run's first
            float *w = dwte + (size_t)token * C + c;
            float acc = *w;
            for (int j = i; j < n && key_token(sorted[j]) == token; j++)
                acc += dout[(size_t)key_position(sorted[j]) * C + c];
            *w = acc;
        }
        return;
    }
    int position_blocks = gridDim.x - token_blocks;
    for (int t = blockIdx.x - token_blocks; t < T; t += position_blocks) {
        float acc = dwpe[(size_t)t * C + c];
        for (int b = 0; b < B; b++) acc += dout[((size_t)b * T + t) * C + c];
        dwpe[(size_t)t * C + c] = acc;
    }
}

size_t embedding_backward_scratch_bytes(size_t rows) { return 2 * rows * sizeof(uint64_t); }

void embedding_backward_cuda(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                             int B, int T, int C) {
    int n = B * T;
    if (n == 0) return;
    uint64_t *tile_sorted = (uint64_t *)cuda_scratch(
        SCRATCH_EMBEDDING, embedding_backward_scratch_bytes((size_t)n), "embedding_backward");
    uint64_t *sorted = tile_sorted + n;
    int ntiles = ceil_div(n, EMB_TILE);
    LAUNCH(embedding_tile_sort_kernel, ntiles, EMB_SORT_THREADS, 0)(tile_sorted, tokens, n);
    LAUNCH_CHECK();
    if (ntiles > 1) {
        LAUNCH(embedding_merge_kernel, ceil_div(n, EMB_SORT_THREADS), EMB_SORT_THREADS, 0)(
            sorted, tile_sorted, n);
        LAUNCH_CHECK();
    } else {
        sorted = tile_sorted;  // one tile is the whole sort
    }
    int token_blocks = n < EMB_TOKEN_BLOCKS ? n : EMB_TOKEN_BLOCKS;
    int position_blocks = !dwpe ? 0 : T < EMB_POSITION_BLOCKS ? T : EMB_POSITION_BLOCKS;
    dim3 grid(token_blocks + position_blocks, ceil_div(C, EMB_THREADS));
    LAUNCH(embedding_backward_kernel, grid, EMB_THREADS, 0)(dwte, dwpe, dout, sorted, n, B, T, C,
                                                           token_blocks);
    LAUNCH_CHECK();
}
