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

#ifdef __cplusplus
}
#endif

#endif
