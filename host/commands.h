/* The one table of bottle-host commands, like sidecar/applets.h.
 * Adding a command is one line here plus host/cmd_<name>.c defining
 * `int cmd_<name>(int argc, char **argv)`.
 *
 * COMMAND(name, function, one-line summary shown by `bottle-host --help`) */
COMMAND(info, cmd_info, "print an agent's fully resolved bottle (env names, never values)")
COMMAND(version, cmd_version, "print bottle-host's version and its linked libraries")
COMMAND(supervise, cmd_supervise, "answer what bottles propose: routes, held tokens, leaks")
COMMAND(start, cmd_start, "run an agent in its bottle: bundle, networks, CA, then attach")
COMMAND(list, cmd_list, "list running bottles: slug, agent, engine, age, pending proposals")
COMMAND(stop, cmd_stop, "stop a bottle by slug: containers, networks and state removed")
