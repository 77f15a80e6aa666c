// SPDX-License-Identifier: MIT
/*
 * LuoModel shim client: what the shim itself must get right (selftest-shim.md sections 3-5): fd numbers
 * and close-on-exec, dup/dup2/F_DUPFD/close_range reference counting, fork holding sessions, a crashing
 * process, faithful ioctl errors for bad memory, EMFILE, and fstatfs. Written for this project.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libclient.h>

#include "../kselftest_harness.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

FIXTURE(shim) {
	int dev;
};

FIXTURE_SETUP(shim)
{
	self->dev = open(DEVICE, O_RDWR);
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "%s does not exist", DEVICE);
	ASSERT_GE(self->dev, 0);
}

FIXTURE_TEARDOWN(shim)
{
	if (self->dev >= 0)
		close(self->dev);
}

/* K1: lowest free number, session fds close-on-exec, the device only with O_CLOEXEC */
TEST_F(shim, fd_numbers_and_cloexec)
{
	int before = cl_lowest_free(), s, hole, s2, d2;

	s = cl_create(self->dev, "numbers");
	ASSERT_EQ(s, before);
	EXPECT_EQ(fcntl(s, F_GETFD), FD_CLOEXEC);
	EXPECT_EQ(fcntl(self->dev, F_GETFD), 0);
	hole = open("/dev/null", O_RDONLY);
	close(s); /* frees a number below 'hole' */
	s2 = cl_create(self->dev, "numbers");
	EXPECT_EQ(s2, s);
	close(s2);
	close(hole);
	close(self->dev);
	d2 = open(DEVICE, O_RDWR | O_CLOEXEC);
	self->dev = d2;
	ASSERT_GE(d2, 0);
	EXPECT_EQ(fcntl(d2, F_GETFD), FD_CLOEXEC);
	EXPECT_EQ(ioctl(d2, FIONCLEX), 0); /* generic VFS ioctl on the placeholder */
	EXPECT_EQ(fcntl(d2, F_GETFD), 0);
}

/* dup, dup2 and F_DUPFD share one open file description: release on the last close only */
TEST_F(shim, dup_family)
{
	int s = cl_create(self->dev, "dup"), d, d2, target;

	ASSERT_GE(s, 0);
	d = dup(s);
	ASSERT_GE(d, 0);
	ASSERT_EQ(close(s), 0);
	EXPECT_EQ(cl_create(self->dev, "dup"), -EEXIST); /* still alive through the dup */
	d2 = fcntl(d, F_DUPFD_CLOEXEC, 100);
	ASSERT_GE(d2, 100);
	EXPECT_EQ(fcntl(d2, F_GETFD), FD_CLOEXEC);
	ASSERT_EQ(close(d), 0);
	EXPECT_EQ(cl_create(self->dev, "dup"), -EEXIST);
	target = cl_create(self->dev, "dup-target");
	ASSERT_GE(target, 0);
	ASSERT_EQ(dup2(d2, target), target); /* replaces (and releases) dup-target */
	s = cl_create(self->dev, "dup-target");
	EXPECT_GE(s, 0);
	close(s);
	ASSERT_EQ(close(d2), 0);
	EXPECT_EQ(cl_create(self->dev, "dup"), -EEXIST); /* 'target' still refers to it */
	ASSERT_EQ(close(target), 0);
	s = cl_create(self->dev, "dup");
	EXPECT_GE(s, 0);
	close(s);
	/* the device too: a dup keeps it busy (luo.md 3.1) */
	d = dup(self->dev);
	close(self->dev);
	self->dev = d;
	EXPECT_EQ(open(DEVICE, O_RDWR), -1);
	EXPECT_EQ(errno, EBUSY);
}

/* E6: a forked child keeps the session after the parent closes its fd; its exit releases it */
TEST_F(shim, fork_holds_session)
{
	int s = cl_create(self->dev, "forked"), status, p[2];
	pid_t pid;
	char c;

	ASSERT_GE(s, 0);
	ASSERT_EQ(pipe(p), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(p[0]);
		if (write(p[1], "r", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(read(p[0], &c, 1), 1);
	ASSERT_EQ(close(s), 0);
	EXPECT_EQ(cl_create(self->dev, "forked"), -EEXIST);
	kill(pid, SIGKILL);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	s = cl_create(self->dev, "forked"); /* the child's exit dropped the last reference */
	EXPECT_GE(s, 0);
	close(s);
}

/* A process that dies mid-way (abort) releases everything before its parent sees it dead */
TEST_F(shim, crash_releases)
{
	int status, s;
	pid_t pid;

	close(self->dev);
	self->dev = -1;
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int d = open(DEVICE, O_RDWR);

		if (d < 0 || cl_create(d, "crashed") < 0)
			_exit(1);
		abort();
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status));
	self->dev = open(DEVICE, O_RDWR);
	ASSERT_GE(self->dev, 0);
	s = cl_create(self->dev, "crashed");
	EXPECT_GE(s, 0);
	close(s);
}

/* close_range releases owned fds; CLOSE_RANGE_CLOEXEC only marks them */
TEST_F(shim, close_range_releases)
{
	int s = cl_create(self->dev, "ranged"), d;

	ASSERT_GE(s, 0);
	ASSERT_EQ(close_range((unsigned int)s, (unsigned int)s, CLOSE_RANGE_CLOEXEC), 0);
	EXPECT_EQ(cl_create(self->dev, "ranged"), -EEXIST);
	ASSERT_EQ(close_range(3, ~0U, 0), 0);
	self->dev = -1;
	d = open(DEVICE, O_RDWR); /* device released too */
	ASSERT_GE(d, 0);
	self->dev = d;
	s = cl_create(d, "ranged");
	EXPECT_GE(s, 0);
	close(s);
}

/* closefrom releases like close_range; the shim's own socket survives it */
TEST_F(shim, closefrom_releases)
{
	int s = cl_create(self->dev, "from");

	ASSERT_GE(s, 0);
	closefrom(3);
	self->dev = open(DEVICE, O_RDWR);
	ASSERT_GE(self->dev, 0);
	s = cl_create(self->dev, "from");
	EXPECT_GE(s, 0);
	close(s);
}

/* the device path in other spellings: relative to the cwd, through openat, with dot segments; O_PATH */
TEST_F(shim, path_forms)
{
	int dir = open("/dev", O_RDONLY | O_DIRECTORY), fd, p;

	ASSERT_GE(dir, 0);
	fd = openat(dir, "liveupdate", O_RDWR);
	EXPECT_EQ(fd, -1);
	EXPECT_EQ(errno, EBUSY); /* it is the device: self->dev holds it */
	ASSERT_EQ(chdir("/dev"), 0);
	fd = open("./../dev/liveupdate", O_RDWR);
	EXPECT_EQ(fd, -1);
	EXPECT_EQ(errno, EBUSY);
	close(self->dev);
	self->dev = open("liveupdate", O_RDWR);
	ASSERT_GE(self->dev, 0);
	p = open("//dev/./liveupdate", O_PATH);
	ASSERT_GE(p, 0);
	EXPECT_EQ(ioctl(p, LIVEUPDATE_IOCTL_CREATE_SESSION, NULL), -1);
	EXPECT_EQ(errno, EBADF); /* an O_PATH fd has no ioctl */
	EXPECT_EQ(close(p), 0);
	close(dir);
}

/* luo.md 3.2: the command number is judged before user memory is read; bad memory is EFAULT */
TEST_F(shim, faithful_ioctl_errors)
{
	struct liveupdate_ioctl_create_session a;
	char *pages;
	int s;

	EXPECT_EQ(ioctl(self->dev, LIVEUPDATE_IOCTL_CREATE_SESSION, NULL), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(ioctl(self->dev, _IO(LIVEUPDATE_IOCTL_TYPE, 0x05), NULL), -1);
	EXPECT_EQ(errno, EINVAL); /* nr out of range beats the fault */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	strcpy((char *)a.name, "wrong-type");
	EXPECT_EQ(ioctl(self->dev, _IO(0xBB, 0x00), &a), -1);
	EXPECT_EQ(errno, ENOTTY);
	EXPECT_EQ(ioctl(self->dev, _IOW(LIVEUPDATE_IOCTL_TYPE, 0x00, int), &a), -1);
	EXPECT_EQ(errno, ENOTTY); /* size/direction bits make it another command */
	a.size = 8;
	EXPECT_EQ(ioctl(self->dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), -1);
	EXPECT_EQ(errno, EINVAL); /* below min_size */

	pages = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(pages, MAP_FAILED);
	/* size 8192 with a non-zero byte in the tail: E2BIG */
	memset(pages, 0, 3 * 4096);
	*(uint32_t *)pages = 8192;
	strcpy(pages + 8, "tail");
	pages[5000] = 1;
	EXPECT_EQ(ioctl(self->dev, LIVEUPDATE_IOCTL_CREATE_SESSION, pages), -1);
	EXPECT_EQ(errno, E2BIG);
	/* zero tail: accepted */
	pages[5000] = 0;
	s = ioctl(self->dev, LIVEUPDATE_IOCTL_CREATE_SESSION, pages);
	EXPECT_EQ(s, 0);
	if (s == 0)
		close(*(int *)(pages + 4));
	/* the tail runs into an inaccessible page: EFAULT */
	ASSERT_EQ(mprotect(pages + 2 * 4096, 4096, PROT_NONE), 0);
	*(uint32_t *)pages = 3 * 4096;
	strcpy(pages + 8, "tail-fault");
	EXPECT_EQ(ioctl(self->dev, LIVEUPDATE_IOCTL_CREATE_SESSION, pages), -1);
	EXPECT_EQ(errno, EFAULT);
	/* a struct straddling into the inaccessible page: its size word is readable, the rest is not */
	*(uint32_t *)(pages + 2 * 4096 - 20) = 72;
	EXPECT_EQ(ioctl(self->dev, LIVEUPDATE_IOCTL_CREATE_SESSION, pages + 2 * 4096 - 20), -1);
	EXPECT_EQ(errno, EFAULT);
	/* a read-only struct: the reply cannot be written, so no session is made (luo.md 3.4 step 8) */
	ASSERT_EQ(mprotect(pages + 2 * 4096, 4096, PROT_READ | PROT_WRITE), 0);
	*(uint32_t *)pages = 72;
	memset(pages + 4, 0, 68);
	strcpy(pages + 8, "read-only");
	ASSERT_EQ(mprotect(pages, 4096, PROT_READ), 0);
	EXPECT_EQ(ioctl(self->dev, LIVEUPDATE_IOCTL_CREATE_SESSION, pages), -1);
	EXPECT_EQ(errno, EFAULT);
	s = cl_create(self->dev, "read-only");
	EXPECT_GE(s, 0);
	close(s);
	munmap(pages, 3 * 4096);
}

/* EMFILE at the kernel's step: a full fd table fails CREATE with EMFILE even for an empty name */
TEST_F(shim, emfile)
{
	struct rlimit rl;
	int free_fd = cl_lowest_free(), fds[8], n = 0;

	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)free_fd + 2;
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 8) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0)
			break;
		fds[n++] = fd;
	}
	EXPECT_EQ(n, 2);
	EXPECT_EQ(cl_create(self->dev, "no-room"), -EMFILE);
	EXPECT_EQ(cl_create(self->dev, ""), -EMFILE);
	EXPECT_EQ(cl_retrieve(self->dev, "absent"), -EMFILE);
	close(fds[--n]);
	EXPECT_EQ(cl_create(self->dev, ""), -EINVAL);
	EXPECT_EQ(cl_retrieve(self->dev, "absent"), -ENOENT); /* B7 */
	while (n > 0)
		close(fds[--n]);
}

/* fstatfs of a session fd reports the anon-inode magic of mainline */
TEST_F(shim, fstatfs_magic)
{
	struct statfs st;
	int s = cl_create(self->dev, "statfs");

	ASSERT_GE(s, 0);
	ASSERT_EQ(fstatfs(s, &st), 0);
	EXPECT_EQ((unsigned long)st.f_type, 0x09041934UL);
	close(s);
}

TEST_HARNESS_MAIN
