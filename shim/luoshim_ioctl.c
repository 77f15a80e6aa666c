/* SPDX-License-Identifier: MIT */
/*
 * libluoshim.so: faithful forwarding of an ioctl on an owned fd (selftest-shim.md 5.1, 6.1).
 *
 * The shim judges nothing: the kernel's dispatcher checks the command number before it reads user
 * memory, so the shim only gathers facts and the daemon's model decides every errno in its own order.
 * Facts: whether the size word is readable and its value; how many struct bytes are readable and
 * writable (probed with process_vm_readv/writev on the own pid, which report EFAULT instead of
 * faulting); what lies beyond the 4096-byte window; whether a free fd slot exists (a placeholder is
 * reserved for the commands that create an fd); and, for PRESERVE_FD, what the fd field names here.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "luoshim_internal.h"

#define PAGE 4096u
#define MAX_IOV 24
#define TAIL_CHUNK 65536u

static int g_vm_ok = -1; /* process_vm_readv usable (-1 unknown) */

/* splits [addr, addr+len) at page boundaries: a partial transfer then stops exactly at a bad page */
static int split_pages(const void *addr, size_t len, struct iovec *iov, int max)
{
	uintptr_t a = (uintptr_t)addr;
	int n = 0;

	while (len > 0 && n < max) {
		size_t room = PAGE - (a & (PAGE - 1));
		size_t part = len < room ? len : room;

		iov[n].iov_base = (void *)a;
		iov[n].iov_len = part;
		n++;
		a += part;
		len -= part;
	}
	return n;
}

/* bytes readable from addr, contiguously, copied to dst */
static size_t probe_read(const void *addr, void *dst, size_t len)
{
	struct iovec local = { dst, len }, remote[MAX_IOV];
	int n;
	ssize_t r;

	if (len == 0 || (uintptr_t)addr < PAGE)
		return 0;
	n = split_pages(addr, len, remote, MAX_IOV);
	r = process_vm_readv(getpid(), &local, 1, remote, (unsigned long)n, 0);
	if (r >= 0) {
		g_vm_ok = 1;
		return (size_t)r;
	}
	if ((errno == ENOSYS || errno == EPERM) && g_vm_ok != 1) {
		/* process_vm_readv forbidden here (seccomp): trust the pointer, as a plain copy would */
		g_vm_ok = 0;
		memcpy(dst, addr, len);
		return len;
	}
	return 0;
}

/* bytes writable at addr, contiguously (writes src, normally the same bytes read before) */
static size_t probe_write(void *addr, const void *src, size_t len)
{
	struct iovec local = { (void *)src, len }, remote[MAX_IOV];
	int n;
	ssize_t r;

	if (len == 0 || (uintptr_t)addr < PAGE)
		return 0;
	if (g_vm_ok == 0) {
		memcpy(addr, src, len);
		return len;
	}
	n = split_pages(addr, len, remote, MAX_IOV);
	r = process_vm_writev(getpid(), &local, 1, remote, (unsigned long)n, 0);
	return r < 0 ? 0 : (size_t)r;
}

/* bytes [4096, size): the first non-zero byte or unreadable page, in ascending order, decides */
static uint32_t scan_tail(const unsigned char *arg, uint32_t size)
{
	static unsigned char buf[TAIL_CHUNK];
	size_t off = LUSM_WINDOW;

	while (off < size) {
		size_t chunk = size - off < TAIL_CHUNK ? size - off : TAIL_CHUNK;
		size_t got = probe_read(arg + off, buf, chunk), i;

		for (i = 0; i < got; i++)
			if (buf[i])
				return LUSM_TAIL_NONZERO;
		if (got < chunk)
			return LUSM_TAIL_UNREADABLE;
		off += chunk;
	}
	return LUSM_TAIL_ZERO;
}

/* what the fd field of a PRESERVE_FD struct names in this process (selftest-shim.md 6.1) */
static uint32_t classify_target(int target, uint64_t *owned, int *passfd)
{
	struct shim_slot *t = shim_owned(target);
	int fl;

	if (t) {
		*owned = t->handle;
		return LUSM_PRESERVE_OWNED;
	}
	if (target < 0 || shim_is_socket(target))
		return LUSM_PRESERVE_BADFD;
	fl = shim_real_fcntl(target, F_GETFL);
	if (fl < 0 || (fl & O_PATH))
		return LUSM_PRESERVE_BADFD; /* the kernel treats O_PATH fds as invalid */
	*passfd = target;
	return LUSM_PRESERVE_PASSED;
}

/* caller holds shim_lock; returns the ioctl result with errno set on failure */
int shim_forward_ioctl(int fd, struct shim_slot *slot, uint32_t cmd, void *arg)
{
	static unsigned char data[LUSM_WINDOW];
	static struct shim_reply r;
	struct lusm_ioctl fx;
	size_t window = 4, readable = 0, writable = 0, out_len;
	uint32_t size = 0;
	int slotfd = -1, passfd = -1, e;

	memset(&fx, 0, sizeof(fx));
	if (probe_read(arg, data, 4) == 4) {
		memcpy(&size, data, 4);
		fx.flags |= LUSM_IOCTL_SIZE_READABLE;
		window = size < 4 ? 4 : size > LUSM_WINDOW ? LUSM_WINDOW : size;
		readable = probe_read(arg, data, window);
		writable = readable ? probe_write(arg, data, readable) : 0;
		if (size > LUSM_WINDOW && readable == LUSM_WINDOW)
			fx.tail_status = scan_tail(arg, size);
	}
	fx.size = size;
	fx.arg_page_offset = (uint32_t)((uintptr_t)arg & (PAGE - 1));
	fx.readable_len = (uint32_t)readable;
	fx.writable_len = (uint32_t)writable;
	if (cmd == SHIM_CREATE_SESSION || cmd == SHIM_RETRIEVE_SESSION || cmd == SHIM_RETRIEVE_FD) {
		/* the kernel takes the lowest free fd for the new file; reserving it here keeps numbering and
		 * EMFILE exact, and the model decides at which step a missing slot fails */
		fx.flags |= LUSM_IOCTL_SLOT_TRIED;
		slotfd = eventfd(0, EFD_CLOEXEC);
		if (slotfd < 0)
			fx.flags |= LUSM_IOCTL_SLOT_FAILED;
	}
	if (cmd == SHIM_PRESERVE_FD && readable >= 8) {
		int target;

		memcpy(&target, data + 4, sizeof(target));
		fx.preserve_kind = classify_target(target, &fx.owned_handle, &passfd);
	}

	if (shim_call(LUSM_IOCTL, slot->handle, cmd, &fx, sizeof(fx), data, readable, passfd, &r) < 0) {
		e = errno;
		if (slotfd >= 0)
			shim_real_close(slotfd);
		errno = e;
		return -1;
	}
	if (r.rep.ret < 0) {
		if (slotfd >= 0)
			shim_real_close(slotfd);
		if (r.fd >= 0)
			shim_real_close(r.fd);
		shim_debug("ioctl %d 0x%x = errno %d", fd, cmd, r.rep.err);
		errno = r.rep.err;
		return -1;
	}

	out_len = r.rep.out_len < writable ? r.rep.out_len : writable;
	if (r.rep.new_handle) {
		/* a new session: the reserved placeholder becomes its fd */
		if (slotfd < 0 || shim_set_slot(slotfd, SHIM_SESSION, r.rep.new_handle) < 0) {
			shim_release_handle(r.rep.new_handle);
			if (slotfd >= 0)
				shim_real_close(slotfd);
			errno = ENOMEM;
			return -1;
		}
		if (out_len >= 8)
			memcpy(r.out + 4, &slotfd, sizeof(int));
		slotfd = -1;
	} else if (r.fd >= 0) {
		/* a retrieved file: the daemon's real memfd moves onto the reserved slot, close-on-exec */
		if (slotfd < 0 || shim_real_dup3(r.fd, slotfd, O_CLOEXEC) < 0) {
			shim_real_close(r.fd);
			if (slotfd >= 0)
				shim_real_close(slotfd);
			errno = EMFILE;
			return -1;
		}
		shim_real_close(r.fd);
		if (out_len >= 8)
			memcpy(r.out + 4, &slotfd, sizeof(int));
		slotfd = -1;
	}
	if (slotfd >= 0)
		shim_real_close(slotfd);
	if (out_len)
		probe_write(arg, r.out, out_len);
	shim_debug("ioctl %d 0x%x = %d", fd, cmd, r.rep.ret);
	return r.rep.ret;
}
