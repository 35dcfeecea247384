/*
 * server.h: `vigil serve`, the HTTP daemon (daemon/server/).
 *
 * One libevent loop owns every socket, timer and the database; a pool of
 * scan threads (workq) runs eng_scan_fd() and hands results back to the
 * loop.  See serve.c for the request life cycle.
 */
#ifndef VIGIL_SERVER_H
#define VIGIL_SERVER_H

#include "vigil/config.h"

/*
 * Runs the daemon with cfg (finished with vg_config_finish()) until
 * SIGTERM or SIGINT; returns the exit status (0 after a clean drain, 3 if
 * start-up failed, with the reason logged).  Main thread.
 */
int	srv_main(const struct vg_config *cfg);

/*
 * The account an event's object belongs to under cfg's account_from, as a
 * new string (vg_free), or NULL when there is none.  map is the bucket to
 * account table read from account_map (pairs, NULL-terminated), may be
 * NULL for the other modes.
 */
struct source_event;
char	*srv_event_account(const struct vg_config *cfg,
	    const struct source_event *ev, const void *prefix_re,
	    char *const *map);

#endif /* VIGIL_SERVER_H */
