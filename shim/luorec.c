/* SPDX-License-Identifier: MIT */
/*
 * librecorder.so (LuoModel): records the LUO-related calls of a process tree on a real kernel, or in front
 * of libluoshim.so against `luo serve`, in the trace format of docs/trace-format.md (version 2), for
 * `luo check-trace`. Every call goes to the next definition (dlsym(RTLD_NEXT)) unchanged.
 *
 * Environment: LUOREC_FILE (trace file, appended; required, else nothing is recorded), LUOREC_BOOT (boot
 * id written on start lines; default /proc/sys/kernel/random/boot_id), LUOREC_STAGE_END=exit (hash the
 * preserved memfds when a process exits). luorec_stage_end("why") does the same on demand.
 *
 * This file: output, fd kinds, preserved-file table, hashing. luorec_calls.c: the interposed functions.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "luorec.h"

#define LINE_CAP 40960
#define HIDDEN_BASE 4096 /* hidden fds sit this far below the top of the fd space */

int (*rec_real_open)(const char *, int, ...);
int (*rec_real_open64)(const char *, int, ...);
int (*rec_real_openat)(int, const char *, int, ...);
int (*rec_real_openat64)(int, const char *, int, ...);
int (*rec_real___open_2)(const char *, int);
int (*rec_real___open64_2)(const char *, int);
int (*rec_real___openat_2)(int, const char *, int);
int (*rec_real___openat64_2)(int, const char *, int);
int (*rec_real_close)(int);
int (*rec_real_close_range)(unsigned int, unsigned int, int);
void (*rec_real_closefrom)(int);
int (*rec_real_dup)(int);
int (*rec_real_dup2)(int, int);
int (*rec_real_dup3)(int, int, int);
int (*rec_real_fcntl)(int, int, ...);
int (*rec_real_fcntl64)(int, int, ...);
int (*rec_real_memfd_create)(const char *, unsigned int);
int (*rec_real_ioctl)(int, unsigned long, ...);
int (*rec_real_ftruncate)(int, off_t);
int (*rec_real_setrlimit)(int, const struct rlimit *);
pid_t (*rec_real_fork)(void);
pid_t (*rec_real_wait4)(pid_t, int *, int, struct rusage *);
void (*rec_real__exit)(int);

__thread int rec_depth;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_out = -1;
static int g_stage_end_at_exit;
static char *g_line;

struct fdinfo {
	uint8_t kind;
	unsigned char name[64]; /* session fds: the session name */
};
static struct fdinfo *g_fds;
static int g_cap;

struct preserved {
	int hidden;             /* recorder-owned duplicate, -1 once unusable */
	uint64_t token;
	unsigned char name[64]; /* session name */
};
static struct preserved *g_pres;
static int g_npres, g_cappres;

#define RESOLVE(var, name)                                  \
	do {                                                    \
		if (!(var))                                         \
			*(void **)(&(var)) = dlsym(RTLD_NEXT, (name)); \
	} while (0)

void rec_resolve(void)
{
	RESOLVE(rec_real_open, "open");
	RESOLVE(rec_real_open64, "open64");
	RESOLVE(rec_real_openat, "openat");
	RESOLVE(rec_real_openat64, "openat64");
	RESOLVE(rec_real___open_2, "__open_2");
	RESOLVE(rec_real___open64_2, "__open64_2");
	RESOLVE(rec_real___openat_2, "__openat_2");
	RESOLVE(rec_real___openat64_2, "__openat64_2");
	RESOLVE(rec_real_close, "close");
	RESOLVE(rec_real_close_range, "close_range");
	RESOLVE(rec_real_closefrom, "closefrom");
	RESOLVE(rec_real_dup, "dup");
	RESOLVE(rec_real_dup2, "dup2");
	RESOLVE(rec_real_dup3, "dup3");
	RESOLVE(rec_real_fcntl, "fcntl");
	RESOLVE(rec_real_fcntl64, "fcntl64");
	RESOLVE(rec_real_memfd_create, "memfd_create");
	RESOLVE(rec_real_ioctl, "ioctl");
	RESOLVE(rec_real_ftruncate, "ftruncate");
	RESOLVE(rec_real_setrlimit, "setrlimit");
	RESOLVE(rec_real_fork, "fork");
	RESOLVE(rec_real_wait4, "wait4");
	RESOLVE(rec_real__exit, "_exit");
}

int rec_enabled(void)
{
	return g_out >= 0 && rec_depth == 0;
}

void rec_lock(void)
{
	pthread_mutex_lock(&g_lock);
}

void rec_unlock(void)
{
	pthread_mutex_unlock(&g_lock);
}

uint64_t rec_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* lowest free fd at or above the top of the fd space minus HIDDEN_BASE (like the shim's socket) */
static int move_high(int fd)
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
			rec_real_setrlimit(RLIMIT_NOFILE, &tmp);
		}
		if (top > HIDDEN_BASE + 16)
			hi = rec_real_fcntl(fd, F_DUPFD_CLOEXEC, (int)(top - HIDDEN_BASE));
		if (tmp.rlim_cur != rl.rlim_cur)
			rec_real_setrlimit(RLIMIT_NOFILE, &rl);
	}
	return hi;
}

void rec_vline(int pid, uint64_t start, uint64_t end, const char *fmt, va_list ap)
{
	int n;

	if (g_out < 0 || !g_line)
		return;
	n = snprintf(g_line, LINE_CAP, "[%d @%llu+%llu] ", pid, (unsigned long long)start,
		     (unsigned long long)(end - start));
	n += vsnprintf(g_line + n, (size_t)(LINE_CAP - n - 1), fmt, ap);
	if (n > LINE_CAP - 2)
		n = LINE_CAP - 2;
	g_line[n++] = '\n';
	if (write(g_out, g_line, (size_t)n) < 0)
		return;
}

void rec_line(uint64_t start, uint64_t end, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rec_vline((int)getpid(), start, end, fmt, ap);
	va_end(ap);
}

void rec_line_as(int pid, uint64_t start, uint64_t end, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rec_vline(pid, start, end, fmt, ap);
	va_end(ap);
}

size_t rec_hex(char *buf, size_t cap, const void *data, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	size_t i, o = 0;

	if (cap < 5)
		return 0;
	memcpy(buf, "hex:", 4);
	o = 4;
	for (i = 0; i < n && o + 3 < cap; i++) {
		buf[o++] = digits[p[i] >> 4];
		buf[o++] = digits[p[i] & 15];
	}
	buf[o] = '\0';
	return o;
}

size_t rec_quote(char *buf, size_t cap, const char *s, size_t n)
{
	size_t i, o = 0;

	if (cap < 3)
		return 0;
	buf[o++] = '"';
	for (i = 0; i < n && o + 6 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return o;
}

/* ---- fd kinds ---- */

static struct fdinfo *slot(int fd, int grow)
{
	if (fd < 0)
		return NULL;
	if (fd >= g_cap) {
		int cap = g_cap ? g_cap : 64;
		struct fdinfo *t;

		if (!grow)
			return NULL;
		while (cap <= fd)
			cap *= 2;
		t = realloc(g_fds, (size_t)cap * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + g_cap, 0, (size_t)(cap - g_cap) * sizeof(*t));
		g_fds = t;
		g_cap = cap;
	}
	return &g_fds[fd];
}

int rec_kind(int fd)
{
	struct fdinfo *s = slot(fd, 0);

	return s ? s->kind : REC_NONE;
}

void rec_set_kind(int fd, int kind)
{
	struct fdinfo *s = slot(fd, kind != REC_NONE);

	if (s) {
		s->kind = (uint8_t)kind;
		if (kind != REC_SESSION)
			memset(s->name, 0, sizeof(s->name));
	}
}

void rec_set_name(int fd, const unsigned char *name64)
{
	struct fdinfo *s = slot(fd, 1);

	if (s)
		memcpy(s->name, name64, sizeof(s->name));
}

const unsigned char *rec_name(int fd)
{
	struct fdinfo *s = slot(fd, 0);

	return s ? s->name : NULL;
}

/* /dev/liveupdate or any spelling whose last component is "liveupdate" (relative paths included) */
int rec_is_device_path(const char *path)
{
	const char *base;

	if (!path)
		return 0;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strcmp(base, "liveupdate") == 0;
}

size_t rec_fd_list(char *buf, size_t cap)
{
	size_t o = 0;
	int fd, top = 1024;

	buf[0] = '\0';
	for (fd = 0; fd < top && o + 12 < cap; fd++) {
		if (fd == g_out || rec_real_fcntl(fd, F_GETFD) < 0)
			continue;
		o += (size_t)snprintf(buf + o, cap - o, o ? ",%d" : "%d", fd);
	}
	return o;
}

/* ---- memfd facts ---- */

static int describe(int fd, long long *size, long long *pos, char *hash, int want_hash)
{
	struct stat st;
	unsigned char buf[65536], h[32];
	struct rec_sha256 s;
	long long off = 0;
	int i;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	*size = (long long)st.st_size;
	*pos = (long long)lseek(fd, 0, SEEK_CUR);
	if (!want_hash)
		return 0;
	rec_sha256_init(&s);
	while (off < *size) {
		size_t want = *size - off < (long long)sizeof(buf) ? (size_t)(*size - off) : sizeof(buf);
		ssize_t got = pread(fd, buf, want, off);

		if (got <= 0)
			return -1;
		rec_sha256_update(&s, buf, (size_t)got);
		off += got;
	}
	rec_sha256_final(&s, h);
	for (i = 0; i < 32; i++)
		snprintf(hash + 2 * i, 3, "%02x", h[i]);
	return 0;
}

void rec_memfd_state(int fd)
{
	long long size, pos;
	uint64_t t = rec_now();

	if (describe(fd, &size, &pos, NULL, 0) == 0)
		rec_line(t, rec_now(), "memfd_state(%d) = %lld => pos=%lld", fd, size, pos);
}

void rec_content_fd(int fd)
{
	long long size, pos;
	char hash[65];
	uint64_t t = rec_now();

	if (describe(fd, &size, &pos, hash, 1) == 0)
		rec_line(t, rec_now(), "content(%d) = %lld => pos=%lld sha256:%s", fd, size, pos, hash);
}

void rec_preserved(int session_fd, int fd, uint64_t token)
{
	const unsigned char *name = rec_name(session_fd);
	struct preserved *p;
	int i;

	for (i = 0; i < g_npres; i++) {
		if (g_pres[i].token == token && name && memcmp(g_pres[i].name, name, 64) == 0) {
			if (g_pres[i].hidden >= 0)
				rec_real_close(g_pres[i].hidden);
			g_pres[i] = g_pres[--g_npres];
			break;
		}
	}
	if (g_npres == g_cappres) {
		int cap = g_cappres ? g_cappres * 2 : 16;
		struct preserved *t = realloc(g_pres, (size_t)cap * sizeof(*t));

		if (!t)
			return;
		g_pres = t;
		g_cappres = cap;
	}
	p = &g_pres[g_npres++];
	p->hidden = move_high(fd);
	p->token = token;
	memset(p->name, 0, sizeof(p->name));
	if (name)
		memcpy(p->name, name, sizeof(p->name));
}

void rec_stage_end(const char *why)
{
	char q[256], nq[300];
	uint64_t t = rec_now();
	int i;

	rec_quote(q, sizeof(q), why, strnlen(why, 120));
	rec_line(t, rec_now(), "stage_end(%s) = 0", q);
	for (i = 0; i < g_npres; i++) {
		long long size, pos;
		char hash[65];

		t = rec_now();
		if (g_pres[i].hidden < 0 || describe(g_pres[i].hidden, &size, &pos, hash, 1) < 0)
			continue;
		rec_quote(nq, sizeof(nq), (const char *)g_pres[i].name, strnlen((const char *)g_pres[i].name, 64));
		rec_line(t, rec_now(), "content(%s, 0x%llx) = %lld => pos=%lld sha256:%s", nq,
			 (unsigned long long)g_pres[i].token, size, pos, hash);
	}
}

/* the workload's explicit stage-end marker (issue 10 §1) */
REC_EXPORT void luorec_stage_end(const char *why)
{
	rec_lock();
	rec_stage_end(why ? why : "call");
	rec_unlock();
}

void rec_after_fork_child(void)
{
	pthread_mutex_init(&g_lock, NULL);
}

static void read_boot(char *out, size_t cap)
{
	const char *e = getenv("LUOREC_BOOT");
	ssize_t n;
	int fd;

	if (e && *e) {
		snprintf(out, cap, "%s", e);
		return;
	}
	snprintf(out, cap, "unknown");
	fd = rec_real_open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, cap - 1);
	rec_real_close(fd);
	if (n <= 0) {
		snprintf(out, cap, "unknown");
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

__attribute__((constructor)) static void rec_init(void)
{
	const char *file = getenv("LUOREC_FILE"), *se = getenv("LUOREC_STAGE_END");
	static const char header[] = "luo-trace 2\n# recorded by librecorder.so (LuoModel luorec 1)\n";
	char boot[80], bq[200], fds[4096], fq[4200];
	uint64_t t;
	struct rlimit rl;
	int fd, fresh = 1;

	rec_resolve();
	if (!file || !*file)
		return;
	g_stage_end_at_exit = se && strcmp(se, "exit") == 0;
	fd = rec_real_open(file, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fresh = 0;
		fd = rec_real_open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return;
	g_out = move_high(fd);
	rec_real_close(fd);
	g_line = malloc(LINE_CAP);
	if (g_out < 0 || !g_line)
		return;
	if (fresh && write(g_out, header, strlen(header)) < 0)
		return;
	read_boot(boot, sizeof(boot));
	rec_quote(bq, sizeof(bq), boot, strlen(boot));
	rec_fd_list(fds, sizeof(fds));
	rec_quote(fq, sizeof(fq), fds, strlen(fds));
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = rl.rlim_max = 0;
	t = rec_now();
	rec_line(t, t, "start(%s, %llu, %llu, %s) = 0", bq, (unsigned long long)rl.rlim_cur,
		 (unsigned long long)rl.rlim_max, fq);
}

__attribute__((destructor)) static void rec_fini(void)
{
	uint64_t t;

	if (g_out < 0)
		return;
	rec_lock();
	if (g_stage_end_at_exit)
		rec_stage_end("exit");
	t = rec_now();
	rec_line(t, t, "exit() = 0");
	rec_unlock();
}

/* _exit from the workload: the same as a return from main for the trace */
void rec_exit_hook(void)
{
	rec_fini();
	rec_real_close(g_out);
	g_out = -1;
}
