/* Shared by the C baselines: pinning, a monotonic clock, p50/p99 by sorting, the command line,
 * compare's warm-up and compare's payload. Each baseline makes the same system calls as
 * compare's row, with the same placement, and does the same work on every message: the sender
 * fills it with compare's per-message pattern, the receiver checks every byte of it (and an
 * echo checks it again on the way back), so compare's numbers can be checked against them
 * (see run.sh). The rows that carry bytes share compare's two sides too: pingpong.h.
 * Compiled with -O3 -mavx2 (where the CPU has AVX2): compare's pattern loops use AVX2, no wider.
 * Usage of every program: prog PARENT_CPU CHILD_CPU ITERS SIZE (see struct args). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define die(call) do { perror(call); exit(1); } while (0)

static inline void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) == -1)
        die("sched_setaffinity");
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts the samples and prints "p50_ns p99_ns" (nearest rank, as compare does). */
static inline void print_percentiles(uint64_t *samples, size_t n)
{
    qsort(samples, n, sizeof *samples, by_value);
    size_t r50 = (n * 50 + 99) / 100, r99 = (n * 99 + 99) / 100;
    printf("%llu %llu\n", (unsigned long long)samples[r50 ? r50 - 1 : 0],
           (unsigned long long)samples[r99 ? r99 - 1 : 0]);
}

/* Usage: prog PARENT_CPU CHILD_CPU ITERS SIZE (SIZE 0 = throughput: 64 MiB in messages of
 * `chunk` bytes, 64 KiB unless the row's largest message is smaller, as in compare) */
struct args { int parent_cpu, child_cpu; size_t iters, size, chunk; };

static inline struct args parse(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PARENT_CPU CHILD_CPU ITERS SIZE\n", argv[0]);
        exit(2);
    }
    struct args a = { atoi(argv[1]), atoi(argv[2]), strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10),
                      64 << 10 };
    return a;
}

/* compare's payload (compare/src/measure/pattern.rs), ported: message `seq` is a run of little-endian
 * 64-bit words, word i = ((seq + 1) * GOLDEN) ^ i, cut to the message length. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the pattern is little-endian; this port stores words in native order"
#endif
#define GOLDEN 0x9E3779B97F4A7C15ull
#define END UINT64_MAX /* the message that ends a run (compare's pattern::END) */

static inline uint64_t pattern_base(uint64_t seq) { return (seq + 1) * GOLDEN; }

static inline void fill(char *buf, size_t len, uint64_t seq)
{
    uint64_t base = pattern_base(seq), words = len / 8, last = base ^ words;
    for (uint64_t i = 0; i < words; i++) {
        uint64_t word = base ^ i;
        memcpy(buf + 8 * i, &word, 8);
    }
    memcpy(buf + 8 * words, &last, len % 8);
}

/* Every byte of `buf` is message `seq`'s, or the run ends with an error (as compare's does). */
static inline void check(const char *buf, size_t len, uint64_t seq)
{
    uint64_t base = pattern_base(seq), words = len / 8, last = base ^ words, diff = 0;
    for (uint64_t i = 0; i < words; i++) {
        uint64_t word;
        memcpy(&word, buf + 8 * i, 8);
        diff |= word ^ base ^ i;
    }
    if (diff != 0 || memcmp(buf + 8 * words, &last, len % 8) != 0) {
        fprintf(stderr, "message %llu: payload mismatch\n", (unsigned long long)seq);
        exit(1);
    }
}

static inline int is_end(const char *buf)
{
    uint64_t first, end = pattern_base(END);
    memcpy(&first, buf, 8);
    return first == end;
}

/* compare's warm-up: a tenth of the timed round trips, at least 10 and at most 500. */
static inline size_t warmup(size_t iters)
{
    size_t w = iters / 10;
    return w < 10 ? 10 : w > 500 ? 500 : w;
}
