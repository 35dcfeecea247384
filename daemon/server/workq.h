/*
 * workq.h: the scan worker pool (private to server/).  No libevent here:
 * the loop watches srv_workq_fd() and calls srv_workq_done() when it is
 * readable.
 */
#ifndef VIGIL_SERVER_WORKQ_H
#define VIGIL_SERVER_WORKQ_H

#include <stddef.h>

#include "vigil/vigil.h"

struct srv_workq;

/*
 * init(arg) runs once on each worker thread; run is called there with the
 * job and the worker's own state (what init returned, NULL if init
 * failed); it must not touch loop-owned objects.  The job then waits on
 * the done list.
 */
struct srv_workq_ops {
	void	*(*init)(void *arg);
	void	 (*fini)(void *state);
	void	 (*run)(void *job, void *state);
};

/* Starts n threads; queue holds at most max waiting jobs. */
enum vigil_err	srv_workq_new(const struct srv_workq_ops *, void *arg,
		    unsigned n, size_t max, struct srv_workq **);
/*
 * Queues a job (loop thread).  VIGIL_E_LIMIT when the queue is full: the
 * caller refuses the work (503) instead of blocking, as nginx's thread
 * pool does.  The queue borrows job until it comes back from done().
 */
enum vigil_err	srv_workq_push(struct srv_workq *, void *job);
/* An fd that is readable while finished jobs wait (an eventfd). */
int		srv_workq_fd(const struct srv_workq *);
/* Takes up to n finished jobs into jobs[] (loop thread); returns count. */
size_t		srv_workq_done(struct srv_workq *, void **jobs, size_t n);
/* Jobs waiting for a worker, and jobs queued or running in all. */
size_t		srv_workq_waiting(struct srv_workq *);
size_t		srv_workq_inflight(struct srv_workq *);
size_t		srv_workq_capacity(const struct srv_workq *);
/*
 * Stops the workers after their current job and joins them.  Jobs still
 * waiting are handed to drop (loop thread), as are finished ones not yet
 * collected.
 */
void		srv_workq_free(struct srv_workq *, void (*drop)(void *job));

#endif /* VIGIL_SERVER_WORKQ_H */
