/* System V message queue ping-pong: two queues (IPC_PRIVATE, mode 0600), one per direction;
 * the parent sends with msgsnd and waits in msgrcv for the echo, the child echoes. Same calls
 * as compare's "sysv-mq" row: blocking msgsnd(type 1) and msgrcv(msgtyp -2: data before the
 * peer-gone notice), both processes pinned, compare's pattern filled and checked.
 * Like compare's row, each process runs a watchdog thread that sleeps in poll() on the peer's
 * end of a socket pair and, when the peer dies, queues the zero-length peer-gone notice (type
 * 2) for its own reader. It makes no call per message, yet a second thread in the process
 * makes each same-core round trip about 5% dearer here; UNTIMED=1 in the environment leaves
 * it out, to show that cost (the name is the one the other rows' switch has).
 * Usage: sysv_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s in 8 KiB
 * messages, msgmax by default, where the others use 64 KiB) */
#include "common.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define STREAM_CHUNK 8192 /* /proc/sys/kernel/msgmax by default */

struct msg { long mtype; char mtext[]; };

static struct msg *buf_for(size_t size)
{
    struct msg *m = calloc(1, sizeof(struct msg) + size);
    if (!m)
        die("calloc");
    return m;
}

static void send_msg(int q, struct msg *m, size_t size)
{
    m->mtype = 1;
    while (msgsnd(q, m, size, 0) == -1)
        if (errno != EINTR)
            die("msgsnd");
}

static void recv_msg(int q, struct msg *m, size_t size)
{
    ssize_t got;
    while ((got = msgrcv(q, m, size, -2, 0)) == -1)
        if (errno != EINTR)
            die("msgrcv");
    if ((size_t)got != size) {
        fprintf(stderr, "msgrcv: %zd bytes, expected %zu\n", got, size);
        exit(1);
    }
}

static void parent(int rx, int tx, struct args a)
{
    size_t size = a.size ? a.size : STREAM_CHUNK;
    struct msg *m = buf_for(size);
    if (a.size == 0) {
        size_t total = 64 << 20;
        uint64_t t0 = now_ns(), seq = 0;
        for (size_t sent = 0; sent < total; sent += size, seq++) {
            fill(m->mtext, size, seq);
            send_msg(tx, m, size);
        }
        fill(m->mtext, size, END);
        send_msg(tx, m, size);
        recv_msg(rx, m, size);
        check(m->mtext, size, END);
        printf("%.0f\n", (double)total / (1 << 20) / ((double)(now_ns() - t0) / 1e9));
        return;
    }
    uint64_t *samples = calloc(a.iters, sizeof *samples);
    uint64_t seq = 0;
    for (size_t i = 0; i < a.iters + a.iters / 10; i++, seq++) {
        uint64_t t0 = now_ns();
        fill(m->mtext, size, seq);
        send_msg(tx, m, size);
        recv_msg(rx, m, size);
        check(m->mtext, size, seq);
        if (i >= a.iters / 10) /* the first tenth warms up */
            samples[i - a.iters / 10] = now_ns() - t0;
    }
    print_percentiles(samples, a.iters);
}

static void child(int rx, int tx, struct args a)
{
    size_t size = a.size ? a.size : STREAM_CHUNK;
    struct msg *m = buf_for(size);
    for (uint64_t seq = 0;; seq++) {
        recv_msg(rx, m, size);
        if (a.size == 0 && is_end(m->mtext)) {
            send_msg(tx, m, size);
            return;
        }
        check(m->mtext, size, seq);
        if (a.size != 0) {
            send_msg(tx, m, size);
            if (seq + 1 == a.iters + a.iters / 10)
                return;
        }
    }
}

/* The watchdog: sleeps until the peer's socket ends (it died, or exited), then tells our
 * reader with the notice, which msgrcv(-2) reads after any data. */
struct watch { int peer_alive, rx; };

static void *watchdog(void *arg)
{
    struct watch *w = arg;
    struct pollfd p = { .fd = w->peer_alive, .events = POLLIN };
    while (poll(&p, 1, -1) == -1 && errno == EINTR)
        ;
    struct msg notice = { .mtype = 2 };
    msgsnd(w->rx, &notice, 0, IPC_NOWAIT); /* fails harmlessly once the queue is removed */
    return 0;
}

static void start_watchdog(struct watch *w)
{
    pthread_t t;
    if (getenv("UNTIMED"))
        return;
    if (pthread_create(&t, 0, watchdog, w) != 0)
        die("pthread_create");
    pthread_detach(t);
}

/* A System V queue outlives its processes: the parent removes both on every exit() (the end
 * of main, or an error), or `ipcs -q` would list them. */
static int to_child = -1, to_parent = -1;

static void remove_queues(void)
{
    if (to_child != -1)
        msgctl(to_child, IPC_RMID, 0);
    if (to_parent != -1)
        msgctl(to_parent, IPC_RMID, 0);
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    atexit(remove_queues); /* inherited: a child that fails with exit() removes them too */
    to_child = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    to_parent = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (to_child == -1 || to_parent == -1)
        die("msgget");
    int alive[2]; /* [0] the parent's, [1] the child's: each watches the other's end close */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, alive) == -1)
        die("socketpair");
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        pin(a.child_cpu);
        close(alive[0]);
        static struct watch w; /* static: the detached thread may outlive any frame */
        w = (struct watch){ alive[1], to_child };
        start_watchdog(&w);
        child(to_child, to_parent, a);
        _exit(0);
    }
    pin(a.parent_cpu);
    close(alive[1]);
    static struct watch w;
    w = (struct watch){ alive[0], to_parent };
    start_watchdog(&w);
    /* The watchdog notices a dead child; under UNTIMED=1 there is none, and the default
     * action of SIGALRM ends a run whose child died instead of a hang. */
    alarm(300);
    parent(to_parent, to_child, a);
    waitpid(pid, 0, 0);
    return 0; /* remove_queues runs at exit */
}
