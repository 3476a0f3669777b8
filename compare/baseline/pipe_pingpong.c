/* Pipe ping-pong: two pipes, parent writes and reads back, child echoes. Same calls as
 * compare's "pipe" row: write(2) and read(2) on each side, both processes pinned, and the
 * same work per message: compare's pattern filled by the sender, checked by the receiver.
 * Usage: pipe_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s) */
#include "pingpong.h"
#include <sys/wait.h>

FD_CALLS

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    int to_child[2], to_parent[2];
    if (pipe(to_child) == -1 || pipe(to_parent) == -1)
        die("pipe");
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        pin(a.child_cpu);
        child_side(to_child[0], to_parent[1], a);
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    pin(a.parent_cpu);
    parent_side(to_parent[0], to_child[1], a);
    close(to_child[1]);
    waitpid(pid, 0, 0);
    return 0;
}
