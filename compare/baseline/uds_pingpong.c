/* Unix domain stream socket ping-pong over socketpair(2): the same calls as compare's
 * "uds-stream" row (send/recv on a connected AF_UNIX stream, as Rust's UnixStream makes them),
 * both processes pinned, and the same work per message: compare's pattern filled by the
 * sender, checked by the receiver.
 * Usage: uds_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s) */
#include "pingpong.h"
#include <sys/socket.h>
#include <sys/wait.h>

SOCKET_CALLS

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
        die("socketpair");
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
