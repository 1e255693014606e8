/* The project's version, set by the Makefile from the VERSION file and the
 * git commit it was built from. */
#ifndef BOTTLE_VERSION_H
#define BOTTLE_VERSION_H

#ifndef BOTTLE_VERSION
#define BOTTLE_VERSION "unknown"
#endif
#ifndef BOTTLE_COMMIT
#define BOTTLE_COMMIT "unknown"
#endif

#endif
