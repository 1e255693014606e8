/* A daemon's DLP engine from its options (dlp_setup.h). */
#include "dlp_setup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dlp.h"
#include "log.h"

int dlp_setup_engine(const struct dlp_setup *o, char *const *envp, struct dlp_engine **out,
		     char *err, size_t err_len)
{
	struct dlp_engine *e = dlp_engine_new(NULL);
	size_t skipped = 0;
	int ret = -ENOMEM;

	if (!e) {
		error_format(err, err_len, "dlp: out of memory");
		goto out;
	}
	/* The canary first: a value added twice keeps its first name, and
	 * the canary must stay a canary even if a prefix also names it. */
	if (o->canary_env) {
		const char *v = getenv(o->canary_env);

		if (!v || !*v) {
			error_format(err, err_len, "--canary-env %s: the variable is not set",
				     o->canary_env);
			ret = -EINVAL;
			goto out;
		}
		ret = dlp_engine_add_secret(e, o->canary_env, v, strlen(v), true);
		if (ret < 0) {
			error_format(err, err_len, "--canary-env %s: the value is %s", o->canary_env,
				     ret == -E2BIG ? "longer than 4096 bytes" :
						     "shorter than 8 letters and digits");
			goto out;
		}
	}
	ret = dlp_engine_add_env(e, envp, o->secret_names, o->secret_prefixes, &skipped);
	if (ret < 0) {
		error_format(err, err_len, "dlp: cannot add the secrets: %s", strerror(-ret));
		goto out;
	}
	if (skipped)
		log_info("dlp: %zu secret variable(s) skipped: shorter than 8 letters and digits "
			 "or longer than 4096 bytes", skipped);
	if (o->rules_path)
		ret = dlp_engine_load_rules_file(e, o->rules_path, err, err_len);
	else
		ret = dlp_engine_load_default_rules(e, err, err_len);
	if (ret < 0 || (ret = dlp_engine_build(e, err, err_len)) < 0)
		goto out;
	log_info("dlp: %zu known secret(s)%s, %zu rule(s)", dlp_engine_secret_count(e),
		 o->canary_env ? " with the canary" : "", dlp_engine_rule_count(e));
	*out = e;
	e = NULL;
	ret = 0;
out:
	dlp_engine_free(e);
	return ret;
}
