/* SPDX-License-Identifier: MIT */
/*
 * librecorder.so internals (LuoModel): an LD_PRELOAD library that passes every call through with
 * dlsym(RTLD_NEXT) and logs the LUO-related ones in the trace format of docs/trace-format.md (version 2).
 * luorec.c: output, fd kinds, preserved-file table, hashing; luorec_calls.c: the interposed functions.
 */
#ifndef LUOREC_H
#define LUOREC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define REC_EXPORT __attribute__((visibility("default")))

/* LUO ioctl numbers: _IO(0xBA, nr) */
#define REC_LUO_TYPE 0xBAu
#define REC_CREATE_SESSION 0xBA00u
#define REC_RETRIEVE_SESSION 0xBA01u
#define REC_PRESERVE_FD 0xBA40u
#define REC_RETRIEVE_FD 0xBA41u
#define REC_WINDOW 8192u /* struct bytes recorded per ioctl (the model's argument region holds 8 KiB read-write) */

enum rec_kind { REC_NONE = 0, REC_DEVICE = 1, REC_SESSION = 2, REC_MEMFD = 3 };

struct rec_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
};

void rec_sha256_init(struct rec_sha256 *s);
void rec_sha256_update(struct rec_sha256 *s, const void *data, size_t n);
void rec_sha256_final(struct rec_sha256 *s, unsigned char out[32]);

/* real functions */
extern int (*rec_real_open)(const char *, int, ...);
extern int (*rec_real_open64)(const char *, int, ...);
extern int (*rec_real_openat)(int, const char *, int, ...);
extern int (*rec_real_openat64)(int, const char *, int, ...);
extern int (*rec_real___open_2)(const char *, int);
extern int (*rec_real___open64_2)(const char *, int);
extern int (*rec_real___openat_2)(int, const char *, int);
extern int (*rec_real___openat64_2)(int, const char *, int);
extern int (*rec_real_close)(int);
extern int (*rec_real_close_range)(unsigned int, unsigned int, int);
extern void (*rec_real_closefrom)(int);
extern int (*rec_real_dup)(int);
extern int (*rec_real_dup2)(int, int);
extern int (*rec_real_dup3)(int, int, int);
extern int (*rec_real_fcntl)(int, int, ...);
extern int (*rec_real_fcntl64)(int, int, ...);
extern int (*rec_real_memfd_create)(const char *, unsigned int);
extern int (*rec_real_ioctl)(int, unsigned long, ...);
extern int (*rec_real_ftruncate)(int, off_t);
extern int (*rec_real_setrlimit)(int, const struct rlimit *);
extern pid_t (*rec_real_fork)(void);
extern pid_t (*rec_real_wait4)(pid_t, int *, int, struct rusage *);
extern void (*rec_real__exit)(int);
void rec_resolve(void);

/* recording state */
extern __thread int rec_depth; /* > 0 while inside an interposed call: nested calls are not recorded */
int rec_enabled(void);
void rec_lock(void);
void rec_unlock(void);
uint64_t rec_now(void);

/* one line: "[pid @start+dur] " + text + "\n", written with a single write(2) on the O_APPEND file */
void rec_line(uint64_t start, uint64_t end, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rec_line_as(int pid, uint64_t start, uint64_t end, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void rec_vline(int pid, uint64_t start, uint64_t end, const char *fmt, va_list ap);
/* appends "hex:<bytes>" to buf */
size_t rec_hex(char *buf, size_t cap, const void *data, size_t n);
/* appends a quoted string */
size_t rec_quote(char *buf, size_t cap, const char *s, size_t n);

/* fd kinds */
int rec_kind(int fd);
void rec_set_kind(int fd, int kind);
void rec_set_name(int fd, const unsigned char *name64);
const unsigned char *rec_name(int fd);
int rec_is_device_path(const char *path);

/* memfd facts */
void rec_memfd_state(int fd);                  /* "memfd_state(FD) = SIZE => pos=P" */
void rec_content_fd(int fd);                   /* "content(FD) = SIZE => pos=P sha256:H" */
void rec_preserved(int session_fd, int fd, uint64_t token);
void rec_stage_end(const char *why);
void rec_after_fork_child(void);
size_t rec_fd_list(char *buf, size_t cap);
/* "N", "-1 ENAME" or "-E" into buf */
const char *rec_result(long rc, int e, char *buf, size_t cap);
void rec_exit_hook(void);

#endif
