/* Unix domain datagram ping-pong over socketpair(2): the same calls as compare's
 * "uds-datagram" row (uds_demo::datagram_duplex): SO_SNDBUF raised when a message needs it,
 * SO_RCVTIMEO and SO_SNDTIMEO of 100 ms (where compare checks that the peer is alive; a
 * ping-pong never reaches it), then one send and one recv (MSG_TRUNC) per message. Both
 * processes pinned, compare's payload work.
 * Usage: uds_dgram_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s) */
#include "pingpong.h"
#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

static void send_msg(int fd, const char *buf, size_t n)
{
    for (;;) {
        ssize_t put = send(fd, buf, n, 0);
        if (put == (ssize_t)n)
            return;
        if (put >= 0 || (errno != EAGAIN && errno != EINTR))
            die("send");
    }
}

static void recv_msg(int fd, char *buf, size_t n)
{
    for (;;) {
        ssize_t got = recv(fd, buf, n, MSG_TRUNC);
        if (got == (ssize_t)n)
            return;
        if (got >= 0) {
            fprintf(stderr, "a %zd-byte datagram, expected %zu\n", got, n);
            exit(1);
        }
        if (errno != EAGAIN && errno != EINTR)
            die("recv");
    }
}

/* What datagram_duplex does to each end. UNTIMED=1 in the environment: no timeouts, the
 * minimal calls, to show what carrying them costs. */
static void prepare(int fd, size_t size)
{
    int sndbuf;
    socklen_t len = sizeof sndbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == -1)
        die("getsockopt SO_SNDBUF");
    if (size + 1024 > (size_t)sndbuf) {
        int want = (int)(size + 1024);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    }
    struct timeval check = { .tv_sec = 0, .tv_usec = 100000 };
    if (getenv("UNTIMED"))
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &check, sizeof check) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &check, sizeof check) == -1)
        die("setsockopt SO_RCVTIMEO / SO_SNDTIMEO");
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == -1)
        die("socketpair");
    size_t size = a.size == 0 ? a.chunk : a.size;
    prepare(sv[0], size);
    prepare(sv[1], size);
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        close(sv[0]);
        pin(a.child_cpu);
        child_side(sv[1], sv[1], a);
        _exit(0);
    }
    close(sv[1]);
    pin(a.parent_cpu);
    parent_side(sv[0], sv[0], a);
    close(sv[0]);
    waitpid(pid, 0, 0);
    return 0;
}
