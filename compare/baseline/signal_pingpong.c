/* Signal doorbell ping-pong: the same calls as compare's "signal" row (signal_demo): SIGRTMIN
 * blocked before fork, then the parent rings the child with kill(2) and takes the answer with
 * sigtimedwait(2) (2 s timeout), the child answers every ring it takes with sigtimedwait
 * (250 ms timeout). No payload: a doorbell carries none. Both processes pinned.
 * Usage: signal_pingpong PARENT_CPU CHILD_CPU ITERS 64   (SIZE 0: nothing, no throughput) */
#include "common.h"
#include <signal.h>
#include <sys/wait.h>

static int wait_ring(const sigset_t *bell, long ms)
{
    struct timespec limit = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    return sigtimedwait(bell, 0, &limit) == SIGRTMIN;
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    if (a.size == 0)
        return 0;
    sigset_t bell;
    sigemptyset(&bell);
    sigaddset(&bell, SIGRTMIN);
    if (sigprocmask(SIG_BLOCK, &bell, 0) == -1)
        die("sigprocmask");
    pid_t parent = getpid(), pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        pin(a.child_cpu);
        for (;;)
            if (wait_ring(&bell, 250) && kill(parent, SIGRTMIN) == -1)
                die("kill");
    }
    pin(a.parent_cpu);
    uint64_t *samples = calloc(a.iters, sizeof *samples);
    for (size_t i = 0; i < warmup(a.iters) + a.iters; i++) {
        uint64_t t0 = now_ns();
        if (kill(pid, SIGRTMIN) == -1)
            die("kill");
        if (!wait_ring(&bell, 2000)) {
            fprintf(stderr, "ring %zu: no answer within 2 s\n", i);
            exit(1);
        }
        if (i >= warmup(a.iters))
            samples[i - warmup(a.iters)] = now_ns() - t0;
    }
    print_percentiles(samples, a.iters);
    kill(pid, SIGKILL);
    waitpid(pid, 0, 0);
    return 0;
}
