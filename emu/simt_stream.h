// simt_stream.h: the emulation's one stream of work, and its graphs.
//
// Everything the backend issues (kernel launches, cuBLAS calls, async copies
// and fills, graph replays, event records) comes here as a piece of work
// (run, destroy, ctx). Normally work runs when it is issued. While a capture
// is open it is recorded into the graph instead, as a GPU records a stream.
// In deferred mode it waits in a queue until the next synchronisation
// (cudaStreamSynchronize, cudaDeviceSynchronize, cudaEventSynchronize,
// cudaFree), as a GPU runs it some time after the host moves on: a host read
// without the synchronisation that orders it sees memory from before the
// work, and a test fails.
//
// This file calls nothing else of the emulation: the work it runs is handed
// to it as function pointers.
#ifndef TB_SIMT_STREAM_H
#define TB_SIMT_STREAM_H

typedef void (*SimtWorkFn)(void *ctx);

// Whether work issued now is kept (a capture is open, or deferred mode is
// on). If so, the issuer hands a heap copy of it to simt_stream_keep, which
// calls destroy(ctx) once it is done with it; if not, the issuer runs it now.
// simt_stream_keep returns 0, or -1 when the open capture has been
// invalidated: then the work is dropped (destroyed, never run) and the
// issuing call fails, as it would on a GPU.
int simt_stream_keeps(void);
int simt_stream_keep(SimtWorkFn run, SimtWorkFn destroy, void *ctx);
// Runs the queued work in order. `what` names the call, which a capture forbids.
void simt_stream_synchronize(const char *what);

int simt_capturing(void);
// Stops the emulation if a capture is open (what a GPU reports as an
// invalidated capture); `what` names the call.
void simt_forbid_in_capture(const char *what);

typedef struct SimtGraph SimtGraph;
// Opens a capture; -1 if one is open already.
int simt_capture_begin(void);
// Closes the capture and returns its graph (one reference); NULL if none was
// open or it was invalidated.
SimtGraph *simt_capture_end(void);
void simt_graph_retain(SimtGraph *g);
void simt_graph_release(SimtGraph *g);
// Issues a replay of the graph's work, in order.
void simt_graph_issue(SimtGraph *g);

#endif
