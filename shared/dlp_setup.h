/* A daemon's DLP engine from its start-up options: the canary, the
 * variables holding known secrets, the rules.  egress and gitgate build
 * theirs the same way, so a secret one of them finds the other finds too. */
#ifndef BOTTLE_DLP_SETUP_H
#define BOTTLE_DLP_SETUP_H

#include <stddef.h>

struct dlp_engine;

struct dlp_setup {
	const char *canary_env;              /* the variable holding the canary; NULL: none */
	const char *const *secret_names;     /* variables holding secrets, NULL-terminated */
	const char *const *secret_prefixes;  /* every variable starting with one, NULL-terminated */
	const char *rules_path;              /* gitleaks-style rules; NULL: the built-in ones */
};

/* Build the engine from envp (the canary from the process environment):
 * 0 and *out, or a negative errno with one line in err naming the option
 * or variable at fault, never a value.  Start-up only: it logs a summary. */
int dlp_setup_engine(const struct dlp_setup *o, char *const *envp, struct dlp_engine **out,
		     char *err, size_t err_len);

#endif
