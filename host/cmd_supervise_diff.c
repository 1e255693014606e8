/* A small unified diff for routes files: the operator reads what a
 * proposal changes against what egress runs now.  Longest common
 * subsequence over lines after trimming the common head and tail; the
 * table is bounded, past it the middle is shown as replaced (still a
 * correct diff, only not the smallest). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_supervise.h"

/* Past this many table cells the middle is not aligned line by line. */
#define DIFF_TABLE_MAX (4u * 1024 * 1024)
#define CONTEXT 3

struct lines {
	const char **p; /* start of each line */
	size_t *len;    /* without its newline */
	size_t n;
};

/* op: ' ' both, '-' only in a, '+' only in b */
struct edit {
	char op;
	size_t a, b;
};

static int lines_split(const char *text, struct lines *l)
{
	size_t cap = 0;
	const char *p = text;

	memset(l, 0, sizeof(*l));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (l->n == cap) {
			size_t grown = cap ? cap * 2 : 64;
			const char **np = realloc(l->p, grown * sizeof(*np));
			size_t *nlen;

			if (!np)
				return -1;
			l->p = np;
			nlen = realloc(l->len, grown * sizeof(*nlen));
			if (!nlen)
				return -1;
			l->len = nlen;
			cap = grown;
		}
		l->p[l->n] = p;
		l->len[l->n++] = len;
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

static bool same(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

/* The edit script turning a into b, in order. */
static struct edit *edits_build(const struct lines *a, const struct lines *b, size_t *count)
{
	size_t head = 0, tail = 0, n, m, i, j, k = 0;
	struct edit *e = malloc((a->n + b->n + 1) * sizeof(*e));
	uint32_t *t = NULL;

	if (!e)
		return NULL;
	while (head < a->n && head < b->n && same(a, head, b, head))
		head++;
	while (tail < a->n - head && tail < b->n - head &&
	       same(a, a->n - 1 - tail, b, b->n - 1 - tail))
		tail++;
	n = a->n - head - tail;
	m = b->n - head - tail;
	for (i = 0; i < head; i++)
		e[k++] = (struct edit){ ' ', i, i };
	if (n && m && (n + 1) * (m + 1) <= DIFF_TABLE_MAX)
		t = calloc((n + 1) * (m + 1), sizeof(*t));
	if (t) {
		/* t[i][j]: LCS length of a[head+i..] and b[head+j..] */
		for (i = n; i-- > 0;)
			for (j = m; j-- > 0;)
				t[i * (m + 1) + j] =
					same(a, head + i, b, head + j)
						? t[(i + 1) * (m + 1) + j + 1] + 1
					: t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1]
						? t[(i + 1) * (m + 1) + j]
						: t[i * (m + 1) + j + 1];
		i = j = 0;
		while (i < n && j < m) {
			if (same(a, head + i, b, head + j)) {
				e[k++] = (struct edit){ ' ', head + i, head + j };
				i++;
				j++;
			} else if (t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1]) {
				e[k++] = (struct edit){ '-', head + i++, head + j };
			} else {
				e[k++] = (struct edit){ '+', head + i, head + j++ };
			}
		}
		free(t);
	} else {
		i = j = 0;
	}
	for (; i < n; i++)
		e[k++] = (struct edit){ '-', head + i, head + j };
	for (; j < m; j++)
		e[k++] = (struct edit){ '+', head + n, head + j };
	for (i = 0; i < tail; i++)
		e[k++] = (struct edit){ ' ', a->n - tail + i, b->n - tail + i };
	*count = k;
	return e;
}

static void print_line(FILE *out, char op, const char *p, size_t len, bool color)
{
	const char *on = !color ? "" : op == '-' ? "\033[31m" : op == '+' ? "\033[32m" : "";

	fputs(on, out);
	fputc(op, out);
	/* Routes files come from the bottle: no terminal controls through. */
	while (len--) {
		unsigned char c = (unsigned char)*p++;

		fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', out);
	}
	fputs(*on ? "\033[0m\n" : "\n", out);
}

size_t supervise_diff(FILE *out, const char *a_name, const char *a_text, const char *b_name,
		      const char *b_text, bool color)
{
	struct lines a = { 0 }, b = { 0 };
	struct edit *e = NULL;
	size_t count = 0, changed = 0, i, start, end, k;

	if (lines_split(a_text, &a) < 0 || lines_split(b_text, &b) < 0 ||
	    !(e = edits_build(&a, &b, &count))) {
		fputs("(out of memory for the diff)\n", out);
		goto out;
	}
	for (i = 0; i < count; i++)
		changed += e[i].op != ' ';
	if (!changed)
		goto out;
	fprintf(out, "%s--- %s\n+++ %s%s\n", color ? "\033[1m" : "", a_name, b_name,
		color ? "\033[0m" : "");
	for (i = 0; i < count;) {
		size_t a_start, b_start, a_count = 0, b_count = 0;

		while (i < count && e[i].op == ' ')
			i++;
		if (i == count)
			break;
		/* A hunk: from CONTEXT lines before this change to CONTEXT
		 * after the last change closer than 2 * CONTEXT to the next. */
		start = i > CONTEXT ? i - CONTEXT : 0;
		end = i;
		for (k = i; k < count; k++) {
			if (e[k].op != ' ')
				end = k;
			else if (k - end > 2 * CONTEXT)
				break;
		}
		end = end + CONTEXT + 1 < count ? end + CONTEXT + 1 : count;
		a_start = e[start].a;
		b_start = e[start].b;
		for (k = start; k < end; k++) {
			a_count += e[k].op != '+';
			b_count += e[k].op != '-';
		}
		fprintf(out, "%s@@ -%zu,%zu +%zu,%zu @@%s\n", color ? "\033[36m" : "",
			a_count ? a_start + 1 : a_start, a_count, b_count ? b_start + 1 : b_start,
			b_count, color ? "\033[0m" : "");
		for (k = start; k < end; k++) {
			if (e[k].op == '+')
				print_line(out, '+', b.p[e[k].b], b.len[e[k].b], color);
			else
				print_line(out, e[k].op, a.p[e[k].a], a.len[e[k].a], color);
		}
		i = end;
	}
out:
	free(e);
	free(a.p);
	free(a.len);
	free(b.p);
	free(b.len);
	return changed;
}
