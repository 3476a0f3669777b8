/* FIFO ping-pong: the same calls as compare's "fifo" row (fifo_demo::duplex): two FIFOs in a
 * private directory, both ends of each opened before fork (the read end O_NONBLOCK first, then
 * made blocking), the names removed, then write(2)/read(2); both processes pinned, compare's
 * payload work.
 * Usage: fifo_pingpong PARENT_CPU CHILD_CPU ITERS SIZE   (SIZE 0: one-way MiB/s) */
#include "pingpong.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

FD_CALLS

/* mkfifo `path` (mode 0600 whatever the umask), open its read end then its write end. */
static void open_fifo(const char *path, int *rx, int *tx)
{
    if (mkfifo(path, 0600) == -1 || chmod(path, 0600) == -1)
        die("mkfifo");
    *rx = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    *tx = open(path, O_WRONLY | O_CLOEXEC);
    if (*rx == -1 || *tx == -1)
        die("open FIFO");
    if (fcntl(*rx, F_SETFL, fcntl(*rx, F_GETFL) & ~O_NONBLOCK) == -1)
        die("fcntl");
    if (unlink(path) == -1)
        die("unlink");
}

int main(int argc, char **argv)
{
    struct args a = parse(argc, argv);
    const char *tmp = getenv("TMPDIR");
    char dir[4096], to_child_path[4200], to_parent_path[4200];
    snprintf(dir, sizeof dir, "%s/ipc-tour-baseline-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp");
    snprintf(to_child_path, sizeof to_child_path, "%s/to-child", dir);
    snprintf(to_parent_path, sizeof to_parent_path, "%s/to-parent", dir);
    int to_child[2], to_parent[2];
    open_fifo(to_child_path, &to_child[0], &to_child[1]);
    open_fifo(to_parent_path, &to_parent[0], &to_parent[1]);
    if (rmdir(dir) == -1)
        die("rmdir");
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
