/* A secret found in a push and the operator (docs/gitgate.md "Push
 * scanning", docs/supervise-queue.md): each blocking finding becomes one
 * gitleaks-allow proposal, found again on every retry of the push by its
 * fingerprint (repository, commit, path, line, rule and the value's
 * SHA-256), whether it is still pending, answered or archived.  So a
 * retry never proposes twice, and an approval lets through that exact
 * finding and nothing else: another line, file, commit or value is a new
 * finding.  The gate does not wait for the answer (the client would time
 * out); the agent pushes again. */
#include "push_scan_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/log.h"

static const char *queue_dir(const struct push_scan *ps)
{
	return ps->session->gate->queue_dir;
}

static int remember(struct push_scan *ps, const struct queue_proposal *p)
{
	struct known_proposal *k;

	if (ps->nknown == ps->known_cap) {
		size_t cap = ps->known_cap ? ps->known_cap * 2 : 16;
		struct known_proposal *grown = realloc(ps->known, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		ps->known = grown;
		ps->known_cap = cap;
	}
	k = &ps->known[ps->nknown];
	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "%s", p->id);
	snprintf(k->commit, sizeof(k->commit), "%s", p->commit);
	snprintf(k->value_hash, sizeof(k->value_hash), "%s", p->value_hash);
	k->path = strdup(p->path);
	k->rule = strdup(p->rule);
	k->line = p->line;
	k->created_at = p->created_at;
	if (!k->path || !k->rule) {
		free(k->path);
		free(k->rule);
		return -ENOMEM;
	}
	ps->nknown++;
	return 0;
}

/* This repository's gitleaks-allow proposals from one listing. */
static int remember_list(struct push_scan *ps, const struct queue_list *list)
{
	const char *repo = ps->session->repo->config->name;
	size_t i;
	int ret;

	for (i = 0; i < list->n; i++) {
		const struct queue_proposal *p = &list->items[i];

		if (p->kind != QUEUE_GITLEAKS_ALLOW || !p->repo || strcmp(p->repo, repo) != 0)
			continue;
		if ((ret = remember(ps, p)) < 0)
			return ret;
	}
	return 0;
}

/* Read once per push, and only when a finding needs it: the queue may
 * hold many archived proposals. */
static int load_known(struct push_scan *ps)
{
	struct queue_list list;
	char err[512];
	int ret, archived;

	for (archived = 0; archived < 2; archived++) {
		ret = archived ? queue_list_processed(queue_dir(ps), &list, err, sizeof(err))
			       : queue_list_pending(queue_dir(ps), &list, err, sizeof(err));
		if (ret < 0) {
			log_error("scan: %s", err);
			return ret;
		}
		ret = remember_list(ps, &list);
		queue_list_release(&list);
		if (ret < 0) {
			log_error("scan: out of memory reading the queue");
			return ret;
		}
	}
	ps->known_loaded = true;
	return 0;
}

/* The newest proposal with this finding's fingerprint, or NULL. */
static const struct known_proposal *find_known(const struct push_scan *ps,
					       const struct scan_place *place,
					       const struct scan_hit *hit)
{
	const struct known_proposal *best = NULL;
	size_t i;

	for (i = 0; i < ps->nknown; i++) {
		const struct known_proposal *k = &ps->known[i];

		if (k->line != hit->first_line || strcmp(k->commit, place->commit_hex) != 0 ||
		    strcmp(k->value_hash, hit->value_hash) != 0 || strcmp(k->rule, hit->rule) != 0 ||
		    strcmp(k->path, place->path) != 0)
			continue;
		if (!best || k->created_at > best->created_at ||
		    (k->created_at == best->created_at && strcmp(k->id, best->id) > 0))
			best = k;
	}
	return best;
}

/* An answered proposal: what it says for this finding. */
static enum approval answered(struct push_scan *ps, const char *id, struct queue_response *r,
			      const struct scan_place *place)
{
	char note[512], who[72], err[512];
	const char *note_text = r->note ? r->note : "";

	/* The gate acted on the answer: archive it, as a waiter would.  It
	 * stays readable in processed/ for the next retry. */
	if (queue_status(queue_dir(ps), id, err, sizeof(err)) == QUEUE_ANSWERED &&
	    queue_archive(queue_dir(ps), id, err, sizeof(err)) < 0)
		log_warn("scan: %s", err);
	push_scan_clean(note, sizeof(note), note_text, strlen(note_text));
	push_scan_clean(who, sizeof(who), r->who ? r->who : "", r->who ? strlen(r->who) : 0);
	if (r->verdict == QUEUE_REJECTED) {
		log_info("scan: %s %s: proposal %s was rejected by %s", place->cmd->ref,
			 place->commit_hex, id, who);
		push_scan_say(ps, "  the operator rejected proposal %s: %s", id, note);
		push_scan_say(ps, "  this secret will not pass: remove it from the commit");
		return APPROVAL_BLOCK;
	}
	log_info("scan: %s %s: proposal %s approved by %s lets a finding in %s through",
		 place->cmd->ref, place->commit_hex, id, who, place->path);
	push_scan_say(ps, "  approved by the operator in proposal %s: let through", id);
	return APPROVAL_PASS;
}

static void justify(const struct push_scan *ps, const struct scan_place *place,
		    const struct scan_hit *hit, char *out, size_t size)
{
	snprintf(out, size,
		 "a push to %s %s holds %s %s%s%s in %s line %llu of commit %s. Approve only if "
		 "this value is not a live secret (a test fixture, an example, a revoked key): "
		 "the approval lets this exact finding (this commit, file, line and value) "
		 "through when the push is retried, and nothing else.",
		 ps->session->repo->config->name, place->cmd->ref, dlp_detector_name(hit->detector),
		 hit->rule, hit->name[0] ? " " : "", hit->name, place->path,
		 (unsigned long long)hit->first_line, place->commit_hex);
}

static enum approval propose(struct push_scan *ps, const struct scan_place *place,
			     const struct scan_hit *hit)
{
	const struct gitgate *gate = ps->session->gate;
	char why[2048], ref[1024], err[512];
	struct queue_proposal p;

	if (ps->stats.proposals >= PUSH_SCAN_PROPOSALS_MAX) {
		push_scan_say(ps, "  not proposed: this push already made %d proposals; remove the "
				  "secrets and push again", PUSH_SCAN_PROPOSALS_MAX);
		return APPROVAL_BLOCK;
	}
	justify(ps, place, hit, why, sizeof(why));
	push_scan_clean(ref, sizeof(ref), place->cmd->ref, strlen(place->cmd->ref));
	memset(&p, 0, sizeof(p));
	p.kind = QUEUE_GITLEAKS_ALLOW;
	/* A gate started without a bottle name still proposes. */
	p.bottle = (char *)(gate->bottle && *gate->bottle ? gate->bottle : "unnamed");
	p.justification = why;
	p.repo = ps->session->repo->config->name;
	p.ref = ref;
	p.commit = (char *)place->commit_hex;
	p.path = (char *)place->path;
	p.line = hit->first_line;
	p.detector = (char *)dlp_detector_name(hit->detector);
	p.rule = (char *)hit->rule;
	p.preview = (char *)hit->preview;
	p.value_hash = (char *)hit->value_hash;
	if (queue_submit(queue_dir(ps), &p, err, sizeof(err)) < 0) {
		log_error("scan: cannot write the proposal: %s", err);
		push_scan_say(ps, "  the proposal to the operator could not be written: remove it "
				  "and push again");
		return APPROVAL_BLOCK;
	}
	ps->stats.proposals++;
	/* The same finding twice in this push (two refs, one commit) finds
	 * this proposal rather than making another. */
	if (remember(ps, &p) < 0)
		log_warn("scan: out of memory remembering proposal %s", p.id);
	log_info("scan: proposal %s: %s in %s line %llu of commit %s", p.id, hit->rule, place->path,
		 (unsigned long long)hit->first_line, place->commit_hex);
	push_scan_say(ps, "  proposal %s asks the operator to allow it: push again once it is "
			  "approved", p.id);
	return APPROVAL_BLOCK;
}

enum approval push_approval_check(struct push_scan *ps, const struct scan_place *place,
				  const struct scan_hit *hit)
{
	const struct known_proposal *k;
	struct queue_response r;
	char err[512];
	enum approval verdict = APPROVAL_BLOCK;
	int ret;

	if (!ps->known_loaded && load_known(ps) < 0) {
		/* Proposing blind could make a second proposal for a finding the
		 * operator already decided: fail instead. */
		push_scan_say(ps, "  the operator's queue cannot be read: try again later");
		return APPROVAL_BLOCK;
	}
	k = find_known(ps, place, hit);
	if (!k)
		return propose(ps, place, hit);
	memset(&r, 0, sizeof(r));
	ret = queue_read_response(queue_dir(ps), k->id, &r, err, sizeof(err));
	if (ret == 0) {
		verdict = answered(ps, k->id, &r, place);
	} else if (ret == -ENOENT && queue_status(queue_dir(ps), k->id, err, sizeof(err)) ==
						QUEUE_PENDING) {
		push_scan_say(ps, "  proposal %s is waiting for the operator: push again once it is "
				  "approved", k->id);
	} else if (ret == -ENOENT) {
		/* Withdrawn or gone since the listing: ask again. */
		verdict = propose(ps, place, hit);
	} else {
		log_error("scan: %s", err);
		push_scan_say(ps, "  the answer to proposal %s cannot be read: try again later", k->id);
	}
	queue_response_release(&r);
	return verdict;
}

void push_approval_release(struct push_scan *ps)
{
	size_t i;

	for (i = 0; i < ps->nknown; i++) {
		free(ps->known[i].path);
		free(ps->known[i].rule);
	}
	free(ps->known);
	ps->known = NULL;
	ps->nknown = ps->known_cap = 0;
	ps->known_loaded = false;
}
