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
 * This file: symbol resolution, the fd table and the connection to the daemon. luoshim_fds.c: the
 * interposed calls; luoshim_ioctl.c: ioctl forwarding; luoshim_fork.c: fork.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "luoshim_internal.h"


pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;

struct shim_slot *shim_tab;
int shim_cap;
int shim_sock = -1;
static uint32_t g_seq;
uint64_t shim_fork_token;
static char g_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
int shim_configured;
static int g_debug;
static int g_warned;

int (*shim_real_ioctl)(int, unsigned long, ...);
int (*shim_real_close)(int);
int (*shim_real_dup3)(int, int, int);
int (*shim_real_fcntl)(int, int, ...);
int (*shim_real_open)(const char *, int, ...);
int (*shim_real_open64)(const char *, int, ...);
int (*shim_real_openat)(int, const char *, int, ...);
int (*shim_real_openat64)(int, const char *, int, ...);
int (*shim_real___open_2)(const char *, int);
int (*shim_real___open64_2)(const char *, int);
int (*shim_real___openat_2)(int, const char *, int);
int (*shim_real___openat64_2)(int, const char *, int);
int (*shim_real_close_range)(unsigned int, unsigned int, int);
int (*shim_real_dup)(int);
int (*shim_real_dup2)(int, int);
int (*shim_real_fcntl64)(int, int, ...);
int (*shim_real_fstatfs)(int, struct statfs *);
int (*shim_real_fstatfs64)(int, struct statfs64 *);
pid_t (*shim_real_fork)(void);

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
	RESOLVE(shim_real_open, "open");
	RESOLVE(shim_real_open64, "open64");
	RESOLVE(shim_real_openat, "openat");
	RESOLVE(shim_real_openat64, "openat64");
	RESOLVE(shim_real___open_2, "__open_2");
	RESOLVE(shim_real___open64_2, "__open64_2");
	RESOLVE(shim_real___openat_2, "__openat_2");
	RESOLVE(shim_real___openat64_2, "__openat64_2");
	RESOLVE(shim_real_close_range, "close_range");
	RESOLVE(shim_real_dup, "dup");
	RESOLVE(shim_real_dup2, "dup2");
	RESOLVE(shim_real_fcntl64, "fcntl64");
	RESOLVE(shim_real_fstatfs, "fstatfs");
	RESOLVE(shim_real_fstatfs64, "fstatfs64");
	RESOLVE(shim_real_fork, "fork");
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
	if (fd < 0 || fd >= shim_cap || shim_tab[fd].kind == SHIM_NONE)
		return NULL;
	return &shim_tab[fd];
}

int shim_set_slot(int fd, int kind, uint64_t handle)
{
	if (fd < 0)
		return -1;
	if (fd >= shim_cap) {
		int cap = shim_cap ? shim_cap : 64;
		struct shim_slot *t;

		while (cap <= fd)
			cap *= 2;
		t = realloc(shim_tab, (size_t)cap * sizeof(*t));
		if (!t)
			return -1;
		memset(t + shim_cap, 0, (size_t)(cap - shim_cap) * sizeof(*t));
		shim_tab = t;
		shim_cap = cap;
	}
	shim_tab[fd].kind = (uint8_t)kind;
	shim_tab[fd].handle = handle;
	return 0;
}

int shim_is_socket(int fd)
{
	return fd >= 0 && fd == shim_sock;
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

int shim_connect(uint64_t token)
{
	struct sockaddr_un sa;
	socklen_t len;
	struct shim_reply *r;
	unsigned char hello[12];
	uint32_t ver = SHIM_VERSION;
	int s;

	if (shim_sock >= 0)
		return 0;
	if (!shim_configured) {
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
	shim_sock = move_high(s);
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
	if (shim_sock >= 0)
		shim_real_close(shim_sock);
	shim_sock = -1;
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

	if (shim_sock < 0 && shim_connect(0) < 0)
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
		n = sendmsg(shim_sock, &msg, MSG_NOSIGNAL);
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
		n = recvmsg(shim_sock, &msg, MSG_CMSG_CLOEXEC);
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

	if (shim_sock >= 0)
		shim_call(LUSM_RELEASE, handle, 0, NULL, 0, NULL, 0, -1, &r);
}

int shim_dup_handle(uint64_t handle)
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
		shim_configured = 1;
	}
	shim_atfork_register();
}
