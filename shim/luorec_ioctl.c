/* SPDX-License-Identifier: MIT */
/*
 * librecorder.so: ioctl. LUO commands (type 0xBA) and any ioctl on a device or session fd are recorded with
 * their full input and output struct bytes (docs/trace-format.md §7.2); PRESERVE_FD and RETRIEVE_FD add the
 * memfd facts of §7.3.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "luorec.h"

#define PAGE 4096u
#define MAX_IOV 4

/* ---- ioctl ---- */

static size_t probe(void *addr, void *buf, size_t len, int write_back)
{
	struct iovec local = { buf, len }, remote[MAX_IOV];
	uintptr_t a = (uintptr_t)addr;
	size_t left = len;
	ssize_t n;
	int k = 0;

	if (len == 0 || a < PAGE)
		return 0;
	while (left > 0 && k < MAX_IOV) {
		size_t room = PAGE - (a & (PAGE - 1)), part = left < room ? left : room;

		remote[k].iov_base = (void *)a;
		remote[k++].iov_len = part;
		a += part;
		left -= part;
	}
	n = write_back ? process_vm_writev(getpid(), &local, 1, remote, (unsigned long)k, 0)
		       : process_vm_readv(getpid(), &local, 1, remote, (unsigned long)k, 0);
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		if (write_back)
			memcpy(addr, buf, len);
		else
			memcpy(buf, addr, len);
		return len;
	}
	return n < 0 ? 0 : (size_t)n;
}

REC_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	static __thread unsigned char in[REC_WINDOW], out[REC_WINDOW]; /* used outside the lock */
	static char inh[2 * REC_WINDOW + 64], outh[2 * REC_WINDOW + 64]; /* used under the lock */
	va_list ap;
	void *arg;
	uint32_t size = 0, cmd = (uint32_t)req;
	size_t want, readable = 0, writable = 0;
	char place[32] = "", r[48];
	uint64_t t0;
	int rc, e, kind;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	rec_resolve();
	kind = rec_kind(fd);
	if (!rec_enabled() || (((cmd >> 8) & 0xff) != REC_LUO_TYPE && kind != REC_DEVICE && kind != REC_SESSION))
		return rec_real_ioctl(fd, req, arg);
	rec_depth++;
	rec_lock();
	if (((cmd >> 8) & 0xff) == REC_LUO_TYPE && probe(arg, &size, 4, 0) == 4) {
		want = size < 4 ? 4 : size > REC_WINDOW ? REC_WINDOW : size;
		readable = probe(arg, in, want, 0);
		writable = readable ? probe(arg, in, readable, 1) : 0;
		if (readable < want && readable < PAGE)
			snprintf(place, sizeof(place), "ro|hole-%zu:", readable);
		else if (size > REC_WINDOW && readable == REC_WINDOW && probe((char *)arg + REC_WINDOW, out, 1, 0) == 0)
			snprintf(place, sizeof(place), "rw|ro-%u:", PAGE); /* the model's hole then starts at 8192 too */
		else if (writable == 0)
			snprintf(place, sizeof(place), "ro:");
		else if (writable < readable)
			snprintf(place, sizeof(place), "rw|ro-%zu:", writable);
	} else if (((cmd >> 8) & 0xff) == REC_LUO_TYPE) {
		snprintf(place, sizeof(place), "hole:");
	}
	if (cmd == REC_PRESERVE_FD && readable >= 8) {
		int target;

		memcpy(&target, in + 4, 4);
		rec_memfd_state(target);
	}
	rec_unlock();
	t0 = rec_now();
	rc = rec_real_ioctl(fd, req, arg);
	e = errno;
	rec_lock();
	rec_hex(inh, sizeof(inh), in, readable);
	outh[0] = '\0';
	if (readable && probe(arg, out, readable, 0) == readable && memcmp(in, out, readable) != 0) {
		memcpy(outh, " => ", 4);
		rec_hex(outh + 4, sizeof(outh) - 4, out, readable);
	}
	rec_line(t0, rec_now(), "ioctl(%d, 0x%x, %s%s) = %s%s", fd, cmd, place, strcmp(place, "hole:") == 0 ? "" : inh,
		 rec_result(rc, e, r, sizeof(r)), outh);
	if (rc >= 0 && readable >= 8 && memcmp(outh, " => ", 4) == 0) {
		int nfd;

		memcpy(&nfd, out + 4, 4);
		if ((cmd == REC_CREATE_SESSION || cmd == REC_RETRIEVE_SESSION) && readable >= 72) {
			rec_set_kind(nfd, REC_SESSION);
			rec_set_name(nfd, out + 8);
		} else if (cmd == REC_RETRIEVE_FD) {
			rec_set_kind(nfd, REC_MEMFD);
			rec_content_fd(nfd);
		}
	}
	if (rc >= 0 && cmd == REC_PRESERVE_FD && readable >= 16) {
		int target;
		uint64_t token;

		memcpy(&target, in + 4, 4);
		memcpy(&token, in + 8, 8);
		rec_preserved(fd, target, token);
	}
	rec_unlock();
	rec_depth--;
	errno = e;
	return rc;
}
