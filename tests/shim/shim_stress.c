// SPDX-License-Identifier: MIT
/*
 * LuoModel shim client, two stages (scenarios.md H3, H4, K6): 2000 empty sessions plus one session with
 * 500 one-page memfds across the model kexec. Written for this project.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <libclient.h>

#define SESSIONS 2000
#define FILES 500

static int stage1(int dev)
{
	char name[32], text[32];
	int i, s;

	if (cl_nofile(SESSIONS + 64) < 0)
		CL_FAIL("RLIMIT_NOFILE");
	for (i = 0; i < SESSIONS; i++) {
		snprintf(name, sizeof(name), "client-many-%d", i);
		if (cl_create(dev, name) < 0)
			CL_FAIL("create %s", name);
	}
	s = cl_create(dev, "client-many-files");
	if (s < 0)
		CL_FAIL("create files session");
	for (i = 0; i < FILES; i++) {
		snprintf(text, sizeof(text), "file-data-%d", i);
		if (cl_preserve_text(s, (uint64_t)i, text) < 0)
			CL_FAIL("preserve %d", i);
	}
	return 0;
}

static int stage2(int dev, int state)
{
	char name[32], text[32];
	int i, s, fd;

	(void)state;
	for (i = 0; i < SESSIONS; i++) {
		snprintf(name, sizeof(name), "client-many-%d", i);
		s = cl_retrieve(dev, name);
		if (s < 0 || cl_finish(s) < 0 || close(s) < 0)
			CL_FAIL("session %s: %d", name, s);
	}
	s = cl_retrieve(dev, "client-many-files");
	if (s < 0)
		CL_FAIL("retrieve files session");
	for (i = 0; i < FILES; i++) {
		snprintf(text, sizeof(text), "file-data-%d", i);
		fd = cl_verify_text(s, (uint64_t)i, text);
		if (fd < 0)
			CL_FAIL("file %d: %d", i, fd);
		close(fd);
	}
	if (cl_finish(s) < 0 || close(s) < 0)
		CL_FAIL("finish files session");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct cl_two_stage t = {
		.title = "CLIENT STRESS KEXEC (2000 sessions, 500 files)", .state_name = "client_stress_state", .state_token = 9999,
		.stage1 = stage1, .stage2 = stage2,
	};

	return cl_two_stage_main(argc, argv, &t);
}
