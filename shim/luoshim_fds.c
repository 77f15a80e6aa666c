/* SPDX-License-Identifier: MIT */
/*
 * libluoshim.so: the interposed descriptor calls (selftest-shim.md section 3): open* of /dev/liveupdate,
 * ioctl on owned fds, close, close_range, closefrom, dup, dup2, dup3, fcntl F_DUPFD*, fstatfs. Each
 * one passes straight to libc unless an owned fd or the device path is involved.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "luoshim_internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEVICE_PATH "/dev/liveupdate"

/* ---- open ---- */

/* Lexical normalisation of dir + "/" + path (".", "..", repeated slashes); symlinks are not followed. */
static int is_device_path(int dirfd, const char *path)
{
	char buf[PATH_MAX * 2], out[PATH_MAX * 2];
	size_t o = 0;
	char *tok, *save;

	if (!path || !strstr(path, "liveupdate"))
		return 0;
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(buf))
			return 0;
		strcpy(buf, path);
	} else {
		size_t l;

		if (dirfd == AT_FDCWD) {
			if (!getcwd(buf, PATH_MAX))
				return 0;
		} else {
			char link[64];
			ssize_t n;

			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			n = readlink(link, buf, PATH_MAX - 1);
			if (n <= 0)
				return 0;
			buf[n] = '\0';
		}
		l = strlen(buf);
		if (l + 1 + strlen(path) >= sizeof(buf))
			return 0;
		buf[l] = '/';
		strcpy(buf + l + 1, path);
	}
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		out[o++] = '/';
		strcpy(out + o, tok);
		o += strlen(tok);
	}
	out[o] = '\0';
	return strcmp(out, DEVICE_PATH) == 0;
}

/* Returns -2 when the daemon is not configured (the caller goes to libc), else the fd or -1. */
static int open_device(int flags)
{
	struct shim_reply r;
	int ph, e = 0, ret;

	if (!shim_configured)
		return -2;
	pthread_mutex_lock(&shim_lock);
	ph = eventfd(0, (flags & O_CLOEXEC) ? EFD_CLOEXEC : 0); /* the kernel reserves the fd first */
	if (ph < 0) {
		e = errno;
		ret = -1;
	} else if (shim_call(LUSM_OPEN, 0, (uint32_t)flags, DEVICE_PATH, sizeof(DEVICE_PATH) - 1, NULL, 0, -1, &r) < 0) {
		e = errno;
		shim_real_close(ph);
		ret = -1;
	} else if (r.rep.ret < 0) {
		e = r.rep.err;
		shim_real_close(ph);
		ret = -1;
	} else if (shim_set_slot(ph, SHIM_DEVICE, r.rep.new_handle) < 0) {
		shim_release_handle(r.rep.new_handle);
		shim_real_close(ph);
		e = ENOMEM;
		ret = -1;
	} else {
		ret = ph;
	}
	pthread_mutex_unlock(&shim_lock);
	shim_debug("open %s flags 0x%x = %d (errno %d)", DEVICE_PATH, flags, ret, e);
	if (ret < 0)
		errno = e;
	return ret;
}

#define NEEDS_MODE(flags) (((flags) & O_CREAT) || (((flags) & O_TMPFILE) == O_TMPFILE))

#define OPEN_BODY(dirfd, path, flags, call_real)                   \
	do {                                                           \
		if (is_device_path((dirfd), (path))) {                     \
			int rc_ = open_device(flags);                          \
			if (rc_ != -2)                                         \
				return rc_;                                        \
		}                                                          \
		return call_real;                                          \
	} while (0)

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (NEEDS_MODE(flags)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	shim_resolve();
	OPEN_BODY(AT_FDCWD, path, flags, shim_real_open(path, flags, mode));
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (NEEDS_MODE(flags)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	shim_resolve();
	OPEN_BODY(AT_FDCWD, path, flags, shim_real_open64(path, flags, mode));
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (NEEDS_MODE(flags)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	shim_resolve();
	OPEN_BODY(dirfd, path, flags, shim_real_openat(dirfd, path, flags, mode));
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (NEEDS_MODE(flags)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	shim_resolve();
	OPEN_BODY(dirfd, path, flags, shim_real_openat64(dirfd, path, flags, mode));
}

SHIM_EXPORT int __open_2(const char *path, int flags);
SHIM_EXPORT int __open_2(const char *path, int flags)
{
	shim_resolve();
	OPEN_BODY(AT_FDCWD, path, flags, shim_real___open_2(path, flags));
}

SHIM_EXPORT int __open64_2(const char *path, int flags);
SHIM_EXPORT int __open64_2(const char *path, int flags)
{
	shim_resolve();
	OPEN_BODY(AT_FDCWD, path, flags, shim_real___open64_2(path, flags));
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags);
SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	shim_resolve();
	OPEN_BODY(dirfd, path, flags, shim_real___openat_2(dirfd, path, flags));
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags);
SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	shim_resolve();
	OPEN_BODY(dirfd, path, flags, shim_real___openat64_2(dirfd, path, flags));
}

/* ---- ioctl ---- */

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	struct shim_slot *s;
	va_list ap;
	void *arg;
	uint32_t cmd = (uint32_t)request;
	int rc;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_resolve();
	pthread_mutex_lock(&shim_lock);
	s = shim_owned(fd);
	/* the generic VFS ioctls act on the placeholder, as the kernel handles them before the driver */
	if (!s || cmd == FIOCLEX || cmd == FIONCLEX || cmd == FIONBIO || cmd == FIOASYNC) {
		pthread_mutex_unlock(&shim_lock);
		return shim_real_ioctl(fd, request, arg);
	}
	rc = shim_forward_ioctl(fd, s, cmd, arg);
	{
		int e = errno;

		pthread_mutex_unlock(&shim_lock);
		errno = e;
	}
	return rc;
}

/* ---- close, close_range, closefrom ---- */

SHIM_EXPORT int close(int fd)
{
	struct shim_slot *s;
	uint64_t h;

	shim_resolve();
	pthread_mutex_lock(&shim_lock);
	if (shim_is_socket(fd)) {
		pthread_mutex_unlock(&shim_lock);
		errno = EBADF;
		return -1;
	}
	s = shim_owned(fd);
	if (!s) {
		pthread_mutex_unlock(&shim_lock);
		return shim_real_close(fd);
	}
	h = s->handle;
	s->kind = SHIM_NONE;
	shim_real_close(fd);
	shim_release_handle(h); /* synchronous: the very next call sees the release */
	pthread_mutex_unlock(&shim_lock);
	shim_debug("close %d (handle %llu)", fd, (unsigned long long)h);
	return 0; /* the kernel never reports release results through close */
}

static int sys_close_range(unsigned int first, unsigned int last, int flags)
{
	if (shim_real_close_range)
		return shim_real_close_range(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

/* close_range() on both sides of the shim's socket; callers hold shim_lock */
static int close_range_locked(unsigned int first, unsigned int last, int flags)
{
	int rc = 0;

	if (first > last) {
		errno = EINVAL;
		return -1;
	}
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		unsigned int fd;
		unsigned int top = shim_cap > 0 ? (unsigned int)shim_cap - 1 : 0;

		for (fd = first; shim_cap > 0 && fd <= last && fd <= top; fd++) {
			struct shim_slot *s = shim_owned((int)fd);

			if (s) {
				uint64_t h = s->handle;

				s->kind = SHIM_NONE;
				shim_release_handle(h);
			}
			if (fd == UINT_MAX)
				break;
		}
	}
	if (shim_sock >= 0 && (unsigned int)shim_sock >= first && (unsigned int)shim_sock <= last) {
		if ((unsigned int)shim_sock > first)
			rc = sys_close_range(first, (unsigned int)shim_sock - 1, flags);
		if (rc == 0 && (unsigned int)shim_sock < last)
			rc = sys_close_range((unsigned int)shim_sock + 1, last, flags);
		return rc;
	}
	return sys_close_range(first, last, flags);
}

SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	int rc, e;

	shim_resolve();
	pthread_mutex_lock(&shim_lock);
	rc = close_range_locked(first, last, flags);
	e = errno;
	pthread_mutex_unlock(&shim_lock);
	errno = e;
	return rc;
}

SHIM_EXPORT void closefrom(int lowfd)
{
	shim_resolve();
	if (lowfd < 0)
		lowfd = 0;
	pthread_mutex_lock(&shim_lock);
	if (close_range_locked((unsigned int)lowfd, ~0U, 0) < 0 && errno == ENOSYS) {
		struct rlimit rl;
		long fd, top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;

		for (fd = lowfd; fd < top; fd++)
			if (!shim_is_socket((int)fd))
				shim_real_close((int)fd);
	}
	pthread_mutex_unlock(&shim_lock);
}

/* ---- dup family, fcntl, fstatfs ---- */

/* The test is about to use number 'fd', which the shim's socket occupies: move the socket away. */
static void evict_socket(int fd)
{
	if (shim_is_socket(fd)) {
		int n = shim_real_fcntl(shim_sock, F_DUPFD_CLOEXEC, shim_sock + 1);

		if (n < 0)
			n = shim_real_fcntl(shim_sock, F_DUPFD_CLOEXEC, 3);
		if (n >= 0) {
			shim_real_close(shim_sock);
			shim_sock = n;
		}
	}
}

/* after a successful dup onto newfd: newfd now refers to what oldfd refers to */
static int adopt_dup(int oldfd, int newfd)
{
	struct shim_slot *s = shim_owned(oldfd);
	uint64_t h;
	int kind;

	if (!s)
		return newfd;
	h = s->handle;
	kind = s->kind;
	if (shim_dup_handle(h) < 0 || shim_set_slot(newfd, kind, h) < 0) {
		int e = errno;

		shim_real_close(newfd);
		errno = e ? e : EIO;
		return -1;
	}
	return newfd;
}

SHIM_EXPORT int dup(int oldfd)
{
	int n, e;

	shim_resolve();
	pthread_mutex_lock(&shim_lock);
	n = shim_real_dup(oldfd);
	if (n >= 0)
		n = adopt_dup(oldfd, n);
	e = errno;
	pthread_mutex_unlock(&shim_lock);
	errno = e;
	return n;
}

static int dup_onto(int oldfd, int newfd, int flags, int three)
{
	struct shim_slot *target;
	uint64_t old_handle = 0;
	int n, e, had_target;

	shim_resolve();
	pthread_mutex_lock(&shim_lock);
	if (oldfd != newfd)
		evict_socket(newfd);
	target = shim_owned(newfd);
	had_target = target != NULL && oldfd != newfd;
	if (had_target)
		old_handle = target->handle;
	n = three ? shim_real_dup3(oldfd, newfd, flags) : shim_real_dup2(oldfd, newfd);
	if (n >= 0 && oldfd != newfd) {
		if (had_target) {
			shim_tab[newfd].kind = SHIM_NONE; /* dup2 closed the target silently */
			shim_release_handle(old_handle);
		}
		n = adopt_dup(oldfd, n);
	}
	e = errno;
	pthread_mutex_unlock(&shim_lock);
	errno = e;
	return n;
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	return dup_onto(oldfd, newfd, 0, 0);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup_onto(oldfd, newfd, flags, 1);
}

static int fcntl_common(int fd, int cmd, void *arg, int is64)
{
	int n, e;

	shim_resolve();
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return is64 && shim_real_fcntl64 ? shim_real_fcntl64(fd, cmd, arg) : shim_real_fcntl(fd, cmd, arg);
	pthread_mutex_lock(&shim_lock);
	n = shim_real_fcntl(fd, cmd, arg);
	if (n >= 0)
		n = adopt_dup(fd, n);
	e = errno;
	pthread_mutex_unlock(&shim_lock);
	errno = e;
	return n;
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, 0);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, 1);
}

/* f_type of an owned fd: the eventfd placeholder already answers the anon-inode magic of mainline;
 * the daemon says whether the session pseudo-fs variant applies */
static long owned_fstype(int fd, int *owned)
{
	struct shim_slot *s;
	struct shim_reply r;
	long t = 0;

	pthread_mutex_lock(&shim_lock);
	s = shim_owned(fd);
	*owned = s != NULL;
	if (s && shim_call(LUSM_FSTATFS, s->handle, 0, NULL, 0, NULL, 0, -1, &r) == 0 && r.rep.ret > 0)
		t = r.rep.ret;
	pthread_mutex_unlock(&shim_lock);
	return t;
}

SHIM_EXPORT int fstatfs(int fd, struct statfs *buf)
{
	int owned, rc;
	long t;

	shim_resolve();
	rc = shim_real_fstatfs(fd, buf);
	if (rc == 0) {
		t = owned_fstype(fd, &owned);
		if (owned && t)
			buf->f_type = t;
	}
	return rc;
}

SHIM_EXPORT int fstatfs64(int fd, struct statfs64 *buf)
{
	int owned, rc;
	long t;

	shim_resolve();
	rc = shim_real_fstatfs64(fd, buf);
	if (rc == 0) {
		t = owned_fstype(fd, &owned);
		if (owned && t)
			buf->f_type = t;
	}
	return rc;
}
