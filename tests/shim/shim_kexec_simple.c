// SPDX-License-Identifier: MIT
/*
 * LuoModel shim client, two stages (scenarios.md F1, C6, C7, D1, E5-E8, J1 shape): one session with a
 * memfd preserved in stage 1, plus a memfd written after PRESERVE_FD (the snapshot is taken at kexec);
 * stage 2 retrieves both, checks the bytes, the close-on-exec flag and the fresh offset, then finishes.
 * Written for this project; run by `luo selftest` as stage 1, model kexec, stage 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libclient.h>

#define SESSION "client-simple"

static int late_fd = -1; /* kept open in stage 1 so it can be written after preserve */

static int stage1(int dev)
{
	int s = cl_create(dev, SESSION);

	if (s < 0)
		CL_FAIL("create: %d", s);
	if (cl_preserve_text(s, 0x1A, "hello kexec world") < 0)
		CL_FAIL("preserve 0x1A");
	late_fd = cl_memfd_with("late", "written before preserve", 8192);
	if (late_fd < 0 || cl_preserve(s, late_fd, 0x1B) < 0)
		CL_FAIL("preserve 0x1B");
	if (pwrite(late_fd, "written after preserve", 23, 0) != 23 || pwrite(late_fd, "second page", 12, 4096) != 12)
		CL_FAIL("write after preserve");
	if (lseek(late_fd, 100, SEEK_SET) != 100)
		CL_FAIL("lseek");
	return 0; /* the session fd stays open: the holder keeps it */
}

static int stage2(int dev, int state)
{
	struct stat st;
	char buf[32] = { 0 };
	int s = cl_retrieve(dev, SESSION), fd;

	(void)state;
	if (s < 0)
		CL_FAIL("retrieve session: %d", s);
	fd = cl_verify_text(s, 0x1A, "hello kexec world");
	if (fd < 0)
		CL_FAIL("verify 0x1A: %d", fd);
	if (fcntl(fd, F_GETFD) != FD_CLOEXEC)
		CL_FAIL("retrieved fd is not close-on-exec");
	if (fstat(fd, &st) < 0 || st.st_size != 4096)
		CL_FAIL("retrieved size %lld", (long long)st.st_size);
	if (lseek(fd, 0, SEEK_CUR) != 0)
		CL_FAIL("retrieved offset not 0");
	close(fd);
	fd = cl_verify_text(s, 0x1B, "written after preserve");
	if (fd < 0)
		CL_FAIL("verify 0x1B: %d", fd);
	if (pread(fd, buf, 12, 4096) != 12 || strcmp(buf, "second page") != 0)
		CL_FAIL("second page: \"%s\"", buf);
	if (lseek(fd, 0, SEEK_CUR) != 100)
		CL_FAIL("offset at freeze not restored: %lld", (long long)lseek(fd, 0, SEEK_CUR));
	close(fd);
	if (cl_retrieve(dev, SESSION) != -EINVAL)
		CL_FAIL("a session is retrievable once per boot");
	if (cl_finish(s) < 0)
		CL_FAIL("finish");
	if (close(s) < 0)
		CL_FAIL("close");
	if (cl_retrieve(dev, SESSION) != -ENOENT)
		CL_FAIL("finished session still there");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct cl_two_stage t = {
		.title = "CLIENT SIMPLE KEXEC", .state_name = "client_simple_state", .state_token = 999,
		.stage1 = stage1, .stage2 = stage2,
	};

	return cl_two_stage_main(argc, argv, &t);
}
