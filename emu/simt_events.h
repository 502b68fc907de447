// simt_events.h: CUDA events for the SIMT emulation (simt_events.cpp).
//
// A record is work on the stream (simt_stream.h): it stamps the host's
// monotonic clock when it runs, which is when everything issued before it has
// finished, at once or (deferred mode) at the next synchronisation. Elapsed
// times are the emulation's own run times (slow, but real and never negative). A GPU
// records an event inside a stream capture as a graph node whose time cannot
// be read; the emulation refuses the call there, so code that would time a
// capture fails `make test` instead of reporting garbage on a GPU.
#ifndef TB_SIMT_EVENTS_H
#define TB_SIMT_EVENTS_H

#include "simt_emu.h"

typedef struct SimtEvent *cudaEvent_t;
cudaError_t cudaEventCreate(cudaEvent_t *event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
// ms from start to end; cudaErrorInvalidValue if either was never recorded.
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);

#endif
