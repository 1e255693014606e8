/* The engine's lifetime: collect secrets and rules, build the matchers,
 * free everything (secret values wiped first). */
#include "dlp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dlp_engine *dlp_engine_new(const struct dlp_options *o)
{
	struct dlp_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	if (o)
		e->opt = *o;
	else
		dlp_options_default(&e->opt);
	if (e->opt.secret_min < 4)
		e->opt.secret_min = 4;
	if (e->opt.partial_min && e->opt.partial_min < e->opt.secret_min)
		e->opt.partial_min = e->opt.secret_min;
	pthread_mutex_init(&e->exempt_lock, NULL);
	return e;
}

static void wipe_free(char *p, size_t len)
{
	if (p) {
		explicit_bzero(p, len);
		free(p);
	}
}

void dlp_engine_free(struct dlp_engine *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->nsecrets; i++) {
		free(e->secrets[i].name);
		wipe_free(e->secrets[i].value, e->secrets[i].len);
	}
	free(e->secrets);
	free(e->patterns);
	/* The automaton spells the secrets out too. */
	if (e->secret_ac.nodes)
		explicit_bzero(e->secret_ac.nodes, e->secret_ac.nnodes * sizeof(*e->secret_ac.nodes));
	dlp_ac_release(&e->secret_ac);
	dlp_rules_release(e);
	for (i = 0; i < e->nexempt; i++) {
		wipe_free(e->exempt[i].raw, e->exempt[i].raw_len);
		wipe_free(e->exempt[i].norm, e->exempt[i].norm_len);
	}
	free(e->secret_exempt);
	pthread_mutex_destroy(&e->exempt_lock);
	free(e);
}

int dlp_engine_build(struct dlp_engine *e, char *err, size_t err_len)
{
	unsigned c;
	int ret = -EINVAL;

	if (err && err_len)
		err[0] = '\0';
	if (e->built)
		goto out;
	ret = dlp_secrets_build(e);
	if (ret < 0) {
		if (err && err_len)
			snprintf(err, err_len, "dlp: unable to build the known-secret matcher: %s",
				 ret == -ENOMEM ? "out of memory" : "too many or too long secrets");
		goto out;
	}
	for (c = 0; c < 256; c++) {
		unsigned lower = (c >= 'A' && c <= 'Z') ? c + 32 : c;

		if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9'))
			e->norm_step[c] = e->secret_ac.cls[lower];
		if (c >= 0x80 || c == '%' || c == '\\')
			e->norm_step[c] = DLP_NORM_SLOW;
		e->token_char[c] = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ||
				   c == '+' || c == '/' || c == '=' || c == '_' || c == '-';
	}
	if (!dlp_scan_masks_agree(e)) {
		ret = -EINVAL;
		if (err && err_len)
			snprintf(err, err_len,
				 "dlp: the scan's byte masks disagree with the engine's tables (a defect "
				 "of this build: no engine is built from it)");
		goto out;
	}
	if ((ret = dlp_rules_build(e, err, err_len)) < 0)
		goto out;
	for (c = 0; c < e->nrules; c++)
		e->has_keywordless |= !e->rules[c].has_keywords;
	ret = -ENOMEM;
	e->secret_exempt = calloc(e->nsecrets + 1, 1);
	if (!e->secret_exempt)
		goto out;
	e->built = true;
	dlp_exempt_rescan(e);
	ret = 0;
out:
	return ret;
}
