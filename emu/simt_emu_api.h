// simt_emu_api.h: the part of the SIMT emulation that C tests see.
#ifndef TB_SIMT_EMU_API_H
#define TB_SIMT_EMU_API_H

#ifdef __cplusplus
extern "C" {
#endif

// The order in which the emulation resumes a block's runnable threads after
// each barrier: SIMT_FORWARD (thread 0 first) or SIMT_REVERSED.
enum { SIMT_FORWARD = 0, SIMT_REVERSED = 1 };
void simt_set_schedule(int order);
int simt_get_schedule(void);
// Fiber switches since the start of the program (to keep tests small).
unsigned long long simt_switch_count(void);

// Deferred mode (simt_stream.h): launches, cuBLAS calls and async copies run
// only at the next synchronisation, so a host read that misses one sees old
// memory. Off unless the environment has SIMT_DEFERRED=1 (make test runs the
// CUDA tests both ways); turning it off runs what is queued.
void simt_set_deferred(int on);
int simt_get_deferred(void);

// Where the kernels' asynchronous copies to shared memory (cp.async,
// simt_emu.h) land: at the issue (0), or only at the wait that covers them
// (1). Follows SIMT_DEFERRED unless set.
void simt_set_async_copies_late(int on);
int simt_get_async_copies_late(void);

// The next stream capture is invalidated at its first piece of work, as a
// GPU invalidates one whose kernel cannot be loaded during a capture: that
// call and every later one until the end of the capture fail, nothing runs,
// and cudaStreamEndCapture returns an error.
void simt_invalidate_next_capture(void);

#ifdef __cplusplus
}
#endif

#endif
