// SPDX-License-Identifier: MIT
/*
 * LuoModel trace workload (docs/trace-format.md §7, tests/Trace): a small two-stage program whose GET_NAME
 * replies depend on the model's variant (mainline: name at offset 8; get_name=seed: offset 4), recorded by
 * librecorder.so in front of libluoshim.so. It judges nothing itself: the recorded trace is what is checked.
 * Written for this project; built with tests/shim/lib (libclient).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libclient.h>

#define SESSION "names"

static int stage1(int dev)
{
	char name[80];
	int s = cl_create(dev, SESSION), bad;

	if (s < 0)
		CL_FAIL("create: %d", s);
	printf("# get_name: %d \"%s\"\n", cl_get_name(s, name, sizeof(name)), name);
	bad = cl_create(dev, "");
	printf("# empty name: %d\n", bad);
	if (bad >= 0)
		close(bad);
	if (cl_preserve_text(s, 7, "names payload") < 0)
		CL_FAIL("preserve");
	return 0;
}

static int stage2(int dev, int state)
{
	char name[80];
	int s = cl_retrieve(dev, SESSION), fd;

	(void)state;
	if (s < 0)
		CL_FAIL("retrieve: %d", s);
	printf("# get_name: %d \"%s\"\n", cl_get_name(s, name, sizeof(name)), name);
	fd = cl_verify_text(s, 7, "names payload");
	if (fd < 0)
		CL_FAIL("verify: %d", fd);
	close(fd);
	if (cl_finish(s) < 0)
		CL_FAIL("finish");
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct cl_two_stage t = {
		.title = "TRACE NAMES", .state_name = "trace_names_state", .state_token = 5,
		.stage1 = stage1, .stage2 = stage2,
	};

	return cl_two_stage_main(argc, argv, &t);
}
