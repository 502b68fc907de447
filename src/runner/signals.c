// signals.c: see signals.h.
#include "signals.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop_signal;     // the first request's signal, 0 before it
static atomic_llong first_ns;      // when it came (monotonic ns), 0 before it
static atomic_int installed;
static int replaced_noted;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void say(const char *text) {
    ssize_t rc = write(STDERR_FILENO, text, strlen(text));
    (void)rc;
}

// The second request: die of the signal itself (its default action), so the
// parent sees how the process ended. The record and the checkpoint on disk
// are those of the last checkpoint, written together.
static void abandon(int sig) {
    say("tunebench: a second signal: stopping now; the steps since the last checkpoint are abandoned "
        "(--resume continues from it)\n");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);  // not reached
}

// Called from the signal thread or from the handler (any thread); only
// async-signal-safe calls.
static void on_request(int sig) {
    long long now = now_ns();
    int none = 0;
    if (atomic_compare_exchange_strong(&stop_signal, &none, sig)) {
        atomic_store(&first_ns, now);
        say(sig == SIGINT ? "tunebench: SIGINT: finishing this step, then the checkpoint and the record "
                            "(a second signal, a second later, abandons the steps since the last checkpoint)\n"
                          : "tunebench: SIGTERM: finishing this step, then the checkpoint and the record "
                            "(a second signal, a second later, abandons the steps since the last checkpoint)\n");
        return;
    }
    long long first = atomic_load(&first_ns);
    if (first == 0 || now - first < (long long)(SIGNALS_REPEAT_SECONDS * 1e9)) return;  // a copy of the first
    abandon(sig);
}

static void on_signal(int sig) { on_request(sig); }

static void *signal_thread(void *arg) {
    const sigset_t *set = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) == 0) on_request(sig);
    }
    return NULL;
}

static void install_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESTART;  // a thread it lands on continues its system call
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void signals_install(void) {
    if (atomic_exchange(&installed, 1)) return;
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    install_handler();
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, signal_thread, &set) != 0) {
        // No thread: take the signals in the handler, on whichever thread.
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
    pthread_attr_destroy(&attr);
}

int signals_stop_requested(void) {
    if (atomic_load(&installed)) {
        // A library that installs its own handler for these signals (after
        // ours) would take them from the threads that do not block them.
        struct sigaction cur_int, cur_term;
        sigaction(SIGINT, NULL, &cur_int);
        sigaction(SIGTERM, NULL, &cur_term);
        if (cur_int.sa_handler != on_signal || cur_term.sa_handler != on_signal) {
            install_handler();
            if (!replaced_noted) {
                replaced_noted = 1;
                fprintf(stderr, "tunebench: note: something replaced the SIGINT/SIGTERM handler; restored it\n");
            }
        }
    }
    return atomic_load(&stop_signal);
}
