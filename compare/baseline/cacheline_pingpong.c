/* The bare cache-line ping-pong: the floor for any shared-memory round trip. Two pinned
 * processes share one anonymous MAP_SHARED page; the parent stores an odd number into one
 * cache line and spins until the child answers with the next even one in another line.
 * Like shm-demo's spin ring it yields the CPU every 1024 spins (or a same-core run would
 * wait for the scheduler tick). With SIZE 0 no payload moves: this is the doorbell alone.
 * With SIZE 64, each side also stores 64 bytes in a second line before the doorbell, and the
 * waiter prefetches that line while it spins and reads it after, as the ring's reader does: a
 * 64-byte message with a header takes two lines, and this is their floor.
 * Usage: cacheline_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0 or 64) */
#include "common.h"
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* One side's doorbell line and, with SIZE 64, the data line after it. */
struct side { atomic_uint_fast64_t *bell, *data; };

static void await(struct side s, uint64_t want, int two)
{
    for (unsigned spins = 1; atomic_load_explicit(s.bell, memory_order_acquire) != want; spins++) {
        if (two)
            __builtin_prefetch(s.data);
        __builtin_ia32_pause();
        if (spins % 1024 == 0)
            sched_yield();
    }
    for (int i = 0; two && i < 8; i++)
        if (atomic_load_explicit(s.data + i, memory_order_relaxed) != want) {
            fprintf(stderr, "the data line does not match its doorbell\n");
            exit(1);
        }
}

static void ring(struct side s, uint64_t value, int two)
{
    for (int i = 0; two && i < 8; i++)
        atomic_store_explicit(s.data + i, value, memory_order_relaxed);
    atomic_store_explicit(s.bell, value, memory_order_release);
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    int two = a.size == 64;
    char *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        die("mmap");
    /* one line: the two doorbells in adjacent lines; two: doorbell, data, doorbell, data */
    size_t apart = two ? 128 : 64;
    struct side ping = { (void *)page, (void *)(page + 64) };
    struct side pong = { (void *)(page + apart), (void *)(page + apart + 64) };
    size_t total = a.iters + a.iters / 10;
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        pin(a.child_cpu);
        for (uint64_t i = 0; i < total; i++) {
            await(ping, 2 * i + 1, two);
            ring(pong, 2 * i + 2, two);
        }
        _exit(0);
    }
    pin(a.parent_cpu);
    uint64_t *samples = calloc(a.iters, sizeof *samples);
    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0 = now_ns();
        ring(ping, 2 * i + 1, two);
        await(pong, 2 * i + 2, two);
        if (i >= a.iters / 10)
            samples[i - a.iters / 10] = now_ns() - t0;
    }
    print_percentiles(samples, a.iters);
    waitpid(pid, 0, 0);
    return 0;
}
