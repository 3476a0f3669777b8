/* Shared by the C baselines: pinning, a monotonic clock, p50/p99 by sorting, and compare's
 * payload. Each baseline makes the same system calls as compare's row, with the same
 * placement, and does the same work on every message: the sender fills it with compare's
 * per-message pattern, the receiver checks every byte of it (and an echo checks it again on
 * the way back), so compare's numbers can be checked against them (see run.sh). */
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

/* Usage: prog PARENT_CPU CHILD_CPU ITERS SIZE (SIZE 0 = throughput: 64 MiB in 64 KiB writes) */
struct args { int parent_cpu, child_cpu; size_t iters, size; };

static inline struct args parse(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PARENT_CPU CHILD_CPU ITERS SIZE\n", argv[0]);
        exit(2);
    }
    struct args a = { atoi(argv[1]), atoi(argv[2]), strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10) };
    return a;
}

/* compare's payload (compare/src/pattern.rs), ported: message `seq` is a run of little-endian
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

static inline void read_all(int fd, char *buf, size_t n)
{
    while (n > 0) {
        ssize_t got = read(fd, buf, n);
        if (got <= 0)
            die("read");
        buf += got;
        n -= (size_t)got;
    }
}

static inline void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t put = write(fd, buf, n);
        if (put <= 0)
            die("write");
        buf += put;
        n -= (size_t)put;
    }
}

/* The parent's side over a pair of fds, as compare's harness does it: warm-up and timed round
 * trips (fill, write, read the echo, check it), or a one-way stream (fill, write; then the end
 * message, whose echo is the acknowledgement). Prints "p50_ns p99_ns" or "MiB/s". */
static inline void parent_side(int rx, int tx, struct args a)
{
    if (a.size == 0) {
        size_t chunk = 64 << 10, total = 64 << 20;
        char *buf = calloc(1, chunk);
        uint64_t t0 = now_ns(), seq = 0;
        for (size_t sent = 0; sent < total; sent += chunk, seq++) {
            fill(buf, chunk, seq);
            write_all(tx, buf, chunk);
        }
        fill(buf, chunk, END);
        write_all(tx, buf, chunk);
        read_all(rx, buf, chunk);
        check(buf, chunk, END);
        printf("%.0f\n", (double)total / (1 << 20) / ((double)(now_ns() - t0) / 1e9));
        return;
    }
    char *buf = calloc(1, a.size);
    uint64_t *samples = calloc(a.iters, sizeof *samples);
    uint64_t seq = 0;
    for (size_t i = 0; i < a.iters / 10; i++, seq++) {
        fill(buf, a.size, seq);
        write_all(tx, buf, a.size);
        read_all(rx, buf, a.size);
        check(buf, a.size, seq);
    }
    for (size_t i = 0; i < a.iters; i++, seq++) {
        uint64_t t0 = now_ns();
        fill(buf, a.size, seq);
        write_all(tx, buf, a.size);
        read_all(rx, buf, a.size);
        check(buf, a.size, seq);
        samples[i] = now_ns() - t0;
    }
    print_percentiles(samples, a.iters);
}

/* The child's side: check each message and echo it, or check the stream and echo the end
 * message as the acknowledgement. */
static inline void child_side(int rx, int tx, struct args a)
{
    size_t size = a.size == 0 ? 64 << 10 : a.size;
    char *buf = calloc(1, size);
    for (uint64_t seq = 0;; seq++) {
        read_all(rx, buf, size);
        if (a.size == 0 && is_end(buf)) {
            write_all(tx, buf, size);
            return;
        }
        check(buf, size, seq);
        if (a.size != 0) {
            write_all(tx, buf, size);
            if (seq + 1 == a.iters + a.iters / 10)
                return;
        }
    }
}
