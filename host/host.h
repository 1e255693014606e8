/* bottle-host: the operator's CLI.  Each command is a row of commands.h. */
#ifndef BOTTLE_HOST_H
#define BOTTLE_HOST_H

#define COMMAND(name, function, summary) int function(int argc, char **argv);
#include "commands.h"
#undef COMMAND

#endif
