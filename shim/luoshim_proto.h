/* SPDX-License-Identifier: MIT */
/*
 * Wire protocol between libluoshim.so and `luo serve` (LuoModel, selftest-shim.md section 5).
 * AF_UNIX SOCK_SEQPACKET, one request and one reply per message, little-endian, at most one
 * descriptor per message in SCM_RIGHTS. The C# side (serve/Protocol.cs) mirrors these layouts;
 * a test compiles this header and compares every offset and constant.
 */
#ifndef LUOSHIM_PROTO_H
#define LUOSHIM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define LUSM_MAGIC 0x4D53554Cu /* "LUSM" */
#define LUSM_VERSION 1u

enum lusm_op {
	LUSM_HELLO = 1,        /* payload: u64 fork token, u32 shim version */
	LUSM_OPEN = 2,         /* cmd = open flags, payload = path; reply new_handle */
	LUSM_IOCTL = 3,        /* payload = struct lusm_ioctl + readable struct bytes */
	LUSM_RELEASE = 4,      /* one fd referring to handle was closed */
	LUSM_DUP = 5,          /* one more fd refers to handle */
	LUSM_FORK_PREPARE = 6, /* payload = (u64 handle, u32 count)*, handle = token to extend; reply token */
	LUSM_FORK_CANCEL = 7,  /* handle = token */
	LUSM_FSTATFS = 8,      /* reply ret = f_type */
};

struct lusm_req {
	uint32_t magic;
	uint16_t version;
	uint16_t op;
	uint32_t seq;
	int32_t pid;
	uint64_t handle;
	uint32_t cmd;
	uint32_t payload_len;
};

#define LUSM_REP_FD 1u /* a descriptor is attached */

struct lusm_rep {
	uint32_t magic;
	uint32_t seq;
	int32_t ret;
	int32_t err;
	uint64_t new_handle;
	uint32_t out_len;
	uint32_t flags;
};

#define LUSM_IOCTL_SIZE_READABLE 1u
#define LUSM_IOCTL_SLOT_TRIED 2u
#define LUSM_IOCTL_SLOT_FAILED 4u
#define LUSM_WINDOW 4096u

enum lusm_tail { LUSM_TAIL_ZERO = 0, LUSM_TAIL_NONZERO = 1, LUSM_TAIL_UNREADABLE = 2 };
enum lusm_preserve { LUSM_PRESERVE_NONE = 0, LUSM_PRESERVE_PASSED = 1, LUSM_PRESERVE_BADFD = 2, LUSM_PRESERVE_OWNED = 3 };

struct lusm_ioctl {
	uint32_t flags;
	uint32_t size;            /* the u32 at arg, when readable */
	uint32_t arg_page_offset; /* arg & 4095 */
	uint32_t readable_len;    /* bytes readable from arg, up to the window */
	uint32_t writable_len;    /* bytes writable from arg, up to readable_len */
	uint32_t tail_status;     /* enum lusm_tail, bytes [4096, size) */
	uint32_t preserve_kind;   /* enum lusm_preserve */
	uint32_t reserved;
	uint64_t owned_handle;
	/* readable_len bytes follow */
};

_Static_assert(sizeof(struct lusm_req) == 32, "request header is 32 bytes");
_Static_assert(offsetof(struct lusm_req, handle) == 16 && offsetof(struct lusm_req, payload_len) == 28, "request layout");
_Static_assert(sizeof(struct lusm_rep) == 32, "reply header is 32 bytes");
_Static_assert(offsetof(struct lusm_rep, new_handle) == 16 && offsetof(struct lusm_rep, flags) == 28, "reply layout");
_Static_assert(sizeof(struct lusm_ioctl) == 40 && offsetof(struct lusm_ioctl, owned_handle) == 32, "ioctl payload layout");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire format is little-endian and so must the host be");

#endif
