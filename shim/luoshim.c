/* SPDX-License-Identifier: MIT */
/*
 * libluoshim.so: LD_PRELOAD shim that answers /dev/liveupdate from the LuoModel daemon (`luo serve`),
 * so unmodified, dynamically linked LUO selftests run against the C# model (selftest-shim.md).
 *
 * Every fd the kernel would give for the device, a session or a retrieved file is a real placeholder fd
 * here (an eventfd), so fd numbers follow the kernel's lowest-free rule and EMFILE happens where the
 * kernel's would. The placeholders are mapped to daemon handles; the daemon's model holds one model fd
 * per placeholder, so the model's own reference counts decide when a device or session is released.
 * Everything that does not involve an owned fd or the device path goes straight to libc.
 *
 * This file: symbol resolution, the fd table, the connection, open/close/close_range/dup/fcntl/fstatfs
 * and fork. luoshim_ioctl.c: ioctl forwarding.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "luoshim_internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEVICE_PATH "/dev/liveupdate"
#define FORK_CHUNK 4096

pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;

static struct shim_slot *g_tab;
static int g_cap;
static int g_sock = -1;
static uint32_t g_seq;
static uint64_t g_fork_token;
static char g_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int g_configured;
static int g_debug;
static int g_warned;

int (*shim_real_ioctl)(int, unsigned long, ...);
int (*shim_real_close)(int);
int (*shim_real_dup3)(int, int, int);
int (*shim_real_fcntl)(int, int, ...);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real___open_2)(const char *, int);
static int (*real___open64_2)(const char *, int);
static int (*real___openat_2)(int, const char *, int);
static int (*real___openat64_2)(int, const char *, int);
static int (*real_close_range)(unsigned int, unsigned int, int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_fcntl64)(int, int, ...);
static int (*real_fstatfs)(int, struct statfs *);
static int (*real_fstatfs64)(int, struct statfs64 *);
static pid_t (*real_fork)(void);

#define RESOLVE(var, name)                                  \
	do {                                                    \
		if (!(var))                                         \
			*(void **)(&(var)) = dlsym(RTLD_NEXT, (name)); \
	} while (0)

void shim_resolve(void)
{
	RESOLVE(shim_real_ioctl, "ioctl");
	RESOLVE(shim_real_close, "close");
	RESOLVE(shim_real_dup3, "dup3");
	RESOLVE(shim_real_fcntl, "fcntl");
	RESOLVE(real_open, "open");
	RESOLVE(real_open64, "open64");
	RESOLVE(real_openat, "openat");
	RESOLVE(real_openat64, "openat64");
	RESOLVE(real___open_2, "__open_2");
	RESOLVE(real___open64_2, "__open64_2");
	RESOLVE(real___openat_2, "__openat_2");
	RESOLVE(real___openat64_2, "__openat64_2");
	RESOLVE(real_close_range, "close_range");
	RESOLVE(real_dup, "dup");
	RESOLVE(real_dup2, "dup2");
	RESOLVE(real_fcntl64, "fcntl64");
	RESOLVE(real_fstatfs, "fstatfs");
	RESOLVE(real_fstatfs64, "fstatfs64");
	RESOLVE(real_fork, "fork");
}

void shim_debug(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (!g_debug)
		return;
	n = snprintf(buf, sizeof(buf), "luoshim[%d]: ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0)
		return;
}

/* ---- fd table (callers hold shim_lock) ---- */

struct shim_slot *shim_owned(int fd)
{
	if (fd < 0 || fd >= g_cap || g_tab[fd].kind == SHIM_NONE)
		return NULL;
	return &g_tab[fd];
}

int shim_set_slot(int fd, int kind, uint64_t handle)
{
	if (fd < 0)
		return -1;
	if (fd >= g_cap) {
		int cap = g_cap ? g_cap : 64;
		struct shim_slot *t;

		while (cap <= fd)
			cap *= 2;
		t = realloc(g_tab, (size_t)cap * sizeof(*t));
		if (!t)
			return -1;
		memset(t + g_cap, 0, (size_t)(cap - g_cap) * sizeof(*t));
		g_tab = t;
		g_cap = cap;
	}
	g_tab[fd].kind = (uint8_t)kind;
	g_tab[fd].handle = handle;
	return 0;
}

int shim_is_socket(int fd)
{
	return fd >= 0 && fd == g_sock;
}

/* ---- connection ---- */

/* Moves the shim's socket above every number the test could get: the top of the hard limit (capped at
 * 65536 so the fd table stays small), reached by lifting the soft limit for the duration of the dup. */
static int move_high(int s)
{
	struct rlimit rl, tmp;
	rlim_t top = 65536;
	int hi = -1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < top)
			top = rl.rlim_max;
		tmp = rl;
		if (tmp.rlim_cur < top) {
			tmp.rlim_cur = top;
			setrlimit(RLIMIT_NOFILE, &tmp);
		}
		hi = shim_real_fcntl(s, F_DUPFD_CLOEXEC, (int)(top - 1) > s ? (int)(top - 1) : s + 1);
		if (hi < 0)
			hi = shim_real_fcntl(s, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur > 1 ? rl.rlim_cur - 1 : 0));
		if (tmp.rlim_cur != rl.rlim_cur)
			setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (hi < 0)
		return s;
	shim_real_close(s);
	return hi;
}

static int shim_connect(uint64_t token)
{
	struct sockaddr_un sa;
	socklen_t len;
	struct shim_reply *r;
	unsigned char hello[12];
	uint32_t ver = SHIM_VERSION;
	int s;

	if (g_sock >= 0)
		return 0;
	if (!g_configured) {
		errno = ENOENT;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, g_path, sizeof(g_path));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(g_path) + 1);
	if (g_path[0] == '@') {
		sa.sun_path[0] = '\0';
		len--;
	}
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, len) < 0) {
		int e = errno;

		shim_real_close(s);
		if (!g_warned++)
			fprintf(stderr, "luoshim: cannot reach the LuoModel daemon at %s: %s\n", g_path, strerror(e));
		errno = EIO;
		return -1;
	}
	g_sock = move_high(s);
	memcpy(hello, &token, 8);
	memcpy(hello + 8, &ver, 4);
	r = malloc(sizeof(*r));
	if (!r)
		return 0;
	if (shim_call(LUSM_HELLO, 0, 0, hello, sizeof(hello), NULL, 0, -1, r) == 0 && r->rep.ret < 0)
		shim_debug("HELLO with token %llu refused: errno %d", (unsigned long long)token, r->rep.err);
	free(r);
	return 0;
}

static void shim_disconnect(void)
{
	if (g_sock >= 0)
		shim_real_close(g_sock);
	g_sock = -1;
}

int shim_call(uint16_t op, uint64_t handle, uint32_t cmd, const void *p1, size_t n1, const void *p2, size_t n2,
	      int passfd, struct shim_reply *r)
{
	struct lusm_req req;
	struct iovec iov[3];
	struct msghdr msg;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct cmsghdr *c;
	ssize_t n;

	if (g_sock < 0 && shim_connect(0) < 0)
		return -1;
	req.magic = LUSM_MAGIC;
	req.version = LUSM_VERSION;
	req.op = op;
	req.seq = ++g_seq;
	req.pid = (int32_t)getpid();
	req.handle = handle;
	req.cmd = cmd;
	req.payload_len = (uint32_t)(n1 + n2);
	iov[0].iov_base = &req;
	iov[0].iov_len = sizeof(req);
	iov[1].iov_base = (void *)p1;
	iov[1].iov_len = n1;
	iov[2].iov_base = (void *)p2;
	iov[2].iov_len = n2;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 3;
	if (passfd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	do
		n = sendmsg(g_sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		goto broken;

	r->fd = -1;
	iov[0].iov_base = &r->rep;
	iov[0].iov_len = sizeof(r->rep);
	iov[1].iov_base = r->out;
	iov[1].iov_len = sizeof(r->out);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(g_sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		goto broken;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)), i, fd;

			for (i = 0; i < nfd; i++) {
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (r->fd < 0)
					r->fd = fd;
				else
					shim_real_close(fd);
			}
		}
	}
	if ((size_t)n < sizeof(r->rep) || r->rep.magic != LUSM_MAGIC || r->rep.seq != req.seq ||
	    r->rep.out_len > (size_t)n - sizeof(r->rep)) {
		if (r->fd >= 0)
			shim_real_close(r->fd);
		r->fd = -1;
		goto broken;
	}
	return 0;
broken:
	shim_debug("connection to the daemon lost (op %u)", op);
	shim_disconnect();
	errno = EIO;
	return -1;
}

void shim_release_handle(uint64_t handle)
{
	struct shim_reply r;

	if (g_sock >= 0)
		shim_call(LUSM_RELEASE, handle, 0, NULL, 0, NULL, 0, -1, &r);
}

static int dup_handle(uint64_t handle)
{
	struct shim_reply r;

	if (shim_call(LUSM_DUP, handle, 0, NULL, 0, NULL, 0, -1, &r) < 0)
		return -1;
	if (r.rep.ret < 0) {
		errno = r.rep.err;
		return -1;
	}
	return 0;
}

__attribute__((constructor)) static void shim_init(void)
{
	const char *p = getenv("LUOSHIM_SOCKET");

	shim_resolve();
	g_debug = getenv("LUOSHIM_DEBUG") != NULL;
	if (p && *p && strlen(p) < sizeof(g_path)) {
		strcpy(g_path, p);
		g_configured = 1;
	}
	shim_atfork_register();
}

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

	if (!g_configured)
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
	OPEN_BODY(AT_FDCWD, path, flags, real_open(path, flags, mode));
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
	OPEN_BODY(AT_FDCWD, path, flags, real_open64(path, flags, mode));
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
	OPEN_BODY(dirfd, path, flags, real_openat(dirfd, path, flags, mode));
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
	OPEN_BODY(dirfd, path, flags, real_openat64(dirfd, path, flags, mode));
}

SHIM_EXPORT int __open_2(const char *path, int flags);
SHIM_EXPORT int __open_2(const char *path, int flags)
{
	shim_resolve();
	OPEN_BODY(AT_FDCWD, path, flags, real___open_2(path, flags));
}

SHIM_EXPORT int __open64_2(const char *path, int flags);
SHIM_EXPORT int __open64_2(const char *path, int flags)
{
	shim_resolve();
	OPEN_BODY(AT_FDCWD, path, flags, real___open64_2(path, flags));
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags);
SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	shim_resolve();
	OPEN_BODY(dirfd, path, flags, real___openat_2(dirfd, path, flags));
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags);
SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	shim_resolve();
	OPEN_BODY(dirfd, path, flags, real___openat64_2(dirfd, path, flags));
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
	if (real_close_range)
		return real_close_range(first, last, flags);
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
		unsigned int top = g_cap > 0 ? (unsigned int)g_cap - 1 : 0;

		for (fd = first; g_cap > 0 && fd <= last && fd <= top; fd++) {
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
	if (g_sock >= 0 && (unsigned int)g_sock >= first && (unsigned int)g_sock <= last) {
		if ((unsigned int)g_sock > first)
			rc = sys_close_range(first, (unsigned int)g_sock - 1, flags);
		if (rc == 0 && (unsigned int)g_sock < last)
			rc = sys_close_range((unsigned int)g_sock + 1, last, flags);
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
		int n = shim_real_fcntl(g_sock, F_DUPFD_CLOEXEC, g_sock + 1);

		if (n < 0)
			n = shim_real_fcntl(g_sock, F_DUPFD_CLOEXEC, 3);
		if (n >= 0) {
			shim_real_close(g_sock);
			g_sock = n;
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
	if (dup_handle(h) < 0 || shim_set_slot(newfd, kind, h) < 0) {
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
	n = real_dup(oldfd);
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
	n = three ? shim_real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
	if (n >= 0 && oldfd != newfd) {
		if (had_target) {
			g_tab[newfd].kind = SHIM_NONE; /* dup2 closed the target silently */
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
		return is64 && real_fcntl64 ? real_fcntl64(fd, cmd, arg) : shim_real_fcntl(fd, cmd, arg);
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
	rc = real_fstatfs(fd, buf);
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
	rc = real_fstatfs64(fd, buf);
	if (rc == 0) {
		t = owned_fstype(fd, &owned);
		if (owned && t)
			buf->f_type = t;
	}
	return rc;
}

/* ---- fork (selftest-shim.md 4.3) ---- */

struct fork_entry {
	uint64_t handle;
	uint32_t count;
} __attribute__((packed));

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* prepare: the child's references are taken now, under a token, so the parent may exit at once */
static void atfork_prepare(void)
{
	uint64_t *hs;
	struct fork_entry *ents;
	struct shim_reply r;
	int i, n = 0, m = 0, sent = 0;
	uint64_t token = 0;

	pthread_mutex_lock(&shim_lock);
	g_fork_token = 0;
	if (g_sock < 0)
		return;
	for (i = 0; i < g_cap; i++)
		if (g_tab[i].kind != SHIM_NONE)
			n++;
	if (n == 0)
		return;
	hs = malloc((size_t)n * sizeof(*hs));
	ents = malloc((size_t)n * sizeof(*ents));
	if (!hs || !ents)
		goto out;
	for (i = 0, n = 0; i < g_cap; i++)
		if (g_tab[i].kind != SHIM_NONE)
			hs[n++] = g_tab[i].handle;
	qsort(hs, (size_t)n, sizeof(*hs), cmp_u64);
	for (i = 0; i < n; i++) {
		if (m > 0 && ents[m - 1].handle == hs[i]) {
			ents[m - 1].count++;
		} else {
			ents[m].handle = hs[i];
			ents[m].count = 1;
			m++;
		}
	}
	while (sent < m) {
		int chunk = m - sent > FORK_CHUNK ? FORK_CHUNK : m - sent;

		if (shim_call(LUSM_FORK_PREPARE, token, 0, ents + sent, (size_t)chunk * sizeof(*ents), NULL, 0, -1, &r) < 0 ||
		    r.rep.ret < 0) {
			token = 0;
			break;
		}
		token = r.rep.new_handle;
		sent += chunk;
	}
	g_fork_token = token;
out:
	free(hs);
	free(ents);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&shim_lock);
}

/* child: the inherited socket is the parent's; open our own connection and claim the token */
static void atfork_child(void)
{
	uint64_t token = g_fork_token;

	pthread_mutex_init(&shim_lock, NULL);
	if (g_sock >= 0)
		shim_real_close(g_sock);
	g_sock = -1;
	g_fork_token = 0;
	if (token)
		shim_connect(token);
}

void shim_atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

SHIM_EXPORT pid_t fork(void)
{
	pid_t p;

	shim_resolve();
	p = real_fork();
	if (p != 0) {
		pthread_mutex_lock(&shim_lock);
		if (p < 0 && g_fork_token) {
			struct shim_reply r;

			shim_call(LUSM_FORK_CANCEL, g_fork_token, 0, NULL, 0, NULL, 0, -1, &r);
		}
		g_fork_token = 0;
		pthread_mutex_unlock(&shim_lock);
	}
	return p;
}
