/* The one table of bottle-host commands, like sidecar/applets.h.
 * Adding a command is one line here plus host/cmd_<name>.c defining
 * `int cmd_<name>(int argc, char **argv)`.
 *
 * COMMAND(name, function, one-line summary shown by `bottle-host --help`) */
COMMAND(version, cmd_version, "print bottle-host's version and its linked libraries")
COMMAND(supervise, cmd_supervise, "answer what bottles propose: routes, held tokens, leaks")
