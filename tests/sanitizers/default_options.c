/*
 * The sanitizer options of `make asan`, compiled into every build/asan
 * binary (the Makefile links this file into each of them, and only there).
 *
 * tests/sanitize.sh could set them in the environment alone, but init gives
 * its daemons an environment of their own (init.yaml's env and env_inherit),
 * so egress, supervise and gitgate under init would run without them: their
 * reports would go to a stderr nobody reads.  Options in the environment
 * still win over these, flag by flag.
 *
 * The Makefile passes SANITIZER_REPORT_DIR (build/asan/reports, absolute)
 * and SANITIZER_SUPPRESSIONS (tests/sanitizers/lsan.supp, absolute).
 * docs/testing.md explains each option.
 */

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

/* One report file per process (<log_path>.<pid>); abort_on_error so a
 * report also kills the process with SIGABRT, which its test may notice. */
const char *__asan_default_options(void)
{
	return "detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:"
	       "check_initialization_order=1:strict_init_order=1:"
	       "log_path=" SANITIZER_REPORT_DIR "/asan";
}

const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:log_path=" SANITIZER_REPORT_DIR "/ubsan";
}

/* print_suppressions=0: the tally of suppressed leaks would otherwise
 * make a report file of its own, and any file fails the run. */
const char *__lsan_default_options(void)
{
	return "print_suppressions=0:suppressions=" SANITIZER_SUPPRESSIONS;
}
