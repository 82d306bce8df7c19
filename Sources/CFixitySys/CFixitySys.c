#define _GNU_SOURCE
#include "CFixitySys.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

int fixity_syncfs(int fd) { return syncfs(fd); }

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* the same number on every architecture */
#endif

int fixity_fchmod_path_fd(int fd, unsigned int mode) {
    if (syscall(SYS_fchmodat2, fd, "", (mode_t)mode, AT_EMPTY_PATH) == 0) return 0;
    if (errno != ENOSYS && errno != EINVAL && errno != EPERM && errno != EOPNOTSUPP) return -1;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    return chmod(link, (mode_t)mode);
}

int fixity_private_file(const char *dir) {
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    fd = memfd_create("fixity-private", MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (fchmod(fd, 0600) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int fixity_ficlone(int dst, int src) { return ioctl(dst, FICLONE, src); }

int fixity_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
}

int fixity_set_immutable(int fd, int on) {
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return -1;
    int wanted = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    if (wanted == flags) return 0;
    return ioctl(fd, FS_IOC_SETFLAGS, &wanted);
}

int fixity_open_beneath(int dirfd, const char *path) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

long fixity_getdents64(int fd, void *buffer, unsigned long size) {
    return syscall(SYS_getdents64, fd, buffer, size);
}

int fixity_open_file_beneath(int dirfd, const char *path, int flags) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC);
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static void fixity_on_interrupt(int signo) {
    (void)signo;
    static const char line[] = "\nfixity: interrupted; what this command had not finished was not recorded (every write is atomic: run it again)\n";
    ssize_t ignored = write(2, line, sizeof line - 1);
    (void)ignored;
    _exit(130);
}

/* One handler for one signal, no flags (not SA_RESTART: a wait returns to check the flag). */
static void fixity_handle(int signo, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    sigaction(signo, &action, NULL);
}

void fixity_install_interrupt_notice(void) { fixity_handle(SIGINT, fixity_on_interrupt); }

static volatile sig_atomic_t stop_requested = 0;

static void fixity_on_stop(int signo) { (void)signo; stop_requested = 1; }

void fixity_install_stop_handlers(void) {
    fixity_handle(SIGINT, fixity_on_stop);
    fixity_handle(SIGTERM, fixity_on_stop);
    /* A process started by a thread that blocks signals (a test runner, some supervisors)
       inherits that mask: unblock the two we promise to honour. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int fixity_stop_requested(void) { return stop_requested; }

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

int fixity_spawn_shell(const char *dir, const char *command, char *const envp[], int outfd) {
    /* An absolute path: posix_spawnp does not search PATH for it. */
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    return fixity_spawn_command(dir, argv, envp, outfd, outfd);
}

int fixity_spawn_capture(char *const argv[], char *const envp[], int outfd) {
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init(&actions) != 0) return -1;
    int rc = 0;
    rc |= posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    rc |= posix_spawn_file_actions_adddup2(&actions, outfd, 1);
    rc |= posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    /* Nothing of ours (the store lock, the database) stays open in the child. */
    rc |= posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        errno = EINVAL;
        return -1;
    }
    pid_t pid = -1;
    int err = posix_spawnp(&pid, argv[0], &actions, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) { errno = err; return -1; }
    return (int)pid;
}

int fixity_wait_child(int pid, int timeout_ms, int stoppable, int *status) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t done = waitpid(pid, status, WNOHANG);
        if (done == pid) return 1;
        if (done < 0 && errno != EINTR) return -1;
        if (stoppable && stop_requested) return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long elapsed = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000LL;
        if (elapsed >= timeout_ms) return 0;
        /* 5 ms steps: a hook's exit is seen within a few milliseconds, at no measurable cost. */
        struct timespec step = {0, 5 * 1000 * 1000};
        nanosleep(&step, NULL);
    }
}

int fixity_exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

int fixity_spawn_command(const char *dir, char *const argv[], char *const envp[], int outfd, int errfd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    if (posix_spawn_file_actions_init(&actions) != 0) return -1;
    if (posix_spawnattr_init(&attr) != 0) { posix_spawn_file_actions_destroy(&actions); return -1; }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = 0;
    /* Its own process group (a timeout kills all it started), a clean signal mask and
       dispositions (ours block SIGTERM for the stop handler). */
    rc |= posix_spawnattr_setpgroup(&attr, 0);
    rc |= posix_spawnattr_setsigmask(&attr, &none);
    rc |= posix_spawnattr_setsigdefault(&attr, &all);
    rc |= posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc |= posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    rc |= posix_spawn_file_actions_adddup2(&actions, outfd, 1);
    rc |= posix_spawn_file_actions_adddup2(&actions, errfd, 2);
    /* Only the three standard descriptors reach the child: a daemon it starts must not hold
       anything of ours open (a lock, a socket, the database). */
    rc |= posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    rc |= posix_spawn_file_actions_addchdir_np(&actions, dir);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        errno = EINVAL;
        return -1;
    }
    pid_t pid = -1;
    int err = posix_spawnp(&pid, argv[0], &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (err != 0) { errno = err; return -1; }
    return (int)pid;
}

int fixity_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
