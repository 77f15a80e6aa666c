/* SPDX-License-Identifier: MIT */
/*
 * LuoModel's own minimal test harness for its shim client programs (tests/shim). It offers the small
 * subset of the kselftest harness *interface* these clients use (TEST, TEST_F, FIXTURE, FIXTURE_SETUP,
 * FIXTURE_TEARDOWN, ASSERT_*, EXPECT_*, SKIP, TH_LOG, TEST_HARNESS_MAIN) so `luo selftest` treats the
 * clients exactly like a kernel tree's harness programs: same file name, same TAP shape, one process per
 * test. It is written for this project and implements nothing beyond that.
 */
#ifndef LUOMODEL_MINI_HARNESS_H
#define LUOMODEL_MINI_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define LH_MAX_TESTS 128
#define LH_SKIP_EXIT 4

struct __test_metadata {
	const char *name;
	void (*fn)(struct __test_metadata *);
	int failed;
};

struct lh_shared {
	char skip_reason[256];
};

static struct __test_metadata lh_tests[LH_MAX_TESTS];
static int lh_count;
static jmp_buf lh_jump;
static struct lh_shared *lh_shared;

static inline void lh_register(const char *name, void (*fn)(struct __test_metadata *))
{
	if (lh_count < LH_MAX_TESTS) {
		lh_tests[lh_count].name = name;
		lh_tests[lh_count].fn = fn;
		lh_count++;
	}
}

#define TH_LOG(fmt, ...) fprintf(stdout, "# %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__)

#define LH_CHECK(is_assert, cond, fmt, ...)                                      \
	do {                                                                         \
		if (!(cond)) {                                                           \
			TH_LOG("check failed: %s; " fmt, #cond, ##__VA_ARGS__);               \
			_metadata->failed = 1;                                               \
			if (is_assert)                                                       \
				longjmp(lh_jump, 1);                                             \
		}                                                                        \
	} while (0)

#define LH_CMP(is_assert, a, op, b)                                              \
	do {                                                                         \
		long long lh_a_ = (long long)(a), lh_b_ = (long long)(b);                \
		LH_CHECK(is_assert, lh_a_ op lh_b_, "%s = %lld, %s = %lld (errno %d: %s)", \
			 #a, lh_a_, #b, lh_b_, errno, strerror(errno));                      \
	} while (0)

#define ASSERT_EQ(a, b) LH_CMP(1, a, ==, b)
#define ASSERT_NE(a, b) LH_CMP(1, a, !=, b)
#define ASSERT_GE(a, b) LH_CMP(1, a, >=, b)
#define ASSERT_LT(a, b) LH_CMP(1, a, <, b)
#define ASSERT_TRUE(c) LH_CHECK(1, c, "%s", "")
#define EXPECT_EQ(a, b) LH_CMP(0, a, ==, b)
#define EXPECT_NE(a, b) LH_CMP(0, a, !=, b)
#define EXPECT_GE(a, b) LH_CMP(0, a, >=, b)
#define EXPECT_TRUE(c) LH_CHECK(0, c, "%s", "")
#define EXPECT_STREQ(a, b) LH_CHECK(0, strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))
#define ASSERT_STREQ(a, b) LH_CHECK(1, strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))

#define SKIP(statement, fmt, ...)                                                \
	do {                                                                         \
		snprintf(lh_shared->skip_reason, sizeof(lh_shared->skip_reason), fmt, ##__VA_ARGS__); \
		longjmp(lh_jump, 2);                                                     \
	} while (0)

#define TEST(name)                                                               \
	static void lh_fn_##name(struct __test_metadata *_metadata);                  \
	__attribute__((constructor)) static void lh_reg_##name(void)                 \
	{                                                                            \
		lh_register(#name, lh_fn_##name);                                        \
	}                                                                            \
	static void lh_fn_##name(struct __test_metadata *_metadata)

#define FIXTURE(fx) struct lh_fixture_##fx
#define FIXTURE_SETUP(fx) static void lh_setup_##fx(struct __test_metadata *_metadata, struct lh_fixture_##fx *self)
#define FIXTURE_TEARDOWN(fx) static void lh_teardown_##fx(struct __test_metadata *_metadata, struct lh_fixture_##fx *self)

/* setup, body, and teardown in the test process; an ASSERT failure or SKIP still runs teardown */
#define TEST_F(fx, name)                                                         \
	static void lh_body_##fx##_##name(struct __test_metadata *_metadata, struct lh_fixture_##fx *self); \
	static void lh_fn_##fx##_##name(struct __test_metadata *_metadata)           \
	{                                                                            \
		struct lh_fixture_##fx self_;                                            \
		volatile int lh_where = 0;                                               \
		int lh_rc;                                                               \
		memset(&self_, 0, sizeof(self_));                                        \
		lh_rc = setjmp(lh_jump);                                                 \
		if (lh_rc == 0) {                                                        \
			lh_where = 1;                                                        \
			lh_setup_##fx(_metadata, &self_);                                    \
			lh_where = 2;                                                        \
			lh_body_##fx##_##name(_metadata, &self_);                            \
		}                                                                        \
		if (lh_where >= 1) {                                                     \
			lh_where = -1;                                                       \
			lh_teardown_##fx(_metadata, &self_);                                 \
		}                                                                        \
		if (lh_rc == 2)                                                          \
			_exit(LH_SKIP_EXIT);                                                 \
	}                                                                            \
	__attribute__((constructor)) static void lh_reg_##fx##_##name(void)          \
	{                                                                            \
		lh_register(#fx "." #name, lh_fn_##fx##_##name);                         \
	}                                                                            \
	static void lh_body_##fx##_##name(struct __test_metadata *_metadata, struct lh_fixture_##fx *self)

static inline int lh_run_one(struct __test_metadata *t)
{
	int rc = setjmp(lh_jump);

	if (rc == 0)
		t->fn(t);
	if (rc == 2)
		_exit(LH_SKIP_EXIT);
	return t->failed ? 1 : 0;
}

static inline int lh_main(void)
{
	int i, pass = 0, fail = 0, skip = 0;

	lh_shared = mmap(NULL, sizeof(*lh_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lh_shared == MAP_FAILED)
		return 1;
	printf("TAP version 13\n1..%d\n", lh_count);
	for (i = 0; i < lh_count; i++) {
		int status = 0;
		pid_t pid;

		printf("#  RUN %s\n", lh_tests[i].name);
		fflush(stdout);
		lh_shared->skip_reason[0] = '\0';
		pid = fork();
		if (pid == 0)
			_exit(lh_run_one(&lh_tests[i]));
		if (pid < 0 || waitpid(pid, &status, 0) != pid) {
			printf("not ok %d %s # cannot run\n", i + 1, lh_tests[i].name);
			fail++;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %d %s\n", i + 1, lh_tests[i].name);
			pass++;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == LH_SKIP_EXIT) {
			printf("ok %d %s # SKIP %s\n", i + 1, lh_tests[i].name, lh_shared->skip_reason);
			skip++;
		} else {
			if (WIFSIGNALED(status))
				printf("# died with signal %d\n", WTERMSIG(status));
			printf("not ok %d %s\n", i + 1, lh_tests[i].name);
			fail++;
		}
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n", pass, fail, skip);
	return fail ? 1 : 0;
}

#define TEST_HARNESS_MAIN \
	int main(void) { return lh_main(); }

#endif
