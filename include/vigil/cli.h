/*
 * cli.h: the subcommands of the vigil program.  Each takes its own argv
 * (argv[0] is the subcommand name) and returns the process exit status.
 */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include "vigil/engine.h"

/* Exit statuses shared by scan and bucket-scan: a wire contract. */
#define VIGIL_EXIT_CLEAN	0
#define VIGIL_EXIT_FLAGGED	1
#define VIGIL_EXIT_UNSCANNABLE	2
#define VIGIL_EXIT_USAGE	3

int	cli_scan(int argc, char **argv);
int	cli_rules(int argc, char **argv);
/* vigil serve: the daemon (daemon/server/serve.c). */
int	cli_serve(int argc, char **argv);
int	cli_bucket_scan(int argc, char **argv);

/*
 * The rules a command uses when none are named: the installed packs if
 * present, else ./rules.  Returns a static string.
 */
const char	*cli_default_rules(void);
/*
 * Compiles path, printing "file:line:column: message" on failure.  Returns
 * NULL on failure.
 */
struct eng_ruleset *cli_load_rules(const char *path, enum eng_match_mode);

#endif /* VIGIL_CLI_H */
