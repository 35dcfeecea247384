/*
 * workq.c: a fixed pool of scan threads fed through a bounded queue.
 *
 * DESIGN (nginx's ngx_thread_pool.c)
 *
 *   loop: push ──> [ waiting, at most max ] ──> worker: run(job, state)
 *                                                  │
 *   loop: done() <── [ done list ] <── append, write eventfd
 *
 * A full queue refuses at once (VIGIL_E_LIMIT) rather than blocking the
 * loop; the server turns that into 503.  Jobs leave in FIFO order but may
 * finish in any order.  Each worker keeps private state made by ops->init
 * (a scanner: libmagic handle and Vectorscan scratch) for its whole life.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vigil/core.h"

#include "workq.h"

struct srv_workq {
	const struct srv_workq_ops *ops;
	void		*arg;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	void		**ring;
	size_t		 max, head, len;
	void		**done;
	size_t		 ndone, donecap;
	size_t		 running;
	int		 stop;
	int		 efd;
	pthread_t	*threads;
	unsigned	 nthreads;
};

static void *
worker(void *arg)
{
	struct srv_workq	*q = arg;
	void			*state, *job, **d;
	uint64_t		 one = 1;
	int			 wake;

	state = q->ops->init != NULL ? q->ops->init(q->arg) : NULL;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->len == 0 && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		job = q->ring[q->head];
		q->head = (q->head + 1) % q->max;
		q->len--;
		q->running++;
		pthread_mutex_unlock(&q->mu);

		q->ops->run(job, state);

		pthread_mutex_lock(&q->mu);
		q->running--;
		/* done[] was sized for every job that can be in flight. */
		d = q->done;
		d[q->ndone++] = job;
		/*
		 * Only the first job on an empty done list wakes the loop:
		 * the ones after it are taken by the same srv_workq_done(),
		 * which re-arms the eventfd if it leaves any behind.
		 */
		wake = q->ndone == 1;
		pthread_mutex_unlock(&q->mu);
		if (wake)
			(void)!write(q->efd, &one, sizeof(one));
	}
	if (q->ops->fini != NULL)
		q->ops->fini(state);
	return NULL;
}

enum vigil_err
srv_workq_new(const struct srv_workq_ops *ops, void *arg, unsigned n,
    size_t max, struct srv_workq **out)
{
	struct srv_workq	*q;

	*out = NULL;
	if (n == 0 || max == 0)
		return VIGIL_E_INVAL;
	if ((q = vg_calloc(1, sizeof(*q))) == NULL)
		return VIGIL_E_NOMEM;
	q->ops = ops;
	q->arg = arg;
	q->max = max;
	q->efd = -1;
	q->donecap = max + n;
	q->ring = vg_calloc(max, sizeof(void *));
	q->done = vg_calloc(q->donecap, sizeof(void *));
	q->threads = vg_calloc(n, sizeof(pthread_t));
	if (q->ring == NULL || q->done == NULL || q->threads == NULL)
		goto nomem;
	if ((q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		vg_free(q->ring);
		vg_free(q->done);
		vg_free(q->threads);
		vg_free(q);
		return VIGIL_E_IO;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	for (; q->nthreads < n; q->nthreads++)
		if (pthread_create(&q->threads[q->nthreads], NULL, worker, q)
		    != 0)
			break;
	if (q->nthreads == 0) {
		srv_workq_free(q, NULL);
		return VIGIL_E_IO;
	}
	*out = q;
	return VIGIL_OK;
nomem:
	vg_free(q->ring);
	vg_free(q->done);
	vg_free(q->threads);
	vg_free(q);
	return VIGIL_E_NOMEM;
}

enum vigil_err
srv_workq_push(struct srv_workq *q, void *job)
{
	pthread_mutex_lock(&q->mu);
	/*
	 * Besides the waiting room, count jobs running and done but not yet
	 * collected: the loop may push again before it collects, and done[]
	 * holds only donecap.  (Without this, 64 finished scans waiting for
	 * a busy loop overran done[].)
	 */
	if (q->len == q->max || q->len + q->running + q->ndone >= q->donecap ||
	    q->stop) {
		pthread_mutex_unlock(&q->mu);
		return VIGIL_E_LIMIT;
	}
	q->ring[(q->head + q->len) % q->max] = job;
	q->len++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return VIGIL_OK;
}

int
srv_workq_fd(const struct srv_workq *q)
{
	return q->efd;
}

size_t
srv_workq_done(struct srv_workq *q, void **jobs, size_t n)
{
	uint64_t	v;
	size_t		k;

	(void)!read(q->efd, &v, sizeof(v));
	pthread_mutex_lock(&q->mu);
	k = q->ndone < n ? q->ndone : n;
	for (size_t i = 0; i < k; i++)
		jobs[i] = q->done[i];
	for (size_t i = k; i < q->ndone; i++)
		q->done[i - k] = q->done[i];
	q->ndone -= k;
	pthread_mutex_unlock(&q->mu);
	if (k < n)
		return k;
	/* More may remain: keep the eventfd readable. */
	v = 1;
	(void)!write(q->efd, &v, sizeof(v));
	return k;
}

size_t
srv_workq_waiting(struct srv_workq *q)
{
	size_t	n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t
srv_workq_inflight(struct srv_workq *q)
{
	size_t	n;

	pthread_mutex_lock(&q->mu);
	n = q->len + q->running + q->ndone;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t
srv_workq_capacity(const struct srv_workq *q)
{
	return q->max;
}

void
srv_workq_free(struct srv_workq *q, void (*drop)(void *))
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	for (size_t i = 0; i < q->len; i++)
		if (drop != NULL)
			drop(q->ring[(q->head + i) % q->max]);
	for (size_t i = 0; i < q->ndone; i++)
		if (drop != NULL)
			drop(q->done[i]);
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	vg_free(q->ring);
	vg_free(q->done);
	vg_free(q->threads);
	vg_free(q);
}
