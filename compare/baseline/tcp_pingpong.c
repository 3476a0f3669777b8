/* TCP loopback ping-pong: the same calls as compare's "tcp" row (uds_demo::tcp_duplex): a
 * listener on 127.0.0.1, port chosen by the kernel, connect, accept, TCP_NODELAY on both ends,
 * then send/recv as Rust's TcpStream makes them; both processes pinned, compare's payload work.
 * Usage: tcp_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s) */
#include "pingpong.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>

SOCKET_CALLS

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1 || bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(listener, 128) == -1 || getsockname(listener, (struct sockaddr *)&addr, &len) == -1)
        die("listen on 127.0.0.1");
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client == -1 || connect(client, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("connect");
    int server = accept4(listener, 0, 0, SOCK_CLOEXEC);
    if (server == -1)
        die("accept");
    close(listener);
    int one = 1;
    if (setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1 ||
        setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
        die("setsockopt TCP_NODELAY");
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        close(client);
        pin(a.child_cpu);
        child_side(server, server, a);
        _exit(0);
    }
    close(server);
    pin(a.parent_cpu);
    parent_side(client, client, a);
    close(client);
    waitpid(pid, 0, 0);
    return 0;
}
