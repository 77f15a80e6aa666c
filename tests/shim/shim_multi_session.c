// SPDX-License-Identifier: MIT
/*
 * LuoModel shim client, two stages (scenarios.md G1, D2, D4, B8): empty sessions, one file and two
 * files per session, finish in a fixed order. Also lifetimes across the kexec: a session closed in stage 1
 * is gone, a session whose only remaining fd is a dup survives. Written for this project.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <libclient.h>

static int stage1(int dev)
{
	int e1 = cl_create(dev, "client-empty-1"), e2 = cl_create(dev, "client-empty-2");
	int f1 = cl_create(dev, "client-files-1"), f2 = cl_create(dev, "client-files-2");
	int gone = cl_create(dev, "client-closed"), duped = cl_create(dev, "client-duped"), d;

	if (e1 < 0 || e2 < 0 || f1 < 0 || f2 < 0 || gone < 0 || duped < 0)
		CL_FAIL("create");
	if (cl_preserve_text(f1, 0x1001, "Data for session files 1") < 0 ||
	    cl_preserve_text(f2, 0x2002, "First file for session files 2") < 0 ||
	    cl_preserve_text(f2, 0x3003, "Second file for session files 2") < 0 ||
	    cl_preserve_text(gone, 0x4004, "never handed over") < 0 ||
	    cl_preserve_text(duped, 0x5005, "kept through a dup") < 0)
		CL_FAIL("preserve");
	close(gone);            /* unpreserved now */
	d = dup(duped);         /* the dup keeps it */
	close(duped);
	return d < 0 ? -1 : 0;
}

static int check(int dev, const char *name, const unsigned long long *tokens, const char *const *texts, int n)
{
	int s = cl_retrieve(dev, name), i, fd;

	if (s < 0)
		CL_FAIL("retrieve %s: %d", name, s);
	for (i = 0; i < n; i++) {
		fd = cl_verify_text(s, tokens[i], texts[i]);
		if (fd < 0)
			CL_FAIL("%s token %llx: %d", name, tokens[i], fd);
		close(fd);
	}
	if (cl_finish(s) < 0 || close(s) < 0)
		CL_FAIL("finish %s", name);
	return 0;
}

static int stage2(int dev, int state)
{
	static const unsigned long long t1[] = { 0x1001 }, t2[] = { 0x2002, 0x3003 }, t5[] = { 0x5005 };
	static const char *const x1[] = { "Data for session files 1" };
	static const char *const x2[] = { "First file for session files 2", "Second file for session files 2" };
	static const char *const x5[] = { "kept through a dup" };

	(void)state;
	if (check(dev, "client-empty-1", NULL, NULL, 0) || check(dev, "client-empty-2", NULL, NULL, 0) ||
	    check(dev, "client-files-1", t1, x1, 1) || check(dev, "client-files-2", t2, x2, 2) ||
	    check(dev, "client-duped", t5, x5, 1))
		return -1;
	if (cl_retrieve(dev, "client-closed") != -ENOENT)
		CL_FAIL("a session closed in stage 1 came back");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct cl_two_stage t = {
		.title = "CLIENT MULTI-SESSION KEXEC", .state_name = "client_multi_state", .state_token = 998,
		.stage1 = stage1, .stage2 = stage2,
	};

	return cl_two_stage_main(argc, argv, &t);
}
