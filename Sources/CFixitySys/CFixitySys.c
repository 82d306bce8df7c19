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

#include <stdlib.h>
#include <zlib.h>

struct fixity_gzip {
    z_stream stream;
    gz_header header;
    int inflating;
};

fixity_gzip *fixity_gzip_deflater(int level) {
    fixity_gzip *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    // windowBits 15 + 16: a gzip wrapper; memLevel 8 and the default strategy, as gzip(1).
    if (deflateInit2(&z->stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) { free(z); return NULL; }
    z->header.time = 0;
    z->header.os = 3;
    deflateSetHeader(&z->stream, &z->header);
    return z;
}

fixity_gzip *fixity_gzip_inflater(void) {
    fixity_gzip *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    if (inflateInit2(&z->stream, 15 + 16) != Z_OK) { free(z); return NULL; }
    z->inflating = 1;
    return z;
}

int fixity_gzip_step(fixity_gzip *z, const void *in, size_t in_len, size_t *consumed, void *out, size_t out_cap, size_t *produced, int finish) {
    z->stream.next_in = (Bytef *)in;
    z->stream.avail_in = (uInt)in_len;
    z->stream.next_out = (Bytef *)out;
    z->stream.avail_out = (uInt)out_cap;
    int status = z->inflating ? inflate(&z->stream, Z_NO_FLUSH) : deflate(&z->stream, finish ? Z_FINISH : Z_NO_FLUSH);
    *consumed = in_len - z->stream.avail_in;
    *produced = out_cap - z->stream.avail_out;
    if (status == Z_STREAM_END) return 1;
    if (status == Z_OK || status == Z_BUF_ERROR) return 0;
    return -1;
}

const char *fixity_gzip_error(fixity_gzip *z) { return z->stream.msg ? z->stream.msg : "zlib error"; }

void fixity_gzip_free(fixity_gzip *z) {
    if (!z) return;
    if (z->inflating) inflateEnd(&z->stream); else deflateEnd(&z->stream);
    free(z);
}
