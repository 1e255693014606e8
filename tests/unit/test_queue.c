/* The supervise queue: files written whole, read strictly, state changes
 * that refuse what does not fit, and an audit log that notices edits. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../shared/queue.h"

static const char hash_a[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_queue.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (queue_prepare(f->dir, err, sizeof(err)) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct queue_proposal egress_allow(void)
{
	return (struct queue_proposal){
		.kind = QUEUE_EGRESS_ALLOW,
		.bottle = "dev",
		.justification = "need the package index",
		.routes_yaml = "routes:\n  - host: pypi.org\n",
		.bounds = { .expires_in = 3600, .max_requests = 100 },
	};
}

static struct queue_proposal token_allow(void)
{
	return (struct queue_proposal){
		.kind = QUEUE_EGRESS_TOKEN_ALLOW,
		.bottle = "dev",
		.justification = "this is a test fixture, not a key",
		.host = "api.example.com",
		.method = "POST",
		.path = "/v1/upload",
		.detector = "aws-access-key",
		.rule = "AKIA",
		.preview = "key=AKIA****************",
		.value_hash = (char *)hash_a,
	};
}

static struct queue_proposal leak_allow(void)
{
	return (struct queue_proposal){
		.kind = QUEUE_GITLEAKS_ALLOW,
		.bottle = "dev",
		.justification = "test vector",
		.repo = "origin",
		.ref = "refs/heads/main",
		.commit = "0123456789abcdef0123456789abcdef01234567",
		.path = "tests/keys.txt",
		.line = 12,
		.rule = "generic-api-key",
		.preview = "api_key = \"****\"",
		.value_hash = (char *)hash_a,
	};
}

static void submit(const char *dir, struct queue_proposal *p)
{
	char err[512];
	int ret = queue_submit(dir, p, err, sizeof(err));

	if (ret < 0)
		fail_msg("submit failed (%d): %s", ret, err);
	assert_true(queue_id_valid(p->id));
}

static int respond(const char *dir, const char *id, enum queue_verdict verdict,
		   const char *note, char *err, size_t errlen)
{
	struct queue_response r = { .verdict = verdict, .note = (char *)note, .who = "alice" };

	snprintf(r.id, sizeof(r.id), "%s", id);
	return queue_respond(dir, &r, err, errlen);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_submit_and_read_every_kind(void **state)
{
	struct fixture *f = *state;
	struct queue_proposal in[3] = { egress_allow(), token_allow(), leak_allow() }, out;
	char err[512];
	size_t i;

	for (i = 0; i < 3; i++) {
		submit(f->dir, &in[i]);
		assert_int_equal(queue_read_proposal(f->dir, in[i].id, &out, err, sizeof(err)), 0);
		assert_string_equal(out.id, in[i].id);
		assert_int_equal(out.kind, in[i].kind);
		assert_string_equal(out.bottle, "dev");
		assert_string_equal(out.created, in[i].created);
		assert_int_equal(out.created_at, in[i].created_at);
		assert_false(out.answered);
		assert_int_equal(out.line, in[i].line);
		assert_int_equal(out.bounds.expires_in, in[i].bounds.expires_in);
		if (in[i].routes_yaml)
			assert_string_equal(out.routes_yaml, in[i].routes_yaml);
		else
			assert_null(out.routes_yaml);
		if (in[i].value_hash)
			assert_string_equal(out.value_hash, hash_a);
		if (in[i].repo)
			assert_string_equal(out.commit, in[i].commit);
		assert_int_equal(queue_status(f->dir, in[i].id, err, sizeof(err)), QUEUE_PENDING);
		queue_proposal_release(&out);
	}
	/* Ids look like 20261129T194700Z-0123abcd and differ. */
	assert_int_equal(strlen(in[0].id), 25);
	assert_int_equal(in[0].id[8], 'T');
	assert_string_not_equal(in[0].id, in[1].id);
}

static void test_submit_refuses_what_the_kind_does_not_fit(void **state)
{
	struct fixture *f = *state;
	struct queue_proposal p;
	char err[512];

	p = egress_allow();
	p.routes_yaml = NULL;
	assert_int_equal(queue_submit(f->dir, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "proposal: egress-allow needs 'routes_yaml'");
	p = egress_allow();
	p.host = "example.com";
	assert_int_equal(queue_submit(f->dir, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "proposal: egress-allow does not take 'host'");
	p = token_allow();
	p.value_hash = "not-a-hash";
	assert_int_equal(queue_submit(f->dir, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'value_hash'"));
	p = leak_allow();
	p.line = 0;
	assert_int_equal(queue_submit(f->dir, &p, err, sizeof(err)), -EINVAL);
	p = leak_allow();
	p.bounds.max_requests = 3;
	assert_int_equal(queue_submit(f->dir, &p, err, sizeof(err)), -EINVAL);
	p = egress_allow();
	p.bottle = "../etc";
	assert_int_equal(queue_submit(f->dir, &p, err, sizeof(err)), -EINVAL);
	p = token_allow();
	p.host = "evil.example\n";
	assert_int_equal(queue_submit(f->dir, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "control byte"));
	p = egress_allow();
	p.kind = (enum queue_kind)9;
	assert_int_equal(queue_submit(f->dir, &p, err, sizeof(err)), -EINVAL);
}

static void test_ids_with_paths_are_refused_everywhere(void **state)
{
	static const char *const bad[] = { "../pending/x", "a/b", "..", "", "x.json",
					   "a b", "0123456789012345678901234567890123456789"
						  "01234567890123456789012345" };
	struct fixture *f = *state;
	struct queue_proposal p;
	struct queue_response r;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(queue_id_valid(bad[i]));
		assert_int_equal(queue_read_proposal(f->dir, bad[i], &p, err, sizeof(err)), -EINVAL);
		assert_null(strstr(err, "/"));
		assert_int_equal(queue_status(f->dir, bad[i], err, sizeof(err)), -EINVAL);
		assert_int_equal(queue_read_response(f->dir, bad[i], &r, err, sizeof(err)), -EINVAL);
		assert_int_equal(queue_poll_response(f->dir, bad[i], &r, err, sizeof(err)), -EINVAL);
		assert_int_equal(queue_archive(f->dir, bad[i], err, sizeof(err)), -EINVAL);
		assert_int_equal(queue_withdraw(f->dir, bad[i], err, sizeof(err)), -EINVAL);
		/* A response's id is a fixed array: too long does not fit at all. */
		if (strlen(bad[i]) < QUEUE_ID_MAX)
			assert_int_equal(respond(f->dir, bad[i], QUEUE_APPROVED, "", err,
						 sizeof(err)),
					 -EINVAL);
	}
	assert_true(queue_id_valid("20261129T194700Z-0123abcd"));
}

/* Each malformed file is refused with a message naming it and the fault. */
static void test_parse_is_strict(void **state)
{
	static const struct {
		const char *text, *message;
	} cases[] = {
		{ "", "not JSON" },
		{ "[]", "not a JSON object" },
		{ "{\"kind\":\"egress-allow\"", "not JSON" },
		{ "{\"id\":\"a\"}", "'kind' is missing" },
		{ "{\"kind\":\"egress-delete\"}", "'kind' is not a known kind" },
		{ "{\"kind\":7}", "'kind' is not a known kind" },
		{ "{\"kind\":\"egress-block\",\"id\":\"p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"j\",\"routes_yaml\":\"r\",\"x\":1}",
		  "unknown key 'x'" },
		{ "{\"kind\":\"egress-block\",\"id\":\"p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"j\"}",
		  "egress-block needs 'routes_yaml'" },
		{ "{\"kind\":\"egress-block\",\"id\":\"p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":5,\"routes_yaml\":\"r\"}",
		  "'justification' is not a string" },
		{ "{\"kind\":\"egress-block\",\"id\":\"p1\",\"created\":\"yesterday\","
		  "\"bottle\":\"dev\",\"justification\":\"j\",\"routes_yaml\":\"r\"}",
		  "'created' is not a UTC time" },
		{ "{\"kind\":\"egress-block\",\"id\":\"../p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"j\",\"routes_yaml\":\"r\"}",
		  "'id' is not a queue id" },
		{ "{\"kind\":\"egress-block\",\"id\":\"p2\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"j\",\"routes_yaml\":\"r\"}",
		  "holds id 'p2', not the one its name gives" },
		{ "{\"kind\":\"egress-block\",\"id\":\"p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"j\",\"routes_yaml\":\"r\",\"routes_yaml\":\"s\"}",
		  "repeated key 'routes_yaml'" },
		{ "{\"kind\":\"egress-block\",\"id\":\"p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"j\",\"routes_yaml\":\"r\",\"host\":\"h\"}",
		  "egress-block does not take 'host'" },
		{ "{\"kind\":\"egress-allow\",\"id\":\"p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"j\",\"routes_yaml\":\"r\","
		  "\"bounds\":{\"expires_in\":-1}}",
		  "'expires_in' is not a whole number" },
		{ "{\"kind\":\"egress-allow\",\"id\":\"p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"j\",\"routes_yaml\":\"r\","
		  "\"bounds\":{\"forever\":true}}",
		  "unknown key 'bounds.forever'" },
		{ "{\"kind\":\"egress-allow\",\"id\":\"p1\",\"created\":\"2026-11-29T19:47:00Z\","
		  "\"bottle\":\"dev\",\"justification\":\"a\\u0000b\",\"routes_yaml\":\"r\"}",
		  "'justification' holds a NUL byte" },
		/* Found by fuzz_queue: a key is echoed, its control bytes not. */
		{ "{\"kind\":\"egress-block\",\"a\\u001b[2Jb\":1}", "unknown key 'a?[2Jb'" },
	};
	struct queue_proposal p;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = queue_proposal_parse("q/pending/p1.json", cases[i].text,
					       strlen(cases[i].text), &p, err, sizeof(err));

		if (ret != -EINVAL || strncmp(err, "q/pending/p1.json: ", 19) != 0 ||
		    !strstr(err, cases[i].message))
			fail_msg("case %zu: got %d '%s', want '%s'", i, ret, err, cases[i].message);
		assert_null(p.bottle);
	}
	/* The same shape with nothing wrong parses. */
	assert_int_equal(queue_proposal_parse(
				 "q/pending/p1.json",
				 "{\"kind\":\"egress-block\",\"id\":\"p1\",\"created\":"
				 "\"2026-11-29T19:47:00Z\",\"bottle\":\"dev\",\"justification\":"
				 "\"j\",\"routes_yaml\":\"r\"}",
				 strlen("{\"kind\":\"egress-block\",\"id\":\"p1\",\"created\":"
					"\"2026-11-29T19:47:00Z\",\"bottle\":\"dev\",\"justification\":"
					"\"j\",\"routes_yaml\":\"r\"}"),
				 &p, err, sizeof(err)),
			 0);
	assert_int_equal(p.created_at, 1795981620);
	queue_proposal_release(&p);
}

static void test_list_is_oldest_first_and_reports_bad_files(void **state)
{
	struct fixture *f = *state;
	struct queue_proposal a = egress_allow(), b = token_allow();
	struct queue_list list;
	char path[256], err[512], *big;
	int fd;

	submit(f->dir, &a);
	submit(f->dir, &b);
	/* An older proposal written by hand sorts first. */
	snprintf(path, sizeof(path), "%s/pending/20200101T000000Z-00000000.json", f->dir);
	write_text(path, "{\"kind\":\"egress-block\",\"id\":\"20200101T000000Z-00000000\","
			 "\"created\":\"2020-01-01T00:00:00Z\",\"bottle\":\"dev\","
			 "\"justification\":\"old\",\"routes_yaml\":\"routes: []\\n\"}");
	snprintf(path, sizeof(path), "%s/pending/broken.json", f->dir);
	write_text(path, "{\"kind\":");
	snprintf(path, sizeof(path), "%s/pending/notes.txt", f->dir);
	write_text(path, "hello");
	snprintf(path, sizeof(path), "%s/pending/.tmp-in-flight", f->dir);
	write_text(path, "{");
	snprintf(path, sizeof(path), "%s/pending/huge.json", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	big = calloc(1, QUEUE_FILE_MAX + 1);
	memset(big, ' ', QUEUE_FILE_MAX + 1);
	assert_int_equal(write(fd, big, QUEUE_FILE_MAX + 1), QUEUE_FILE_MAX + 1);
	close(fd);
	free(big);
	snprintf(path, sizeof(path), "%s/pending/link.json", f->dir);
	assert_int_equal(symlink("/etc/passwd", path), 0);

	assert_int_equal(queue_list_pending(f->dir, &list, err, sizeof(err)), 0);
	assert_int_equal(list.n, 3);
	assert_string_equal(list.items[0].id, "20200101T000000Z-00000000");
	assert_true(list.items[1].created_at <= list.items[2].created_at);
	assert_int_equal(list.nproblems, 4);
	for (size_t i = 0; i < list.nproblems; i++)
		assert_non_null(strstr(list.problems[i], "/pending/"));
	queue_list_release(&list);
}

static void test_respond_poll_archive(void **state)
{
	struct fixture *f = *state;
	struct queue_proposal p = egress_allow(), read;
	struct queue_response r = { .verdict = QUEUE_MODIFIED, .who = "alice",
				    .routes_yaml = "routes:\n  - host: pypi.org\n    ports: [443]\n",
				    .bounds = { .expires_in = 600 } },
			      got;
	char err[512];

	submit(f->dir, &p);
	assert_int_equal(queue_poll_response(f->dir, p.id, &got, err, sizeof(err)), 0);
	assert_int_equal(queue_archive(f->dir, p.id, err, sizeof(err)), -EAGAIN);
	snprintf(r.id, sizeof(r.id), "%s", p.id);
	assert_int_equal(queue_respond(f->dir, &r, err, sizeof(err)), 0);
	/* The unset bound took the proposal's, the set one stayed tighter. */
	assert_int_equal(r.bounds.expires_in, 600);
	assert_int_equal(r.bounds.max_requests, 100);
	assert_int_equal(queue_status(f->dir, p.id, err, sizeof(err)), QUEUE_ANSWERED);
	assert_int_equal(queue_read_proposal(f->dir, p.id, &read, err, sizeof(err)), 0);
	assert_true(read.answered);
	queue_proposal_release(&read);
	assert_int_equal(respond(f->dir, p.id, QUEUE_APPROVED, NULL, err, sizeof(err)), -EEXIST);

	assert_int_equal(queue_poll_response(f->dir, p.id, &got, err, sizeof(err)), 1);
	assert_int_equal(got.verdict, QUEUE_MODIFIED);
	assert_string_equal(got.routes_yaml, r.routes_yaml);
	assert_string_equal(got.who, "alice");
	assert_int_equal(got.bounds.max_requests, 100);
	assert_string_equal(got.decided, r.decided);
	queue_response_release(&got);

	assert_int_equal(queue_archive(f->dir, p.id, err, sizeof(err)), 0);
	assert_int_equal(queue_status(f->dir, p.id, err, sizeof(err)), QUEUE_PROCESSED);
	assert_int_equal(queue_archive(f->dir, p.id, err, sizeof(err)), -ENOENT);
	assert_int_equal(respond(f->dir, p.id, QUEUE_APPROVED, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "already processed"));
	/* Archived, both still read. */
	assert_int_equal(queue_read_response(f->dir, p.id, &got, err, sizeof(err)), 0);
	queue_response_release(&got);
	assert_int_equal(queue_read_proposal(f->dir, p.id, &read, err, sizeof(err)), 0);
	queue_proposal_release(&read);
}

static void test_respond_refuses_what_does_not_fit(void **state)
{
	struct fixture *f = *state;
	struct queue_proposal e = egress_allow(), t = token_allow(), l = leak_allow();
	struct queue_response r = { .verdict = QUEUE_APPROVED, .who = "alice" };
	char err[512];

	submit(f->dir, &e);
	submit(f->dir, &t);
	submit(f->dir, &l);
	assert_int_equal(respond(f->dir, e.id, QUEUE_REJECTED, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a rejection needs a note"));
	assert_int_equal(respond(f->dir, e.id, QUEUE_REJECTED, " \n", err, sizeof(err)), -EINVAL);
	assert_int_equal(respond(f->dir, t.id, QUEUE_APPROVED, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "egress-token-allow needs a note"));
	assert_int_equal(respond(f->dir, l.id, QUEUE_APPROVED, "", err, sizeof(err)), -EINVAL);
	/* Only a routes proposal is modified. */
	r.verdict = QUEUE_MODIFIED;
	r.note = "why";
	r.routes_yaml = "routes: []\n";
	snprintf(r.id, sizeof(r.id), "%s", t.id);
	assert_int_equal(queue_respond(f->dir, &r, err, sizeof(err)), -EINVAL);
	/* Bounds never loosen. */
	r = (struct queue_response){ .verdict = QUEUE_APPROVED, .who = "alice",
				     .bounds = { .expires_in = 7200 } };
	snprintf(r.id, sizeof(r.id), "%s", e.id);
	assert_int_equal(queue_respond(f->dir, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expires_in may only tighten the proposed 3600"));
	r.who = "";
	r.bounds.expires_in = 0;
	assert_int_equal(queue_respond(f->dir, &r, err, sizeof(err)), -EINVAL);
	/* None of that answered anything. */
	assert_int_equal(queue_status(f->dir, e.id, err, sizeof(err)), QUEUE_PENDING);
	assert_int_equal(respond(f->dir, t.id, QUEUE_APPROVED, "fixture", err, sizeof(err)), 0);
	assert_int_equal(respond(f->dir, l.id, QUEUE_REJECTED, "rotate it", err, sizeof(err)), 0);
}

static void test_withdraw(void **state)
{
	struct fixture *f = *state;
	struct queue_proposal a = egress_allow(), b = egress_allow();
	struct queue_response got;
	struct queue_list list;
	char err[512];

	submit(f->dir, &a);
	submit(f->dir, &b);
	assert_int_equal(queue_withdraw(f->dir, a.id, err, sizeof(err)), 0);
	assert_int_equal(queue_status(f->dir, a.id, err, sizeof(err)), QUEUE_WITHDRAWN);
	assert_int_equal(respond(f->dir, a.id, QUEUE_APPROVED, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "withdrawn"));
	assert_int_equal(queue_poll_response(f->dir, a.id, &got, err, sizeof(err)), -ENOENT);
	assert_int_equal(queue_withdraw(f->dir, a.id, err, sizeof(err)), -ENOENT);
	/* Answered first: the waiter is told, and the proposal stays. */
	assert_int_equal(respond(f->dir, b.id, QUEUE_APPROVED, NULL, err, sizeof(err)), 0);
	assert_int_equal(queue_withdraw(f->dir, b.id, err, sizeof(err)), -EALREADY);
	assert_int_equal(queue_list_pending(f->dir, &list, err, sizeof(err)), 0);
	assert_int_equal(list.n, 1);
	assert_true(list.items[0].answered);
	queue_list_release(&list);
}

struct race {
	const char *dir;
	const char *id;
	int ret;
};

static void *race_respond(void *arg)
{
	struct race *r = arg;
	char err[512];

	r->ret = respond(r->dir, r->id, QUEUE_APPROVED, NULL, err, sizeof(err));
	return NULL;
}

static void *race_withdraw(void *arg)
{
	struct race *r = arg;
	char err[512];

	r->ret = queue_withdraw(r->dir, r->id, err, sizeof(err));
	return NULL;
}

/* Operators answering and a waiter withdrawing at once: exactly one
 * state change wins and the others are told why. */
static void test_concurrent_answers_one_wins(void **state)
{
	struct fixture *f = *state;
	struct queue_proposal p = egress_allow();
	struct race races[8];
	pthread_t threads[8];
	int wins = 0, i;
	char err[512];

	submit(f->dir, &p);
	for (i = 0; i < 8; i++) {
		races[i] = (struct race){ f->dir, p.id, 1 };
		assert_int_equal(pthread_create(&threads[i], NULL,
						i == 3 ? race_withdraw : race_respond, &races[i]),
				 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(threads[i], NULL);
		if (races[i].ret == 0)
			wins++;
		else if (i == 3)
			assert_true(races[i].ret == -EALREADY);
		else
			assert_true(races[i].ret == -EEXIST || races[i].ret == -ENOENT);
	}
	assert_int_equal(wins, 1);
	i = queue_status(f->dir, p.id, err, sizeof(err));
	assert_true(i == (races[3].ret == 0 ? QUEUE_WITHDRAWN : QUEUE_ANSWERED));
}

static void test_response_parse_is_strict(void **state)
{
	static const char *const bad[] = {
		"{\"id\":\"r1\",\"verdict\":\"approved\",\"decided\":\"2026-11-29T19:47:00Z\"}",
		"{\"id\":\"r1\",\"verdict\":\"maybe\",\"who\":\"a\",\"decided\":\"2026-11-29T19:47:00Z\"}",
		"{\"id\":\"r1\",\"verdict\":\"modified\",\"who\":\"a\",\"decided\":\"2026-11-29T19:47:00Z\"}",
		"{\"id\":\"r1\",\"verdict\":\"approved\",\"who\":\"a\",\"decided\":\"2026-11-29T19:47:00Z\","
		"\"routes_yaml\":\"x\"}",
		"{\"id\":\"r1\",\"verdict\":\"approved\",\"who\":\"a\",\"decided\":\"now\"}",
		"{\"id\":\"r1\",\"verdict\":\"approved\",\"who\":\"a\",\"decided\":\"2026-11-29T19:47:00Z\","
		"\"extra\":1}",
		"{\"id\":\"r2\",\"verdict\":\"approved\",\"who\":\"a\",\"decided\":\"2026-11-29T19:47:00Z\"}",
	};
	const char *good = "{\"id\":\"r1\",\"verdict\":\"approved\",\"who\":\"a\","
			   "\"decided\":\"2026-11-29T19:47:00Z\",\"bounds\":{\"max_requests\":5}}";
	struct queue_response r;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (queue_response_parse("q/responses/r1.json", bad[i], strlen(bad[i]), &r, err,
					 sizeof(err)) != -EINVAL)
			fail_msg("case %zu parsed", i);
		assert_non_null(strstr(err, "q/responses/r1.json: "));
	}
	assert_int_equal(queue_response_parse("q/responses/r1.json", good, strlen(good), &r, err,
					      sizeof(err)),
			 0);
	assert_int_equal(r.bounds.max_requests, 5);
	queue_response_release(&r);
}

static void audit_three(const char *log)
{
	struct queue_proposal p = egress_allow(), t = token_allow();
	struct queue_response r = { .verdict = QUEUE_APPROVED, .who = "alice", .note = "ok" };
	char err[512];

	snprintf(p.id, sizeof(p.id), "20261129T194700Z-00000001");
	snprintf(t.id, sizeof(t.id), "20261129T194700Z-00000002");
	if (queue_audit_append(log, &p, &r, err, sizeof(err)) < 0)
		fail_msg("append: %s", err);
	r.verdict = QUEUE_REJECTED;
	r.note = "no \"quotes\"\nand a newline";
	assert_int_equal(queue_audit_append(log, &t, &r, err, sizeof(err)), 0);
	r.verdict = QUEUE_MODIFIED;
	r.routes_yaml = "routes: []\n";
	r.bounds.max_requests = 4;
	assert_int_equal(queue_audit_append(log, &p, &r, err, sizeof(err)), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *text = calloc(1, 1 << 16);

	assert_non_null(fp);
	*len = fread(text, 1, (1 << 16) - 1, fp);
	fclose(fp);
	return text;
}

static void test_audit_chain_detects_tampering(void **state)
{
	struct fixture *f = *state;
	char log[128], head[160], err[512];
	size_t entries, len;
	char *text, *second;

	snprintf(log, sizeof(log), "%s/audit.log", f->dir);
	snprintf(head, sizeof(head), "%s/audit.log.head", f->dir);
	assert_int_equal(queue_audit_verify(log, &entries, err, sizeof(err)), -ENOENT);
	audit_three(log);
	assert_int_equal(queue_audit_verify(log, &entries, err, sizeof(err)), 0);
	assert_int_equal(entries, 3);
	text = slurp(log, &len);
	assert_non_null(strstr(text, "\"tool\":\"egress-token-allow\""));
	assert_non_null(strstr(text, hash_a));
	assert_null(strstr(text, "AKIA"));

	/* One byte of the middle line changed. */
	second = strchr(text, '\n') + 1;
	*strstr(second, "rejected") = 'R';
	write_text(log, text);
	assert_int_equal(queue_audit_verify(log, &entries, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "audit.log:3: its prev is not the hash"));
	*strstr(second, "Rejected") = 'r';
	write_text(log, text);
	assert_int_equal(queue_audit_verify(log, &entries, err, sizeof(err)), 0);

	/* The last line dropped: the head notices. */
	*(strrchr(text, '\n') - 1) = '\0';
	*(strrchr(text, '\n') + 1) = '\0';
	write_text(log, text);
	assert_int_equal(queue_audit_verify(log, &entries, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "head records 3 entries"));
	/* And an append refuses to build on it. */
	{
		struct queue_proposal p = egress_allow();
		struct queue_response r = { .verdict = QUEUE_APPROVED, .who = "bob" };

		snprintf(p.id, sizeof(p.id), "x");
		assert_int_equal(queue_audit_append(log, &p, &r, err, sizeof(err)), -EBADMSG);
		assert_non_null(strstr(err, "does not match its head"));
	}
	free(text);
	text = slurp(log, &len);
	assert_null(strstr(text, "bob"));

	/* A cut-off line. */
	text[len - 10] = '\0';
	write_text(log, text);
	assert_int_equal(queue_audit_verify(log, &entries, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "cut short"));
	free(text);

	/* Starting over without a head is fine; losing it later is not. */
	assert_int_equal(unlink(log), 0);
	assert_int_equal(unlink(head), 0);
	audit_three(log);
	assert_int_equal(queue_audit_verify(log, &entries, err, sizeof(err)), 0);
	assert_int_equal(unlink(head), 0);
	assert_int_equal(queue_audit_verify(log, &entries, err, sizeof(err)), -EBADMSG);
}

static void test_sha256_hex(void **state)
{
	char out[QUEUE_HASH_HEX];

	(void)state;
	assert_int_equal(queue_sha256_hex("test", 4, out), 0);
	assert_string_equal(out, hash_a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_submit_and_read_every_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_refuses_what_the_kind_does_not_fit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_with_paths_are_refused_everywhere, setup,
						teardown),
		cmocka_unit_test(test_parse_is_strict),
		cmocka_unit_test_setup_teardown(test_list_is_oldest_first_and_reports_bad_files,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_respond_poll_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_respond_refuses_what_does_not_fit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_withdraw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_answers_one_wins, setup, teardown),
		cmocka_unit_test(test_response_parse_is_strict),
		cmocka_unit_test_setup_teardown(test_audit_chain_detects_tampering, setup,
						teardown),
		cmocka_unit_test(test_sha256_hex),
	};

	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
