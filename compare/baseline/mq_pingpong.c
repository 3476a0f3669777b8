/* POSIX message queue ping-pong: the same calls as compare's "mq" row (mq_demo::duplex): two
 * queues, one per direction, created exclusively (0600) and opened once each O_RDWR, holding
 * min(msg_max, 10) messages of SIZE bytes, the names unlinked before fork; then one
 * mq_timedsend and one mq_timedreceive per message, each with a deadline 100 ms away (where
 * compare checks that the peer is alive; a ping-pong never reaches it). Both processes pinned,
 * compare's payload work. Throughput messages are msgsize_max bytes if that is below 64 KiB.
 * Usage: mq_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s) */
#include "pingpong.h"
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <sys/wait.h>

static struct timespec deadline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* UNTIMED=1 in the environment: plain mq_send/mq_receive, the minimal calls, to show what
 * carrying the deadline costs. */
static int untimed;

static void send_msg(int q, const char *buf, size_t n)
{
    for (;;) {
        struct timespec until = deadline();
        if ((untimed ? mq_send(q, buf, n, 0) : mq_timedsend(q, buf, n, 0, &until)) == 0)
            return;
        if (errno != ETIMEDOUT && errno != EINTR)
            die("mq_timedsend");
    }
}

static void recv_msg(int q, char *buf, size_t n)
{
    for (;;) {
        struct timespec until = deadline();
        ssize_t got = untimed ? mq_receive(q, buf, n, 0) : mq_timedreceive(q, buf, n, 0, &until);
        if (got == (ssize_t)n)
            return;
        if (got >= 0) {
            fprintf(stderr, "a %zd-byte message, expected %zu\n", got, n);
            exit(1);
        }
        if (errno != ETIMEDOUT && errno != EINTR)
            die("mq_timedreceive");
    }
}

static long proc_knob(const char *path)
{
    FILE *f = fopen(path, "r");
    long value = -1;
    if (!f || fscanf(f, "%ld", &value) != 1)
        die(path);
    fclose(f);
    return value;
}

static mqd_t new_queue(long maxmsg, size_t msgsize)
{
    char name[64];
    snprintf(name, sizeof name, "/ipc-tour-baseline-%d-%ld", (int)getpid(), random());
    struct mq_attr attr = { .mq_maxmsg = maxmsg, .mq_msgsize = (long)msgsize };
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
    if (q == (mqd_t)-1)
        die("mq_open");
    if (fchmod(q, 0600) == -1 || mq_unlink(name) == -1)
        die("fchmod / mq_unlink");
    return q;
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    untimed = getenv("UNTIMED") != 0;
    long msgsize_max = proc_knob("/proc/sys/fs/mqueue/msgsize_max");
    long maxmsg = proc_knob("/proc/sys/fs/mqueue/msg_max");
    if ((long)a.chunk > msgsize_max)
        a.chunk = (size_t)msgsize_max;
    size_t size = a.size == 0 ? a.chunk : a.size;
    mqd_t to_child = new_queue(maxmsg < 10 ? maxmsg : 10, size);
    mqd_t to_parent = new_queue(maxmsg < 10 ? maxmsg : 10, size);
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        pin(a.child_cpu);
        child_side(to_child, to_parent, a);
        _exit(0);
    }
    pin(a.parent_cpu);
    parent_side(to_parent, to_child, a);
    waitpid(pid, 0, 0);
    return 0;
}
