#define _GNU_SOURCE
#include "CFixitySys.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

int fixity_syncfs(int fd) { return syncfs(fd); }

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

static volatile sig_atomic_t stop_requested = 0;

static void fixity_on_stop(int signo) { (void)signo; stop_requested = 1; }

void fixity_install_stop_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = fixity_on_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    /* A process started by a thread that blocks signals (a test runner, some supervisors)
       inherits that mask: unblock the two we promise to honour. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int fixity_stop_requested(void) { return stop_requested; }
