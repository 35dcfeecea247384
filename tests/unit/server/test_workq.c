/*
 * test_workq.c: the scan worker pool: a full queue refuses instead of
 * blocking, every job comes back through the done list and the eventfd,
 * finished jobs not yet collected count against the bound, and freeing
 * hands back what never ran.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/core.h"

#include "../../../daemon/server/workq.h"

static pthread_mutex_t	gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	gate_cv = PTHREAD_COND_INITIALIZER;
static int		gate_open;
static int		inits, dropped;

static void *
init(void *arg)
{
	__atomic_fetch_add(&inits, 1, __ATOMIC_SEQ_CST);
	return arg;
}

/* Jobs are ints; each worker waits at the gate, then doubles its job. */
static void
run(void *job, void *state)
{
	assert_ptr_equal(state, &gate_open);
	pthread_mutex_lock(&gate_mu);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	*(int *)job *= 2;
}

static void
drop(void *job)
{
	(void)job;
	dropped++;
}

static const struct srv_workq_ops ops = { init, NULL, run };

static void
test_bounded(void **state)
{
	struct srv_workq	*q;
	struct pollfd		 pfd;
	void			*done[16];
	int			 jobs[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t			 got = 0, n, pushed = 0;

	(void)state;
	assert_int_equal(srv_workq_new(&ops, &gate_open, 2, 3, &q), VIGIL_OK);
	assert_int_equal(srv_workq_capacity(q), 3);
	/* Two workers take a job each and wait at the gate; three wait. */
	while (pushed < 8 && srv_workq_push(q, &jobs[pushed]) == VIGIL_OK) {
		pushed++;
		if (pushed <= 2)
			while (srv_workq_waiting(q) != 0)
				usleep(1000);
	}
	assert_int_equal(pushed, 5);
	assert_int_equal(srv_workq_push(q, &jobs[7]), VIGIL_E_LIMIT);
	assert_int_equal(srv_workq_inflight(q), 5);
	pthread_mutex_lock(&gate_mu);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	pfd.fd = srv_workq_fd(q);
	pfd.events = POLLIN;
	while (got < 5) {
		assert_int_equal(poll(&pfd, 1, 10000), 1);
		n = srv_workq_done(q, done, 2);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(*(int *)done[i] % 2, 0);
		got += n;
	}
	assert_int_equal(srv_workq_inflight(q), 0);
	assert_int_equal(inits, 2);
	for (int i = 0; i < 5; i++)
		assert_int_equal(jobs[i], 2 * (i + 1));
	srv_workq_free(q, drop);
	assert_int_equal(dropped, 0);
}

/*
 * The loop may push again before it collects finished jobs: those count
 * against the bound too, or the done list overflows (it did).
 */
static void
test_uncollected(void **state)
{
	struct srv_workq	*q;
	struct pollfd		 pfd;
	void			*done[64];
	int			 jobs[64];
	size_t			 got = 0, pushed = 0;

	(void)state;
	gate_open = 1;
	assert_int_equal(srv_workq_new(&ops, &gate_open, 2, 3, &q), VIGIL_OK);
	for (int i = 0; i < 64; i++) {
		jobs[i] = i;
		if (srv_workq_push(q, &jobs[i]) == VIGIL_OK)
			pushed++;
		/* Let the workers finish what they have, uncollected. */
		while (srv_workq_waiting(q) > 0)
			usleep(100);
		usleep(200);
	}
	assert_true(pushed >= 3 && pushed <= 5);
	pfd.fd = srv_workq_fd(q);
	pfd.events = POLLIN;
	while (got < pushed) {
		assert_int_equal(poll(&pfd, 1, 10000), 1);
		got += srv_workq_done(q, done + got, 64 - got);
	}
	assert_int_equal(got, pushed);
	assert_int_equal(srv_workq_inflight(q), 0);
	assert_int_equal(srv_workq_push(q, &jobs[0]), VIGIL_OK);
	srv_workq_free(q, drop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_uncollected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
