// signals.h: SIGINT and SIGTERM ask a run to stop at the next step boundary.
//
// The first signal sets a flag; the loop finishes the step it is in, writes a
// checkpoint and the record (status "interrupted") and exits non-zero. A
// second signal restores the default action, so pressing Ctrl-C twice kills
// a run that is stuck (the record then still holds its last complete write).
#ifndef TB_RUNNER_SIGNALS_H
#define TB_RUNNER_SIGNALS_H

void signals_install(void);
// 0, or the signal number that asked the run to stop.
int signals_stop_requested(void);

#endif
