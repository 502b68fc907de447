// simt_emu_events.h: CUDA events for the SIMT emulation (simt_emu_events.cpp).
//
// Work runs when it is issued here (simt_emu.h), so the moment an event is
// recorded is the moment everything issued before it has finished: an event
// keeps the host's monotonic clock at cudaEventRecord, and elapsed times are
// the emulation's own run times (slow, but real and never negative). A GPU
// records an event inside a stream capture as a graph node whose time cannot
// be read; the emulation refuses the call there, so code that would time a
// capture fails `make test` instead of reporting garbage on a GPU.
#ifndef TB_SIMT_EMU_EVENTS_H
#define TB_SIMT_EMU_EVENTS_H

#include "simt_emu.h"

typedef struct SimtEvent *cudaEvent_t;
cudaError_t cudaEventCreate(cudaEvent_t *event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
// ms from start to end; cudaErrorInvalidValue if either was never recorded.
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);

#endif
