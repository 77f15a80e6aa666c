// SPDX-License-Identifier: MIT
/*
 * LuoModel shim client: single-boot behaviour of /dev/liveupdate as the upstream single-boot selftests
 * exercise it (scenarios.md A1-A2, B1-B6, C1-C5, H1-H2), written for this project and run under
 * libluoshim.so against the model by `luo selftest`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <libclient.h>

#include "../kselftest_harness.h"

FIXTURE(luo) {
	int dev;
	int dev2;
};

FIXTURE_SETUP(luo)
{
	self->dev = open(DEVICE, O_RDWR);
	self->dev2 = -1;
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "%s does not exist", DEVICE);
	ASSERT_GE(self->dev, 0);
}

FIXTURE_TEARDOWN(luo)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->dev2 >= 0)
		close(self->dev2);
}

/* A1 */
TEST_F(luo, open_close)
{
	ASSERT_EQ(close(self->dev), 0);
	self->dev = -1;
}

/* A2 */
TEST_F(luo, exclusive_open)
{
	self->dev2 = open(DEVICE, O_RDWR);
	EXPECT_EQ(self->dev2, -1);
	EXPECT_EQ(errno, EBUSY);
}

/* B1 */
TEST_F(luo, duplicate_session)
{
	int s = cl_create(self->dev, "dup-session");

	ASSERT_GE(s, 0);
	EXPECT_EQ(cl_create(self->dev, "dup-session"), -EEXIST);
	ASSERT_EQ(close(s), 0);
}

/* B2 */
TEST_F(luo, distinct_sessions)
{
	int a = cl_create(self->dev, "distinct-1"), b = cl_create(self->dev, "distinct-2");

	ASSERT_GE(a, 0);
	ASSERT_GE(b, 0);
	EXPECT_NE(a, b);
	EXPECT_EQ(close(a), 0);
	EXPECT_EQ(close(b), 0);
}

/* B3: 64 name bytes, no NUL; no fd may be installed */
TEST_F(luo, unterminated_name)
{
	struct liveupdate_ioctl_create_session a;
	int free_before = cl_lowest_free();

	memset(&a, 'X', sizeof(a));
	a.size = sizeof(a);
	a.fd = 0;
	EXPECT_EQ(ioctl(self->dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(cl_lowest_free(), free_before);
}

/* B4 */
TEST_F(luo, empty_name)
{
	EXPECT_EQ(cl_create(self->dev, ""), -EINVAL);
}

/* B5 */
TEST_F(luo, get_name)
{
	char name[80];
	int s = cl_create(self->dev, "get-name-client");

	ASSERT_GE(s, 0);
	ASSERT_EQ(cl_get_name(s, name, sizeof(name)), 0);
	EXPECT_STREQ(name, "get-name-client");
	EXPECT_EQ(close(s), 0);
}

/* B6 */
TEST_F(luo, get_name_max_length)
{
	char want[64], name[80];
	int s;

	memset(want, 'A', 63);
	want[63] = '\0';
	s = cl_create(self->dev, want);
	ASSERT_GE(s, 0);
	ASSERT_EQ(cl_get_name(s, name, sizeof(name)), 0);
	EXPECT_STREQ(name, want);
	EXPECT_EQ(close(s), 0);
}

/* C1 + E2: closing the session unpreserves; the memfd keeps its data */
TEST_F(luo, preserve_memfd)
{
	char buf[64] = { 0 };
	int s = cl_create(self->dev, "preserve-one");
	int m = memfd_create("client-memfd", 0);

	ASSERT_GE(s, 0);
	ASSERT_GE(m, 0);
	ASSERT_EQ(write(m, "hello liveupdate", 16), 16);
	ASSERT_EQ(cl_preserve(s, m, 0x1234), 0);
	ASSERT_EQ(close(s), 0);
	ASSERT_EQ(lseek(m, 0, SEEK_SET), 0);
	ASSERT_EQ(read(m, buf, sizeof(buf)), 16);
	EXPECT_EQ(memcmp(buf, "hello liveupdate", 16), 0);
	EXPECT_EQ(close(m), 0);
}

/* C2 + E3: preserved memfds closed while the session lives */
TEST_F(luo, preserve_two_memfds)
{
	int s = cl_create(self->dev, "preserve-two");
	int m1 = cl_memfd_with("m1", "data for memfd one", 0), m2 = cl_memfd_with("m2", "data for memfd two", 0);

	ASSERT_GE(s, 0);
	ASSERT_EQ(cl_preserve(s, m1, 0xAAAA), 0);
	ASSERT_EQ(cl_preserve(s, m2, 0xBBBB), 0);
	EXPECT_EQ(close(m1), 0);
	EXPECT_EQ(close(m2), 0);
	EXPECT_EQ(cl_preserve(s, m1, 0xCCCC), -EBADF); /* that number is closed now */
	EXPECT_EQ(close(s), 0);
}

/* C3: empty memfds are preservable, two sessions */
TEST_F(luo, preserve_mixed)
{
	int s1 = cl_create(self->dev, "mixed-1"), s2 = cl_create(self->dev, "mixed-2");
	int d1 = cl_memfd_with("d1", "data for session 1", 0), e1 = cl_memfd_with("e1", NULL, 0);
	int d2 = cl_memfd_with("d2", "data for session 2", 0), e2 = cl_memfd_with("e2", NULL, 0);
	char buf[32];

	ASSERT_GE(s1, 0);
	ASSERT_GE(s2, 0);
	EXPECT_EQ(cl_preserve(s1, d1, 0x1111), 0);
	EXPECT_EQ(cl_preserve(s1, e1, 0x2222), 0);
	EXPECT_EQ(cl_preserve(s2, d2, 0x3333), 0);
	EXPECT_EQ(cl_preserve(s2, e2, 0x4444), 0);
	EXPECT_EQ(pread(e1, buf, sizeof(buf), 0), 0);
	EXPECT_EQ(pread(d2, buf, sizeof(buf), 0), 19);
	close(d1);
	close(e1);
	close(d2);
	close(e2);
	EXPECT_EQ(close(s1), 0);
	EXPECT_EQ(close(s2), 0);
}

/* C4 and the invalid-fd rows of luo.md 3.6 */
TEST_F(luo, preserve_unsupported)
{
	int s = cl_create(self->dev, "unsupported");
	int null = open("/dev/null", O_RDWR), path = open("/dev/null", O_PATH), m = cl_memfd_with("m", "x", 0);

	ASSERT_GE(s, 0);
	EXPECT_EQ(cl_preserve(s, null, 0xDEAD), -ENOENT);
	EXPECT_EQ(cl_preserve(s, s, 1), -ENOENT);          /* a session fd */
	EXPECT_EQ(cl_preserve(s, self->dev, 2), -ENOENT);  /* the device fd */
	EXPECT_EQ(cl_preserve(s, path, 3), -EBADF);        /* O_PATH counts as invalid */
	EXPECT_EQ(cl_preserve(s, 987, 4), -EBADF);
	EXPECT_EQ(cl_preserve(s, m, 5), 0);
	EXPECT_EQ(cl_preserve(s, 987, 5), -EEXIST);        /* the token check comes before the fd lookup */
	close(null);
	close(path);
	close(m);
	EXPECT_EQ(close(s), 0);
}

/* C5 */
TEST_F(luo, double_preservation)
{
	int s1 = cl_create(self->dev, "double-1"), s2 = cl_create(self->dev, "double-2");
	int m = cl_memfd_with("m", "x", 0), again;

	ASSERT_GE(s1, 0);
	ASSERT_GE(s2, 0);
	EXPECT_EQ(cl_preserve(s1, m, 0x1111), 0);
	EXPECT_EQ(cl_preserve(s2, m, 0x2222), -EBUSY);
	EXPECT_EQ(cl_preserve(s1, m, 0x3333), -EBUSY);
	again = dup(m); /* another fd of the same memfd is the same inode */
	EXPECT_EQ(cl_preserve(s2, again, 0x4444), -EBUSY);
	close(again);
	close(m);
	close(s1);
	close(s2);
}

/* H1 */
TEST_F(luo, many_sessions)
{
	static int fds[2000];
	char name[32];
	int i;

	if (cl_nofile(2000 + 32) == -EPERM)
		SKIP(return, "cannot raise RLIMIT_NOFILE");
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "many-%d", i);
		fds[i] = cl_create(self->dev, name);
		ASSERT_GE(fds[i], 0);
	}
	for (i = 0; i < 2000; i++)
		ASSERT_EQ(close(fds[i]), 0);
}

/* H2 */
TEST_F(luo, many_files)
{
	static int fds[500];
	int s = cl_create(self->dev, "many-files"), i;

	ASSERT_GE(s, 0);
	if (cl_nofile(500 + 42) == -EPERM)
		SKIP(return, "cannot raise RLIMIT_NOFILE");
	for (i = 0; i < 500; i++) {
		fds[i] = memfd_create("many", 0);
		ASSERT_GE(fds[i], 0);
		ASSERT_EQ(cl_preserve(s, fds[i], (uint64_t)i), 0);
	}
	for (i = 0; i < 500; i++)
		ASSERT_EQ(close(fds[i]), 0);
	ASSERT_EQ(close(s), 0);
}

TEST_HARNESS_MAIN
