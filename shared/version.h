/* The project's version: the VERSION file and the git commit it was built
 * from, written by the Makefile into build/gen/bottle_version.h. */
#ifndef BOTTLE_VERSION_H
#define BOTTLE_VERSION_H

#include "bottle_version.h"

#endif
