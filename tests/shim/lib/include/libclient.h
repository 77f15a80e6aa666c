/* SPDX-License-Identifier: MIT */
/* Helpers of LuoModel's shim clients (tests/shim): LUO calls, memfd checks and a two-stage framework,
 * written for this project. They return the new fd / 0, or the negated errno. */
#ifndef LUOMODEL_LIBCLIENT_H
#define LUOMODEL_LIBCLIENT_H

#include <stdint.h>
#include <linux/liveupdate.h>

#define DEVICE "/dev/liveupdate"

int cl_create(int dev, const char *name);
int cl_retrieve(int dev, const char *name);
int cl_preserve(int session, int fd, uint64_t token);
int cl_retrieve_fd(int session, uint64_t token);
int cl_finish(int session);
int cl_get_name(int session, char *out, size_t len);
int cl_nofile(unsigned long want);
int cl_memfd_with(const char *name, const char *text, long size);
int cl_preserve_text(int session, uint64_t token, const char *text);
int cl_verify_text(int session, uint64_t token, const char *text);
int cl_lowest_free(void);

/* two-stage framework: parses -s N, opens the device (any failure: SKIP, exit 4), detects the stage
 * through the state session; stage 1 ends holding every session in a daemonized child, stage 2 must
 * print the pass line. The callbacks return 0 on success. */
struct cl_two_stage {
	const char *title;      /* printed as "--- <title> TEST PASSED ---" */
	const char *state_name; /* state session */
	uint64_t state_token;
	int (*stage1)(int dev);
	int (*stage2)(int dev, int state_session);
};

int cl_two_stage_main(int argc, char **argv, const struct cl_two_stage *t);

#define CL_FAIL(...)                                                      \
	do {                                                                  \
		printf("# %s:%d: ", __FILE__, __LINE__);                          \
		printf(__VA_ARGS__);                                              \
		printf("\n");                                                     \
		return -1;                                                        \
	} while (0)

#endif
