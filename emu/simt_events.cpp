// simt_events.cpp: CUDA events for the SIMT emulation (see simt_events.h).
#include "simt_events.h"

#include <stdlib.h>
#include <time.h>

struct SimtEvent {
    double seconds;  // host monotonic clock at the last record
    int recorded;
};

cudaError_t cudaEventCreate(cudaEvent_t *event) {
    *event = (cudaEvent_t)calloc(1, sizeof(struct SimtEvent));
    return *event ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
    simt_stream_synchronize("cudaEventDestroy");  // a queued record may name it
    free(event);
    return cudaSuccess;
}
static void stamp(void *p) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ((SimtEvent *)p)->seconds = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    ((SimtEvent *)p)->recorded = 1;
}
static void stamp_done(void *p) { (void)p; }

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    (void)stream;
    if (!event) return cudaErrorInvalidValue;
    simt_forbid_in_capture("cudaEventRecord (a timing event)");
    event->recorded = 0;
    if (simt_stream_keeps()) simt_stream_keep(stamp, stamp_done, event);
    else stamp(event);
    return cudaSuccess;
}
// Waits for the stream (an event is the last thing issued before the wait,
// or earlier); an event never recorded counts as complete, as in CUDA.
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
    if (!event) return cudaErrorInvalidValue;
    simt_stream_synchronize("cudaEventSynchronize");
    return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (!start || !end || !start->recorded || !end->recorded) return cudaErrorInvalidValue;
    *ms = (float)((end->seconds - start->seconds) * 1e3);
    return cudaSuccess;
}
