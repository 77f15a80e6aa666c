/* SPDX-License-Identifier: MIT */
/*
 * librecorder.so: the interposed functions. Each one calls the next definition (libluoshim.so when stacked
 * in front of it, else libc and the real kernel) and, when recording is on and the call is not nested in
 * another interposed call, writes one trace line after it returns (docs/trace-format.md §7).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luorec.h"

static const struct {
	int e;
	const char *name;
} names[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EIO, "EIO" }, { E2BIG, "E2BIG" },
	{ EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" }, { EMFILE, "EMFILE" },
	{ ENOTTY, "ENOTTY" }, { EFBIG, "EFBIG" }, { ENOSPC, "ENOSPC" }, { ESPIPE, "ESPIPE" }, { ERANGE, "ERANGE" },
	{ ENODATA, "ENODATA" }, { EOPNOTSUPP, "EOPNOTSUPP" },
};

/* "N" or "-1 ENAME" (or "-E" for errnos the reader has no name for) */
const char *rec_result(long rc, int e, char *buf, size_t cap)
{
	size_t i;

	if (rc >= 0) {
		snprintf(buf, cap, "%ld", rc);
		return buf;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e) {
			snprintf(buf, cap, "-1 %s", names[i].name);
			return buf;
		}
	snprintf(buf, cap, "%d", -e);
	return buf;
}

/* ---- open family ---- */

static int after_open(const char *call, int dirfd, const char *path, int flags, int fd, int e, uint64_t t0)
{
	char q[1200], r[48], d[24] = "";

	if (!path)
		path = "";
	rec_quote(q, sizeof(q), path, strnlen(path, 1000));
	if (dirfd != -1000)
		snprintf(d, sizeof(d), "%d, ", dirfd);
	rec_lock();
	if (fd >= 0)
		rec_set_kind(fd, rec_is_device_path(path) ? REC_DEVICE : REC_NONE);
	rec_line(t0, rec_now(), "%s(%s%s, 0x%x) = %s", call, d, q, (unsigned)flags, rec_result(fd, e, r, sizeof(r)));
	rec_unlock();
	errno = e;
	return fd;
}

#define OPEN_BODY(call, real, dirfd, ...)                                   \
	do {                                                                    \
		uint64_t t0;                                                        \
		int fd, e;                                                          \
		rec_resolve();                                                      \
		if (!rec_enabled())                                                 \
			return real(__VA_ARGS__);                                       \
		rec_depth++;                                                        \
		t0 = rec_now();                                                     \
		fd = real(__VA_ARGS__);                                             \
		e = errno;                                                          \
		rec_depth--;                                                        \
		return after_open(call, dirfd, path, flags, fd, e, t0);             \
	} while (0)

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

REC_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	OPEN_BODY("open", rec_real_open, -1000, path, flags, m);
}

REC_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	OPEN_BODY("open", rec_real_open64, -1000, path, flags, m);
}

REC_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	OPEN_BODY("openat", rec_real_openat, dirfd, dirfd, path, flags, m);
}

REC_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	OPEN_BODY("openat", rec_real_openat64, dirfd, dirfd, path, flags, m);
}

REC_EXPORT int __open_2(const char *path, int flags)
{
	OPEN_BODY("open", rec_real___open_2, -1000, path, flags);
}

REC_EXPORT int __open64_2(const char *path, int flags)
{
	OPEN_BODY("open", rec_real___open64_2, -1000, path, flags);
}

REC_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	OPEN_BODY("openat", rec_real___openat_2, dirfd, dirfd, path, flags);
}

REC_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	OPEN_BODY("openat", rec_real___openat64_2, dirfd, dirfd, path, flags);
}

/* ---- close, dup ---- */

REC_EXPORT int close(int fd)
{
	uint64_t t0;
	int rc, e;
	char r[48];

	rec_resolve();
	if (!rec_enabled())
		return rec_real_close(fd);
	rec_depth++;
	rec_lock();
	if (rec_kind(fd) == REC_MEMFD)
		rec_memfd_state(fd);
	rec_unlock();
	t0 = rec_now();
	rc = rec_real_close(fd);
	e = errno;
	rec_lock();
	if (rc == 0)
		rec_set_kind(fd, REC_NONE);
	rec_line(t0, rec_now(), "close(%d) = %s", fd, rec_result(rc, e, r, sizeof(r)));
	rec_unlock();
	rec_depth--;
	errno = e;
	return rc;
}

static void forget_range(unsigned int first, unsigned int last)
{
	unsigned int fd;

	for (fd = first; fd <= last && fd < 65536; fd++)
		rec_set_kind((int)fd, REC_NONE);
}

REC_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	uint64_t t0;
	int rc, e;
	char r[48];

	rec_resolve();
	if (!rec_enabled())
		return rec_real_close_range(first, last, flags);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_close_range(first, last, flags);
	e = errno;
	rec_lock();
	if (rc == 0 && !(flags & 4 /* CLOSE_RANGE_CLOEXEC */))
		forget_range(first, last);
	rec_line(t0, rec_now(), "close_range(%u, %u, 0x%x) = %s", first, last, (unsigned)flags, rec_result(rc, e, r, sizeof(r)));
	rec_unlock();
	rec_depth--;
	errno = e;
	return rc;
}

REC_EXPORT void closefrom(int lowfd)
{
	uint64_t t0;

	rec_resolve();
	if (!rec_enabled()) {
		rec_real_closefrom(lowfd);
		return;
	}
	rec_depth++;
	t0 = rec_now();
	rec_real_closefrom(lowfd);
	rec_lock();
	forget_range((unsigned)lowfd, ~0u);
	rec_line(t0, rec_now(), "close_range(%d, 4294967295, 0x0) = 0", lowfd);
	rec_unlock();
	rec_depth--;
}

static int after_dup(const char *text, int oldfd, int newfd, int e, uint64_t t0)
{
	char r[48];

	rec_lock();
	if (newfd >= 0 && newfd != oldfd) {
		int kind = rec_kind(oldfd);
		const unsigned char *n = rec_name(oldfd);
		unsigned char name[64];

		if (n)
			memcpy(name, n, sizeof(name));
		rec_set_kind(newfd, kind);
		if (kind == REC_SESSION && n)
			rec_set_name(newfd, name);
	}
	rec_line(t0, rec_now(), "%s = %s", text, rec_result(newfd, e, r, sizeof(r)));
	rec_unlock();
	errno = e;
	return newfd;
}

REC_EXPORT int dup(int fd)
{
	uint64_t t0;
	int rc, e;
	char c[64];

	rec_resolve();
	if (!rec_enabled())
		return rec_real_dup(fd);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_dup(fd);
	e = errno;
	rec_depth--;
	snprintf(c, sizeof(c), "dup(%d)", fd);
	return after_dup(c, fd, rc, e, t0);
}

REC_EXPORT int dup2(int fd, int to)
{
	uint64_t t0;
	int rc, e;
	char c[64];

	rec_resolve();
	if (!rec_enabled())
		return rec_real_dup2(fd, to);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_dup2(fd, to);
	e = errno;
	rec_depth--;
	snprintf(c, sizeof(c), "dup2(%d, %d)", fd, to);
	return after_dup(c, fd, rc, e, t0);
}

REC_EXPORT int dup3(int fd, int to, int flags)
{
	uint64_t t0;
	int rc, e;
	char c[80];

	rec_resolve();
	if (!rec_enabled())
		return rec_real_dup3(fd, to, flags);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_dup3(fd, to, flags);
	e = errno;
	rec_depth--;
	snprintf(c, sizeof(c), "dup3(%d, %d, 0x%x)", fd, to, (unsigned)flags);
	return after_dup(c, fd, rc, e, t0);
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	uint64_t t0;
	int rc, e;
	char c[80];

	rec_resolve();
	if (!rec_enabled() || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC))
		return real(fd, cmd, arg);
	rec_depth++;
	t0 = rec_now();
	rc = real(fd, cmd, arg);
	e = errno;
	rec_depth--;
	snprintf(c, sizeof(c), "fcntl(%d, %s, %d)", fd, cmd == F_DUPFD ? "F_DUPFD" : "F_DUPFD_CLOEXEC", (int)(long)arg);
	return after_dup(c, fd, rc, e, t0);
}

REC_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(rec_real_fcntl, fd, cmd, arg);
}

REC_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(rec_real_fcntl64 ? rec_real_fcntl64 : rec_real_fcntl, fd, cmd, arg);
}

/* ---- memfd, sizes, limits ---- */

REC_EXPORT int memfd_create(const char *name, unsigned int flags)
{
	uint64_t t0;
	int rc, e;
	char q[600], r[48];

	rec_resolve();
	if (!rec_enabled())
		return rec_real_memfd_create(name, flags);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_memfd_create(name, flags);
	e = errno;
	rec_quote(q, sizeof(q), name ? name : "", name ? strnlen(name, 249) : 0);
	rec_lock();
	if (rc >= 0)
		rec_set_kind(rc, REC_MEMFD);
	rec_line(t0, rec_now(), "memfd_create(%s, 0x%x) = %s", q, flags, rec_result(rc, e, r, sizeof(r)));
	rec_unlock();
	rec_depth--;
	errno = e;
	return rc;
}

REC_EXPORT int ftruncate(int fd, off_t len)
{
	uint64_t t0;
	int rc, e;
	char r[48];

	rec_resolve();
	if (!rec_enabled() || rec_kind(fd) != REC_MEMFD)
		return rec_real_ftruncate(fd, len);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_ftruncate(fd, len);
	e = errno;
	rec_lock();
	rec_line(t0, rec_now(), "ftruncate(%d, %lld) = %s", fd, (long long)len, rec_result(rc, e, r, sizeof(r)));
	rec_unlock();
	rec_depth--;
	errno = e;
	return rc;
}

REC_EXPORT int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
	uint64_t t0;
	int rc, e;
	char r[48];

	rec_resolve();
	if (!rec_enabled() || res != RLIMIT_NOFILE)
		return rec_real_setrlimit(res, rl);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_setrlimit(res, rl);
	e = errno;
	rec_lock();
	rec_line(t0, rec_now(), "setrlimit(RLIMIT_NOFILE, %llu, %llu) = %s", (unsigned long long)rl->rlim_cur,
		 (unsigned long long)rl->rlim_max, rec_result(rc, e, r, sizeof(r)));
	rec_unlock();
	rec_depth--;
	errno = e;
	return rc;
}

/* ---- fork, exit ---- */

/* The child writes the fork line before any of its own lines; the parent waits for it (a pipe), so the
 * parent's later lines follow it too. */
REC_EXPORT pid_t fork(void)
{
	uint64_t t0;
	pid_t p;
	int sync[2] = { -1, -1 }, e;
	char b = 0, r[48];

	rec_resolve();
	if (!rec_enabled())
		return rec_real_fork();
	rec_depth++;
	if (pipe2(sync, O_CLOEXEC) < 0)
		sync[0] = sync[1] = -1;
	t0 = rec_now();
	p = rec_real_fork();
	e = errno;
	if (p == 0) {
		rec_after_fork_child();
		rec_line_as((int)getppid(), t0, rec_now(), "fork() = %d", (int)getpid());
		if (sync[1] >= 0 && write(sync[1], &b, 1) < 0)
			b = 1;
	} else if (p < 0) {
		rec_lock();
		rec_line(t0, rec_now(), "fork() = %s", rec_result(p, e, r, sizeof(r)));
		rec_unlock();
	} else if (sync[0] >= 0) {
		rec_real_close(sync[1]);
		sync[1] = -1;
		while (read(sync[0], &b, 1) < 0 && errno == EINTR)
			;
	}
	if (sync[0] >= 0)
		rec_real_close(sync[0]);
	if (sync[1] >= 0)
		rec_real_close(sync[1]);
	rec_depth--;
	errno = e;
	return p;
}

/* A reaped child is gone, however it ended (a signal leaves no exit line): "waitpid(ARG) = PID". */
static pid_t after_wait(pid_t want, pid_t rc, int e, uint64_t t0)
{
	char r[48];

	rec_lock();
	if (rc > 0)
		rec_line(t0, rec_now(), "waitpid(%d) = %s", (int)want, rec_result(rc, e, r, sizeof(r)));
	rec_unlock();
	rec_depth--;
	errno = e;
	return rc;
}

REC_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	uint64_t t0;
	pid_t rc;

	rec_resolve();
	if (!rec_enabled())
		return rec_real_wait4(pid, status, options, NULL);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_wait4(pid, status, options, NULL);
	return after_wait(pid, rc, errno, t0);
}

REC_EXPORT pid_t wait(int *status)
{
	return waitpid(-1, status, 0);
}

REC_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	uint64_t t0;
	pid_t rc;

	rec_resolve();
	if (!rec_enabled())
		return rec_real_wait4(pid, status, options, ru);
	rec_depth++;
	t0 = rec_now();
	rc = rec_real_wait4(pid, status, options, ru);
	return after_wait(pid, rc, errno, t0);
}

REC_EXPORT void _exit(int status)
{
	rec_resolve();
	if (rec_enabled())
		rec_exit_hook();
	rec_real__exit(status);
	for (;;)
		;
}
