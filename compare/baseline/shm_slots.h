/* The slot layout of shm-demo's rings and zero-copy channel (shm-demo/src/slots.rs), for the
 * shm baselines: a slot is whole 64-byte cache lines, a 16-byte header (stamp, len) and the
 * payload after it in the same line; the fewest slots, a power of two, that make 256 KiB (one
 * slot from 256 KiB messages up). Message m uses slot m % count. Waiting spins on the stamp with `pause` and
 * yields the CPU every 1024 spins, as the Rust side does (which also polls the peer's
 * liveness pipe there; these programs do not).
 * Build with -O3 -march=native, as compare/baseline/run.sh builds every baseline. */
#include "common.h"
#include <stdatomic.h>
#include <sys/mman.h>

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
        if (spins % 1024 == 0)
            sched_yield();
    }
}

static inline void *shared_region(size_t len)
{
    void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    return p;
}
