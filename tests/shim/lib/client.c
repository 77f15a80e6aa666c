// SPDX-License-Identifier: MIT
/* Helpers of LuoModel's shim clients: see lib/include/libclient.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libclient.h>

static int session_ioctl(int dev, unsigned long cmd, const char *name)
{
	struct liveupdate_ioctl_create_session a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	strncpy((char *)a.name, name, sizeof(a.name) - 1);
	if (ioctl(dev, cmd, &a) < 0)
		return -errno;
	return a.fd;
}

int cl_create(int dev, const char *name)
{
	return session_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, name);
}

int cl_retrieve(int dev, const char *name)
{
	return session_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, name);
}

int cl_preserve(int session, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd a = { .size = sizeof(a), .fd = fd, .token = token };

	return ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &a) < 0 ? -errno : 0;
}

int cl_retrieve_fd(int session, uint64_t token)
{
	struct liveupdate_session_retrieve_fd a = { .size = sizeof(a), .token = token };

	return ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &a) < 0 ? -errno : a.fd;
}

int cl_finish(int session)
{
	struct liveupdate_session_finish a = { .size = sizeof(a) };

	return ioctl(session, LIVEUPDATE_SESSION_FINISH, &a) < 0 ? -errno : 0;
}

int cl_get_name(int session, char *out, size_t len)
{
	struct liveupdate_session_get_name a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	if (ioctl(session, LIVEUPDATE_SESSION_GET_NAME, &a) < 0)
		return -errno;
	snprintf(out, len, "%.*s", (int)sizeof(a.name), (const char *)a.name);
	return 0;
}

int cl_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

int cl_memfd_with(const char *name, const char *text, long size)
{
	int fd = memfd_create(name, 0);

	if (fd < 0)
		return -errno;
	if (size && ftruncate(fd, size) < 0)
		return -errno;
	if (text && pwrite(fd, text, strlen(text) + 1, 0) != (ssize_t)strlen(text) + 1)
		return -EIO;
	return fd;
}

/* one page, text + NUL written through a shared mapping, preserved, then closed at once (C6) */
int cl_preserve_text(int session, uint64_t token, const char *text)
{
	int fd = memfd_create("client_mfd", 0), rc;
	char *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, 4096) < 0)
		return -errno;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	strcpy(p, text);
	munmap(p, 4096);
	rc = cl_preserve(session, fd, token);
	close(fd);
	return rc;
}

/* RETRIEVE_FD, then the page must hold text as a C string; returns the still-open fd */
int cl_verify_text(int session, uint64_t token, const char *text)
{
	int fd = cl_retrieve_fd(session, token);
	char *p;

	if (fd < 0)
		return fd;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (text && strcmp(p, text) != 0) {
		printf("# token %llu holds \"%.40s\", expected \"%s\"\n", (unsigned long long)token, p, text);
		munmap(p, 4096);
		close(fd);
		return -EINVAL;
	}
	munmap(p, 4096);
	return fd;
}

int cl_lowest_free(void)
{
	int fd = open("/dev/null", O_RDONLY);

	if (fd < 0)
		return -errno;
	close(fd);
	return fd;
}

static int read_stage(int state, uint64_t token)
{
	char buf[32] = { 0 };
	int fd = cl_verify_text(state, token, NULL);

	if (fd < 0)
		return fd;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		return -errno;
	close(fd);
	return atoi(buf);
}

int cl_two_stage_main(int argc, char **argv, const struct cl_two_stage *t)
{
	int stage = 1, dev, state, opt;
	pid_t pid;

	while ((opt = getopt(argc, argv, "s:")) != -1) {
		if (opt != 's')
			return 1;
		stage = atoi(optarg);
	}
	if (stage != 1 && stage != 2) {
		printf("# bad stage %d\n", stage);
		return 1;
	}
	dev = open(DEVICE, O_RDWR);
	if (dev < 0) {
		printf("1..0 # SKIP cannot open %s: %s\n", DEVICE, strerror(errno));
		return 4;
	}
	state = cl_retrieve(dev, t->state_name);
	if (state >= 0 && stage == 1) {
		printf("# Stage mismatch: asked for 1, the state session exists\n");
		return 1;
	}
	if (state < 0 && (state != -ENOENT || stage == 2)) {
		printf("# Stage mismatch or error: retrieve of state session = %d\n", state);
		return 1;
	}
	if (stage == 1) {
		int s = cl_create(dev, t->state_name);

		if (s < 0 || cl_preserve_text(s, t->state_token, "2") < 0) {
			printf("Bail out! cannot create the state session\n");
			return 1;
		}
		if (t->stage1(dev) != 0) {
			printf("Bail out! stage 1 failed\n");
			return 1;
		}
		close(dev);
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0) {
			printf("# stage 1 done; holder pid %d keeps the sessions\n", (int)pid);
			return 0;
		}
		setsid();
		close(0);
		close(1);
		close(2);
		if (chdir("/") < 0)
			_exit(1);
		for (;;)
			pause();
	}
	if (read_stage(state, t->state_token) != 2) {
		printf("Bail out! state page does not say 2\n");
		return 1;
	}
	if (t->stage2(dev, state) != 0) {
		printf("Bail out! stage 2 failed\n");
		return 1;
	}
	if (cl_finish(state) < 0 || close(state) < 0) {
		printf("Bail out! finish of the state session\n");
		return 1;
	}
	printf("--- %s TEST PASSED ---\n", t->title);
	return 0;
}
