// simt_emu_events.cpp: CUDA events for the SIMT emulation (see simt_emu_events.h).
#include "simt_emu_events.h"

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
    free(event);
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    (void)stream;
    if (!event) return cudaErrorInvalidValue;
    simt_forbid_in_capture("cudaEventRecord (a timing event)");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    event->seconds = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    event->recorded = 1;
    return cudaSuccess;
}
// Nothing is pending here; an event never recorded counts as complete, as in CUDA.
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
    return event ? cudaSuccess : cudaErrorInvalidValue;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (!start || !end || !start->recorded || !end->recorded) return cudaErrorInvalidValue;
    *ms = (float)((end->seconds - start->seconds) * 1e3);
    return cudaSuccess;
}
