/* SPDX-License-Identifier: MIT */
/*
 * libluoshim.so: fork (selftest-shim.md 4.3). The prepare handler registers the child's references
 * with the daemon under a token before the child exists, so the parent may exit at once (the stage-1
 * holder); the child opens its own connection and claims the token.
 */
#include <stdlib.h>
#include <unistd.h>

#include "luoshim_internal.h"

#define FORK_CHUNK 4096

/* ---- fork (selftest-shim.md 4.3) ---- */

struct fork_entry {
	uint64_t handle;
	uint32_t count;
} __attribute__((packed));

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* prepare: the child's references are taken now, under a token, so the parent may exit at once */
static void atfork_prepare(void)
{
	uint64_t *hs;
	struct fork_entry *ents;
	struct shim_reply r;
	int i, n = 0, m = 0, sent = 0;
	uint64_t token = 0;

	pthread_mutex_lock(&shim_lock);
	shim_fork_token = 0;
	if (shim_sock < 0)
		return;
	for (i = 0; i < shim_cap; i++)
		if (shim_tab[i].kind != SHIM_NONE)
			n++;
	if (n == 0)
		return;
	hs = malloc((size_t)n * sizeof(*hs));
	ents = malloc((size_t)n * sizeof(*ents));
	if (!hs || !ents)
		goto out;
	for (i = 0, n = 0; i < shim_cap; i++)
		if (shim_tab[i].kind != SHIM_NONE)
			hs[n++] = shim_tab[i].handle;
	qsort(hs, (size_t)n, sizeof(*hs), cmp_u64);
	for (i = 0; i < n; i++) {
		if (m > 0 && ents[m - 1].handle == hs[i]) {
			ents[m - 1].count++;
		} else {
			ents[m].handle = hs[i];
			ents[m].count = 1;
			m++;
		}
	}
	while (sent < m) {
		int chunk = m - sent > FORK_CHUNK ? FORK_CHUNK : m - sent;

		if (shim_call(LUSM_FORK_PREPARE, token, 0, ents + sent, (size_t)chunk * sizeof(*ents), NULL, 0, -1, &r) < 0 ||
		    r.rep.ret < 0) {
			token = 0;
			break;
		}
		token = r.rep.new_handle;
		sent += chunk;
	}
	shim_fork_token = token;
out:
	free(hs);
	free(ents);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&shim_lock);
}

/* child: the inherited socket is the parent's; open our own connection and claim the token */
static void atfork_child(void)
{
	uint64_t token = shim_fork_token;

	pthread_mutex_init(&shim_lock, NULL);
	if (shim_sock >= 0)
		shim_real_close(shim_sock);
	shim_sock = -1;
	shim_fork_token = 0;
	if (token)
		shim_connect(token);
}

void shim_atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

SHIM_EXPORT pid_t fork(void)
{
	pid_t p;

	shim_resolve();
	p = shim_real_fork();
	if (p != 0) {
		pthread_mutex_lock(&shim_lock);
		if (p < 0 && shim_fork_token) {
			struct shim_reply r;

			shim_call(LUSM_FORK_CANCEL, shim_fork_token, 0, NULL, 0, NULL, 0, -1, &r);
		}
		shim_fork_token = 0;
		pthread_mutex_unlock(&shim_lock);
	}
	return p;
}
