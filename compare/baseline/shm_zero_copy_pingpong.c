/* shm-demo's zero-copy slots (compare's "shm (zero-copy)" row) in C: one pool of slots in a
 * shared anonymous mapping, the layout of shm-demo/src/ring.rs and zero_copy.rs. The parent
 * fills slot m with compare's pattern in place and lends it (stamp 2m + 1, release); the child
 * checks every byte where it lies and hands the same slot back (stamp 2m + 2, release), which
 * is the echo; the parent checks it in place again. No memcpy into or out of the region.
 * Usage: shm_zero_copy_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s) */
#include "shm_slots.h"
#include <sys/wait.h>

/* The parent's side: lend message m, first waiting for its slot to come home if needed. */
static void lend(struct slots s, uint64_t m, size_t size, uint64_t seq)
{
    if (m >= s.count)
        spin_until(s, m, 2 * (m - s.count) + 2);
    fill(payload(s, m), size, seq);
    atomic_store_explicit(&header(s, m)->len, size, memory_order_relaxed);
    atomic_store_explicit(&header(s, m)->stamp, 2 * m + 1, memory_order_release);
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    size_t size = a.size ? a.size : 64 << 10, total = 64 << 20;
    struct slots s = slots_for(size, 0);
    s.base = shared_region(s.count * s.len);
    liveness_pipes();
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        pin(a.child_cpu);
        liveness_side(1);
        for (uint64_t m = 0;; m++) {
            spin_until(s, m, 2 * m + 1);
            char *msg = payload(s, m);
            size_t len = atomic_load_explicit(&header(s, m)->len, memory_order_relaxed);
            int end = a.size == 0 && is_end(msg);
            if (len != size) {
                fprintf(stderr, "message %llu: wrong length\n", (unsigned long long)m);
                exit(1);
            }
            if (!end)
                check(msg, size, m);
            atomic_store_explicit(&header(s, m)->stamp, 2 * m + 2, memory_order_release);
            if (end || (a.size != 0 && m + 1 == a.iters + a.iters / 10))
                _exit(0);
        }
    }
    pin(a.parent_cpu);
    liveness_side(0);
    if (a.size == 0) {
        uint64_t t0 = now_ns(), m = 0;
        for (size_t sent = 0; sent < total; sent += size, m++)
            lend(s, m, size, m);
        lend(s, m, size, END);
        spin_until(s, m, 2 * m + 2);
        check(payload(s, m), size, END);
        printf("%.0f\n", (double)total / (1 << 20) / ((double)(now_ns() - t0) / 1e9));
    } else {
        uint64_t *samples = calloc(a.iters, sizeof *samples);
        for (uint64_t m = 0; m < a.iters + a.iters / 10; m++) {
            uint64_t t0 = now_ns();
            lend(s, m, size, m);
            spin_until(s, m, 2 * m + 2);
            check(payload(s, m), size, m);
            if (m >= a.iters / 10)
                samples[m - a.iters / 10] = now_ns() - t0;
        }
        print_percentiles(samples, a.iters);
    }
    waitpid(pid, 0, 0);
    return 0;
}
