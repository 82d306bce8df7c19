#ifndef CFIXITYSYS_H
#define CFIXITYSYS_H

/// Flushes every dirty page of the file system that holds `fd` (syncfs(2)).
int fixity_syncfs(int fd);
/// Clones `src` into `dst` sharing extents (ioctl FICLONE); -1 with errno EOPNOTSUPP where unsupported.
int fixity_ficlone(int dst, int src);

/// Starts writeback of a file's dirty pages without waiting (sync_file_range WRITE): the disk
/// works while the caller keeps hashing; a later syncfs only waits for what is left.
int fixity_start_writeback(int fd, long long offset, long long length);

/// Sets (on != 0) or clears the Linux immutable attribute (FS_IOC_SETFLAGS, FS_IMMUTABLE_FL).
int fixity_set_immutable(int fd, int on);

/// Opens the folder `path` below `dirfd` without following any symlink on the way and without
/// leaving `dirfd` (openat2 with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH); -1 with errno ELOOP or
/// EXDEV when the path passes through a symlink or out, ENOSYS on kernels before 5.6.
int fixity_open_beneath(int dirfd, const char *path);

/// Installs SIGINT and SIGTERM handlers that only set a flag (async-signal-safe), for loops
/// that must stop cleanly between iterations.
void fixity_install_stop_handlers(void);
/// True once SIGINT or SIGTERM arrived.
int fixity_stop_requested(void);

#include <stddef.h>

/// A gzip stream (zlib) in either direction, for OCI layers. Deflate writes a fixed header (mtime
/// 0, no name, OS 3) so the same input and level give the same bytes.
typedef struct fixity_gzip fixity_gzip;
/// NULL when zlib cannot allocate.
fixity_gzip *fixity_gzip_deflater(int level);
fixity_gzip *fixity_gzip_inflater(void);
/// One step: consumes up to `in_len` bytes of `in`, writes up to `out_cap` bytes to `out`, reports
/// both; `finish` (deflate only) flushes the end of the stream. Returns 1 when the stream ended
/// (deflate: all output written; inflate: the gzip trailer was read and checked), 0 to continue,
/// -1 on corrupt input or a zlib error (message from fixity_gzip_error).
int fixity_gzip_step(fixity_gzip *z, const void *in, size_t in_len, size_t *consumed, void *out, size_t out_cap, size_t *produced, int finish);
const char *fixity_gzip_error(fixity_gzip *z);
void fixity_gzip_free(fixity_gzip *z);

#endif
