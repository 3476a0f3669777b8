/* The slot layout of shm-demo's rings and zero-copy channel (shm-demo/src/slots.rs), for the
 * shm baselines: a slot is whole 64-byte cache lines, a 16-byte header (stamp, len) and the
 * payload after it in the same line; the fewest slots, a power of two, that make 256 KiB (one
 * slot from 256 KiB messages up). Message m uses slot m % count. Waiting spins on the stamp
 * with `pause`, and every 1024 spins looks at the peer's liveness pipe (one poll(), as the
 * Rust side does to notice a dead peer) and yields the CPU.
 * Build with -O3 (and -mavx2), as compare/baseline/run.sh builds every baseline. */
#include "common.h"
#include <poll.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

struct slot_header { atomic_uint_fast64_t stamp, len; };

struct slots { size_t count, len; char *base; };

#define SLOT_HEADER 16
#define RING_BYTES (256 << 10)

static inline struct slots slots_for(size_t msg_size, char *base)
{
    size_t len = (SLOT_HEADER + msg_size + 63) / 64 * 64;
    size_t count = 1; /* the fewest, a power of two, that make RING_BYTES */
    while (count * len < RING_BYTES)
        count *= 2;
    struct slots s = { count, len, base };
    return s;
}

static inline struct slot_header *header(struct slots s, uint64_t m)
{
    return (struct slot_header *)(s.base + (m & (s.count - 1)) * s.len);
}

static inline char *payload(struct slots s, uint64_t m)
{
    return (char *)header(s, m) + SLOT_HEADER;
}

/* Liveness, as shm-demo/src/waiting.rs: each process holds the only write end of a pipe whose
 * read end the other watches; the kernel closes it when the process dies (POLLHUP). Call
 * liveness_pipes() before fork() and liveness_side(0 or 1) after it, in each process. */
static int live_pipes[2][2], peer_watch = -1;

static inline void liveness_pipes(void)
{
    if (pipe(live_pipes[0]) == -1 || pipe(live_pipes[1]) == -1)
        die("pipe");
}

static inline void liveness_side(int side)
{
    close(live_pipes[side][0]);     /* the peer watches our pipe: keep only its write end */
    close(live_pipes[1 - side][1]); /* we watch the peer's: keep only its read end */
    peer_watch = live_pipes[1 - side][0];
}

static inline void peer_check(void)
{
    struct pollfd p = { .fd = peer_watch };
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
        fprintf(stderr, "the peer process is gone\n");
        exit(1);
    }
}

/* Spins until the stamp of slot m of `s` (loaded with acquire) equals `want`. Meanwhile it
 * prefetches the slot's second line, which a message over 48 bytes reaches into, so that line
 * travels alongside the stamp's line instead of after it (as the Rust side does). */
static inline void spin_until(struct slots s, uint64_t m, uint64_t want)
{
    struct slot_header *h = header(s, m);
    for (unsigned spins = 1; atomic_load_explicit(&h->stamp, memory_order_acquire) != want; spins++) {
        if (s.len > 64)
            __builtin_prefetch((char *)h + 64);
        __builtin_ia32_pause();
        if (spins % 1024 == 0) {
            peer_check();
            sched_yield();
        }
    }
}

static inline void *shared_region(size_t len)
{
    void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    return p;
}
