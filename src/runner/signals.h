// signals.h: SIGINT and SIGTERM ask a run to stop at the next step boundary.
//
// The first signal sets a flag; the loop finishes the step it is in, writes
// the record and a checkpoint (status "interrupted") and exits with 128 + the
// signal. A second signal, more than SIGNALS_REPEAT_SECONDS after the first,
// ends the process at once: it abandons only the steps since the last
// checkpoint, because the record is written with every checkpoint. Copies of
// one request that arrive together count once: coreutils `timeout` sends its
// signal to the child and then to the child's process group, and `make`
// forwards a SIGTERM that a group kill also delivers.
//
// How: signals_install() blocks SIGINT and SIGTERM in the calling thread
// before any other thread starts (OpenMP's pool, the CUDA runtime's helpers),
// so every later thread inherits the block, and a dedicated thread takes them
// with sigwait(). No thread is ever interrupted inside a blocking call (a
// CUDA synchronisation, a file write). Threads that exist before main (the
// OpenBLAS pool, started by its library constructor) cannot be made to block
// them, so a handler doing the same is installed too, and every
// signals_stop_requested() checks with sigaction that it is still ours (a
// library that replaced it is undone, with a note on stderr).
#ifndef TB_RUNNER_SIGNALS_H
#define TB_RUNNER_SIGNALS_H

// Copies of a signal closer together than this are one request.
#define SIGNALS_REPEAT_SECONDS 1.0

// Call first, before creating threads, backends or models. Idempotent.
void signals_install(void);
// 0, or the signal number that asked the run to stop. Also re-installs the
// handler if something replaced it since the last call.
int signals_stop_requested(void);

#endif
