/* The bare cache-line ping-pong: the floor for any shared-memory round trip. Two pinned
 * processes share one anonymous MAP_SHARED page; the parent stores an odd number into one
 * cache line and spins until the child answers with the next even one in another line.
 * Like shm-demo's spin ring it yields the CPU every 1024 spins (or a same-core run would
 * wait for the scheduler tick). No payload is copied: this is the doorbell alone.
 * Usage: cacheline_pingpong PARENT_CPU CHILD_CPU ITERS 0 */
#include "common.h"
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

struct line { _Alignas(64) atomic_uint_fast64_t value; };

static void await(struct line *l, uint64_t want)
{
    for (unsigned spins = 1; atomic_load_explicit(&l->value, memory_order_acquire) != want; spins++) {
        __builtin_ia32_pause();
        if (spins % 1024 == 0)
            sched_yield();
    }
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    struct line *ping = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ping == MAP_FAILED)
        die("mmap");
    struct line *pong = ping + 1;
    size_t total = a.iters + a.iters / 10;
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        pin(a.child_cpu);
        for (uint64_t i = 0; i < total; i++) {
            await(ping, 2 * i + 1);
            atomic_store_explicit(&pong->value, 2 * i + 2, memory_order_release);
        }
        _exit(0);
    }
    pin(a.parent_cpu);
    uint64_t *samples = calloc(a.iters, sizeof *samples);
    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0 = now_ns();
        atomic_store_explicit(&ping->value, 2 * i + 1, memory_order_release);
        await(pong, 2 * i + 2);
        if (i >= a.iters / 10)
            samples[i - a.iters / 10] = now_ns() - t0;
    }
    print_percentiles(samples, a.iters);
    waitpid(pid, 0, 0);
    return 0;
}
