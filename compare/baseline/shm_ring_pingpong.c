/* shm-demo's spin ring (compare's "shm (spin)" row) in C: two rings of slots in one shared
 * anonymous mapping, the layout of shm-demo/src/ring.rs. The writer copies the message into
 * slot m and publishes it by storing stamp m + 1 (release); the reader polls that stamp in the
 * slot itself (acquire), copies the message out, and hands free slots back lazily by storing
 * its `tail` every quarter ring. The payload work is compare's: the sender fills its buffer
 * with the per-message pattern, the receiver checks every byte, the echo is checked again.
 * Usage: shm_ring_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s) */
#include "shm_slots.h"
#include <sys/wait.h>

#define CONTROL 128 /* per ring: tail on its own line, then a line of (unused) futex words */

struct end { struct slots tx, rx; atomic_uint_fast64_t *tx_tail, *rx_tail;
             uint64_t head, tail_seen, seq, tail_stored; };

static struct end end_of(char *map, struct slots shape, int side)
{
    char *ring[2] = { map + 2 * CONTROL, map + 2 * CONTROL + shape.count * shape.len };
    struct end e = { shape, shape, (void *)(map + side * CONTROL),
                     (void *)(map + (1 - side) * CONTROL), 0, 0, 0, 0 };
    e.tx.base = ring[side];
    e.rx.base = ring[1 - side];
    return e;
}

static void send_msg(struct end *e, const char *buf, size_t n)
{
    if (e->head - e->tail_seen >= e->tx.count) {
        uint64_t seen = e->tail_seen; /* wait as spin_until does: pause, and every 1024 spins */
        for (unsigned spins = 1;      /* a look at the peer and a yield */
             (e->tail_seen = atomic_load_explicit(e->tx_tail, memory_order_acquire)) == seen; spins++) {
            __builtin_ia32_pause();
            if (spins % 1024 == 0) {
                peer_check();
                sched_yield();
            }
        }
    }
    struct slot_header *h = header(e->tx, e->head);
    memcpy(payload(e->tx, e->head), buf, n);
    atomic_store_explicit(&h->len, n, memory_order_relaxed);
    atomic_store_explicit(&h->stamp, ++e->head, memory_order_release);
}

static void recv_msg(struct end *e, char *buf, size_t n)
{
    struct slot_header *h = header(e->rx, e->seq);
    spin_until(e->rx, e->seq, e->seq + 1);
    if (atomic_load_explicit(&h->len, memory_order_relaxed) != n) {
        fprintf(stderr, "message %llu: wrong length\n", (unsigned long long)e->seq);
        exit(1);
    }
    memcpy(buf, payload(e->rx, e->seq), n);
    size_t every = e->rx.count / 4 ? e->rx.count / 4 : 1;
    if (++e->seq - e->tail_stored >= every) {
        atomic_store_explicit(e->rx_tail, e->seq, memory_order_release);
        e->tail_stored = e->seq;
    }
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    size_t size = a.size ? a.size : 64 << 10, total = 64 << 20;
    struct slots shape = slots_for(size, 0);
    char *map = shared_region(2 * CONTROL + 2 * shape.count * shape.len);
    char *buf = calloc(1, size);
    liveness_pipes();
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        struct end e = end_of(map, shape, 1);
        pin(a.child_cpu);
        liveness_side(1);
        for (uint64_t seq = 0;; seq++) {
            recv_msg(&e, buf, size);
            if (a.size == 0 && is_end(buf)) {
                send_msg(&e, buf, size);
                _exit(0);
            }
            check(buf, size, seq);
            if (a.size != 0) {
                send_msg(&e, buf, size);
                if (seq + 1 == a.iters + a.iters / 10)
                    _exit(0);
            }
        }
    }
    struct end e = end_of(map, shape, 0);
    pin(a.parent_cpu);
    liveness_side(0);
    if (a.size == 0) {
        uint64_t t0 = now_ns(), seq = 0;
        for (size_t sent = 0; sent < total; sent += size, seq++) {
            fill(buf, size, seq);
            send_msg(&e, buf, size);
        }
        fill(buf, size, END);
        send_msg(&e, buf, size);
        recv_msg(&e, buf, size);
        check(buf, size, END);
        printf("%.0f\n", (double)total / (1 << 20) / ((double)(now_ns() - t0) / 1e9));
    } else {
        uint64_t *samples = calloc(a.iters, sizeof *samples), seq = 0;
        for (size_t i = 0; i < a.iters + a.iters / 10; i++, seq++) {
            uint64_t t0 = now_ns();
            fill(buf, size, seq);
            send_msg(&e, buf, size);
            recv_msg(&e, buf, size);
            check(buf, size, seq);
            if (i >= a.iters / 10)
                samples[i - a.iters / 10] = now_ns() - t0;
        }
        print_percentiles(samples, a.iters);
    }
    waitpid(pid, 0, 0);
    return 0;
}
