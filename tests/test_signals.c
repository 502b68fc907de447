// test_signals.c: the stop signals of `tunebench train` (src/runner/signals.c),
// each case in a child process that installs them as train does:
//   - one SIGTERM sets the flag and the process lives on;
//   - two copies of it together (what coreutils `timeout` sends: the child,
//     then its process group) still count as one request;
//   - a second signal more than a second later ends the process at once,
//     killed by that signal;
//   - a thread started after the install (OpenMP's pool, the CUDA runtime's
//     helpers) blocks them, and a blocking call of the main thread (a CUDA
//     synchronisation, a sleep) is not interrupted;
//   - a library that replaces the handler is undone at the next check.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/common.h"
#include "../src/runner/signals.h"
#include "test.h"

// Child exit codes: 0 = as expected, others say what went wrong.
enum { CHILD_OK = 0, CHILD_NO_FLAG = 10, CHILD_INTERRUPTED = 11, CHILD_NOT_BLOCKED = 12, CHILD_SURVIVED = 13 };

static int wait_flag(double seconds) {
    double end = tb_now_seconds() + seconds;
    while (tb_now_seconds() < end) {
        int s = signals_stop_requested();
        if (s) return s;
        usleep(1000);
    }
    return 0;
}

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int child_one_signal(void) {
    kill(getpid(), SIGTERM);
    return wait_flag(2.0) == SIGTERM ? CHILD_OK : CHILD_NO_FLAG;
}

static int child_two_copies(void) {
    kill(getpid(), SIGTERM);
    usleep(2000);  // the first has been taken: the copy arrives on its own
    kill(getpid(), SIGTERM);
    if (wait_flag(2.0) != SIGTERM) return CHILD_NO_FLAG;
    sleep_seconds(0.2);
    return CHILD_OK;
}

static int child_second_signal(void) {
    kill(getpid(), SIGINT);
    if (wait_flag(2.0) != SIGINT) return CHILD_NO_FLAG;
    sleep_seconds(SIGNALS_REPEAT_SECONDS + 0.5);
    kill(getpid(), SIGINT);
    sleep_seconds(3.0);
    return CHILD_SURVIVED;
}

static void *report_mask(void *arg) {
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    *(int *)arg = sigismember(&mask, SIGTERM) && sigismember(&mask, SIGINT);
    return NULL;
}

static int child_blocking_call(void) {
    pthread_t t;
    int blocked = 0;
    pthread_create(&t, NULL, report_mask, &blocked);
    pthread_join(t, NULL);
    if (!blocked) return CHILD_NOT_BLOCKED;
    // A helper process signals us while the main thread sleeps in a system call.
    pid_t me = getpid(), helper = fork();
    if (helper == 0) {
        usleep(100000);
        kill(me, SIGTERM);
        _exit(0);
    }
    struct timespec ts = {0, 600 * 1000000L};
    int rc = nanosleep(&ts, NULL);
    waitpid(helper, NULL, 0);
    if (rc != 0) return CHILD_INTERRUPTED;
    return wait_flag(1.0) == SIGTERM ? CHILD_OK : CHILD_NO_FLAG;
}

static int child_replaced_handler(void) {
    signal(SIGTERM, SIG_DFL);  // what a library initialising after us might do
    signals_stop_requested();
    kill(getpid(), SIGTERM);
    return wait_flag(2.0) == SIGTERM ? CHILD_OK : CHILD_NO_FLAG;
}

static int run_child(int (*fn)(void)) {
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        signals_install();
        _exit(fn());
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static const char *describe(int st) {
    static char text[64];
    if (WIFSIGNALED(st)) snprintf(text, sizeof text, "killed by signal %d", WTERMSIG(st));
    else snprintf(text, sizeof text, "exit %d", WEXITSTATUS(st));
    return text;
}

int main(void) {
    int st = run_child(child_one_signal);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK, "one SIGTERM: %s", describe(st));
    st = run_child(child_two_copies);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK, "two copies of one SIGTERM: %s", describe(st));
    st = run_child(child_second_signal);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "a second SIGINT a second later: %s", describe(st));
    st = run_child(child_blocking_call);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK,
          "threads block the signals and a blocking call is not interrupted: %s", describe(st));
    st = run_child(child_replaced_handler);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK, "a replaced handler: %s", describe(st));
    return test_summary("test_signals");
}
