/* SPDX-License-Identifier: MIT */
/* libluoshim.so internals shared by luoshim.c (fd table, connection, open/close/dup/fork) and
 * luoshim_ioctl.c (ioctl forwarding with memory probes). LuoModel, selftest-shim.md sections 3-6. */
#ifndef LUOSHIM_INTERNAL_H
#define LUOSHIM_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "luoshim_proto.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_VERSION 1u

/* LUO ioctl numbers (include/uapi/linux/liveupdate.h): only used to decide which facts to gather;
 * the daemon's model judges every command. */
#define SHIM_CREATE_SESSION 0xBA00u
#define SHIM_RETRIEVE_SESSION 0xBA01u
#define SHIM_PRESERVE_FD 0xBA40u
#define SHIM_RETRIEVE_FD 0xBA41u

enum shim_kind { SHIM_NONE = 0, SHIM_DEVICE = 1, SHIM_SESSION = 2 };

struct shim_slot {
	uint8_t kind;
	uint64_t handle;
};

struct shim_reply {
	struct lusm_rep rep;
	int fd;                /* received descriptor or -1 */
	uint8_t out[LUSM_WINDOW + 64];
};

struct statfs;
struct statfs64;

/* shared state (guarded by shim_lock) */
extern pthread_mutex_t shim_lock;
extern struct shim_slot *shim_tab;  /* indexed by fd */
extern int shim_cap;
extern int shim_sock;               /* connection to the daemon (a high fd), -1 if none */
extern uint64_t shim_fork_token;    /* references registered for the child of the fork in progress */
extern int shim_configured;         /* LUOSHIM_SOCKET was set */

/* real functions (resolved with dlsym(RTLD_NEXT)) */
extern int (*shim_real_ioctl)(int, unsigned long, ...);
extern int (*shim_real_close)(int);
extern int (*shim_real_dup3)(int, int, int);
extern int (*shim_real_fcntl)(int, int, ...);
extern int (*shim_real_open)(const char *, int, ...);
extern int (*shim_real_open64)(const char *, int, ...);
extern int (*shim_real_openat)(int, const char *, int, ...);
extern int (*shim_real_openat64)(int, const char *, int, ...);
extern int (*shim_real___open_2)(const char *, int);
extern int (*shim_real___open64_2)(const char *, int);
extern int (*shim_real___openat_2)(int, const char *, int);
extern int (*shim_real___openat64_2)(int, const char *, int);
extern int (*shim_real_close_range)(unsigned int, unsigned int, int);
extern int (*shim_real_dup)(int);
extern int (*shim_real_dup2)(int, int);
extern int (*shim_real_fcntl64)(int, int, ...);
extern int (*shim_real_fstatfs)(int, struct statfs *);
extern int (*shim_real_fstatfs64)(int, struct statfs64 *);
extern pid_t (*shim_real_fork)(void);
void shim_resolve(void);

/* fd table (callers hold shim_lock) */
struct shim_slot *shim_owned(int fd);
int shim_set_slot(int fd, int kind, uint64_t handle);
int shim_is_socket(int fd);

/* one request/reply; 0 = a reply arrived (check rep.ret / rep.err), -1 = transport failure (errno set) */
int shim_call(uint16_t op, uint64_t handle, uint32_t cmd, const void *p1, size_t n1, const void *p2, size_t n2,
	      int passfd, struct shim_reply *r);
int shim_connect(uint64_t token);
void shim_release_handle(uint64_t handle);
int shim_dup_handle(uint64_t handle);
void shim_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void shim_atfork_register(void);

/* ioctl forwarding (luoshim_ioctl.c) */
int shim_forward_ioctl(int fd, struct shim_slot *slot, uint32_t cmd, void *arg);

#endif
