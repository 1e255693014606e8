/* The one table of applets.  Adding an applet is one line here plus its
 * folder sidecar/<name>/ defining `int <name>_main(int argc, char **argv)`
 * (see docs/adding-an-applet.md).  Keep the rows sorted by name.
 *
 * APPLET(name, main function, one-line summary shown by `sidecar --help`) */
APPLET(demo-agent, demo_agent_main, "the demo agent of `bottle-host start demo`: one request per rule, git, MCP")
APPLET(demo-origin, demo_origin_main, "the demo's stand-in internet: an HTTPS origin and a git upstream")
APPLET(dlp-scan, dlp_scan_main, "scan a file with the DLP engine and print what it finds")
APPLET(egress,  egress_main,  "the egress proxy: default-deny routes, TLS bump, credential injection")
APPLET(gitgate, gitgate_main, "the git gate: serves mirrored repos over smart-HTTP and git://, scans pushes")
APPLET(init,    init_main,    "PID 1: start, supervise, reap and stop the bundle's daemons")
APPLET(initctl, initctl_main, "ask a running init for status, or to reload or restart a daemon")
APPLET(supervise, supervise_main, "the MCP server: the agent asks the operator for egress changes")
APPLET(version, version_main, "print the bundle's version and the versions of its linked libraries")
