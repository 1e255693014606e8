/* Process exit codes shared by every applet and by bottle-host.
 *
 * Applets return these from their NAME_main(); only start-up and CLI code
 * exits with them.  `sidecar init` adds its own documented codes on top
 * (docs/init.md), and propagates a daemon's status as 128+signal. */
#ifndef BOTTLE_EXIT_CODES_H
#define BOTTLE_EXIT_CODES_H

enum {
	EXIT_OK = 0,
	EXIT_FAILURE_GENERIC = 1, /* the operation ran and failed */
	EXIT_USAGE = 2,           /* bad arguments, unknown applet or command */
	EXIT_CONFIG = 3,          /* a configuration file is missing or invalid */
	EXIT_SYSTEM = 111,        /* a system call failed where it must not */
};

#endif
