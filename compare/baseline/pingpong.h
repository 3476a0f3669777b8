/* compare's two sides for the rows that carry bytes: the parent's warm-up and timed round
 * trips (or a one-way stream), the child's check and echo. A program defines its row's two
 * calls, send_msg and recv_msg (one message each, with the system call compare's row makes);
 * the stream rows take them from FD_CALLS or SOCKET_CALLS. */
#include "common.h"
#include <sys/socket.h>

/* One message of n bytes: defined by each program, as its row sends and receives. */
static void send_msg(int fd, const char *buf, size_t n);
static void recv_msg(int fd, char *buf, size_t n);

/* The stream rows (pipe, FIFO, TCP, UDS stream): a message is written and read whole, in as
 * many calls as the kernel needs (one, for the sizes compared). Sockets use send/recv with
 * MSG_NOSIGNAL, as Rust's std does; pipes and FIFOs read/write. */
#define STREAM_CALLS(WRITE, READ)                                                                \
    static void send_msg(int fd, const char *buf, size_t n)                                     \
    {                                                                                            \
        while (n > 0) {                                                                          \
            ssize_t put = WRITE;                                                                 \
            if (put <= 0)                                                                        \
                die("write");                                                                    \
            buf += put;                                                                          \
            n -= (size_t)put;                                                                    \
        }                                                                                        \
    }                                                                                            \
    static void recv_msg(int fd, char *buf, size_t n)                                           \
    {                                                                                            \
        while (n > 0) {                                                                          \
            ssize_t got = READ;                                                                  \
            if (got <= 0)                                                                        \
                die("read");                                                                     \
            buf += got;                                                                          \
            n -= (size_t)got;                                                                    \
        }                                                                                        \
    }
#define FD_CALLS STREAM_CALLS(write(fd, buf, n), read(fd, buf, n))
#define SOCKET_CALLS STREAM_CALLS(send(fd, buf, n, MSG_NOSIGNAL), recv(fd, buf, n, 0))

/* How many messages of `chunk` bytes a stream sends before its clock starts, as compare's
 * harness (measure/sides.rs, warmup_messages): 1 MiB of them, and at least 16. */
static inline uint64_t stream_warmup(size_t chunk)
{
    uint64_t n = (1 << 20) / chunk;
    return n < 16 ? 16 : n;
}

/* The parent's side over a pair of fds, as compare's harness does it: warm-up and timed round
 * trips (fill, send, receive the echo, check it), or a one-way stream (warm-up messages and the
 * echo of the last, untimed; then fill, send; then the end message, whose echo is the
 * acknowledgement). Prints "p50_ns p99_ns" or "MiB/s". */
static inline void parent_side(int rx, int tx, struct args a)
{
    if (a.size == 0) {
        size_t chunk = a.chunk, total = 64 << 20;
        char *buf = calloc(1, chunk);
        uint64_t seq = 0;
        /* compare's untimed start: its warm-up messages, then the child's echo of the last. */
        for (; seq < stream_warmup(chunk); seq++) {
            fill(buf, chunk, seq);
            send_msg(tx, buf, chunk);
        }
        recv_msg(rx, buf, chunk);
        check(buf, chunk, seq - 1);
        uint64_t t0 = now_ns();
        size_t sent = 0;
        for (; sent < total; sent += chunk, seq++) {
            fill(buf, chunk, seq);
            send_msg(tx, buf, chunk);
        }
        fill(buf, chunk, END);
        send_msg(tx, buf, chunk);
        recv_msg(rx, buf, chunk);
        check(buf, chunk, END);
        printf("%.0f\n", (double)sent / (1 << 20) / ((double)(now_ns() - t0) / 1e9));
        return;
    }
    char *buf = calloc(1, a.size);
    uint64_t *samples = calloc(a.iters, sizeof *samples);
    uint64_t seq = 0;
    for (size_t i = 0; i < warmup(a.iters); i++, seq++) {
        fill(buf, a.size, seq);
        send_msg(tx, buf, a.size);
        recv_msg(rx, buf, a.size);
        check(buf, a.size, seq);
    }
    for (size_t i = 0; i < a.iters; i++, seq++) {
        uint64_t t0 = now_ns();
        fill(buf, a.size, seq);
        send_msg(tx, buf, a.size);
        recv_msg(rx, buf, a.size);
        check(buf, a.size, seq);
        samples[i] = now_ns() - t0;
    }
    print_percentiles(samples, a.iters);
}

/* The child's side: check each message and echo it, or check the stream and echo the end
 * message as the acknowledgement. */
static inline void child_side(int rx, int tx, struct args a)
{
    size_t size = a.size == 0 ? a.chunk : a.size;
    char *buf = calloc(1, size);
    for (uint64_t seq = 0;; seq++) {
        recv_msg(rx, buf, size);
        if (a.size == 0 && is_end(buf)) {
            send_msg(tx, buf, size);
            return;
        }
        check(buf, size, seq);
        if (a.size == 0 && seq + 1 == stream_warmup(size))
            send_msg(tx, buf, size); /* the last warm-up message: the parent's clock starts */
        if (a.size != 0) {
            send_msg(tx, buf, size);
            if (seq + 1 == a.iters + warmup(a.iters))
                return;
        }
    }
}
