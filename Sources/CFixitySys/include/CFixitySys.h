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

/* getdents64(2): a folder's entries straight into `buffer` as struct linux_dirent64 records
   (d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name NUL-terminated). Returns the bytes
   filled, 0 at the end, -1 with errno. No DIR stream: one syscall fewer per folder than
   fdopendir, and no duplicate descriptor. */
long fixity_getdents64(int fd, void *buffer, unsigned long size);

/// O_PATH (a GNU extension Glibc's Swift overlay does not show): a descriptor that names an
/// inode without opening it for reading or writing.
#define FIXITY_O_PATH 010000000

/* chmod of the inode an O_PATH descriptor names (fchmod refuses O_PATH descriptors):
   fchmodat2(fd, "", mode, AT_EMPTY_PATH) from Linux 6.6; on an older kernel (or a seccomp
   filter that does not know the call) chmod of /proc/self/fd/N, the link to that very inode,
   as glibc itself does for fchmodat(AT_SYMLINK_NOFOLLOW). Never a name in the tree. */
int fixity_fchmod_path_fd(int fd, unsigned int mode);

/* A readable and writable file that never has a name, mode 0600, close-on-exec: O_TMPFILE in
   `dir`, or where that file system cannot (or `dir` is unusable) an anonymous memory file
   (memfd_create). Nothing to clean up, even when the process is killed. -1 with errno. */
int fixity_private_file(const char *dir);

/// Opens `path` below `dirfd` with `flags` (O_NOFOLLOW and O_CLOEXEC added), resolving no
/// symlink on the way and never leaving `dirfd` (openat2 RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH);
/// -1 with errno ELOOP or EXDEV when the path passes through a symlink or out.
int fixity_open_file_beneath(int dirfd, const char *path, int flags);

/// Installs a SIGINT handler that prints one line saying the command stopped and that what it
/// had not finished was not recorded (every write is atomic), then exits 130 at once — the same
/// end state as being killed, with a word for the person who pressed Ctrl-C. Commands with a
/// clean stop of their own (deploy during its health check, watch) replace it.
void fixity_install_interrupt_notice(void);

/// Installs SIGINT and SIGTERM handlers that only set a flag (async-signal-safe), for loops
/// that must stop cleanly between iterations.
void fixity_install_stop_handlers(void);
/// True once SIGINT or SIGTERM arrived.
int fixity_stop_requested(void);

/// Starts `/bin/sh -c command` in `dir` as the leader of a new process group, with standard input
/// from /dev/null, standard output and error on `outfd`, every other descriptor closed, default
/// signal dispositions and an empty signal mask. Returns the pid, or -1 with errno set.
int fixity_spawn_shell(const char *dir, const char *command, char *const envp[], int outfd);
/// Starts the program `argv[0]` (looked up on PATH) with `argv`, standard input from /dev/null,
/// standard output on `outfd`, standard error to /dev/null and every other descriptor closed.
/// Returns the pid, or -1 with errno set.
int fixity_spawn_capture(char *const argv[], char *const envp[], int outfd);

/* Runs argv (PATH searched) in `dir` as the leader of a new process group, stdin /dev/null,
   stdout to outfd, stderr to errfd, nothing else open, signals reset: a command in an access
   window. Returns the pid, or -1 with errno. */
int fixity_spawn_command(const char *dir, char *const argv[], char *const envp[], int outfd, int errfd);

/* pipe2(fds, O_CLOEXEC): Swift does not see pipe2 without _GNU_SOURCE. */
int fixity_pipe_cloexec(int fds[2]);
/// Waits up to `timeout_ms` for the child `pid` to exit (that process only, never its
/// descendants): 1 with *status set (as waitpid's) when it exited, 0 when it is still running,
/// -1 with errno on error. When `stoppable`, returns early (0) once a stop signal arrived.
int fixity_wait_child(int pid, int timeout_ms, int stoppable, int *status);
/// waitpid's status decoded: the exit code, or 128 + the signal that ended it.
int fixity_exit_code(int status);

#endif
