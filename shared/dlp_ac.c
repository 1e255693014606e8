/* Aho-Corasick over byte classes: the one pass that finds every known
 * secret variant (and, in a second automaton, every rule keyword) whatever
 * their number.  Layout in dlp_internal.h. */
#include "dlp_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* States this shallow always get a dense row: nearly all of the time is
 * spent within a few characters of the root. */
#define DLP_AC_DENSE_DEPTH 3

void dlp_ac_init(struct dlp_ac *a, const char *alphabet, bool fold)
{
	const unsigned char *c;

	memset(a, 0, sizeof(*a));
	a->nclasses = 1;
	for (c = (const unsigned char *)alphabet; *c; c++) {
		if (a->cls[*c])
			continue;
		if (fold && *c >= 'A' && *c <= 'Z' && a->cls[*c + 32]) {
			a->cls[*c] = a->cls[*c + 32];
			continue;
		}
		a->cls[*c] = (uint8_t)a->nclasses++;
		if (fold && *c >= 'a' && *c <= 'z')
			a->cls[*c - 32] = a->cls[*c];
	}
}

void dlp_ac_release(struct dlp_ac *a)
{
	free(a->nodes);
	free(a->rows);
	free(a->row_node);
	free(a->outs);
	memset(a, 0, sizeof(*a));
}

static int ac_new_node(struct dlp_ac *a, uint32_t *out)
{
	if (a->nnodes >= DLP_AC_MAX_NODES)
		return -E2BIG;
	if (a->nnodes == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct dlp_ac_node *n = realloc(a->nodes, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->nodes = n;
		a->cap = cap;
	}
	memset(&a->nodes[a->nnodes], 0, sizeof(a->nodes[0]));
	a->nodes[a->nnodes].row = DLP_AC_NONE;
	*out = (uint32_t)a->nnodes++;
	return 0;
}

static uint32_t ac_goto(const struct dlp_ac *a, uint32_t s, unsigned c)
{
	uint32_t k;

	for (k = a->nodes[s].first; k; k = a->nodes[k].sibling)
		if (a->nodes[k].ch == c)
			return k;
	return 0;
}

int dlp_ac_add(struct dlp_ac *a, const char *p, size_t len, uint32_t pattern)
{
	uint32_t s = 0, k, o;
	size_t i;
	int ret;

	if (len == 0 || len > UINT16_MAX)
		return -EINVAL;
	if (a->nnodes == 0 && (ret = ac_new_node(a, &s)) < 0)
		return ret;
	for (i = 0; i < len; i++) {
		unsigned c = a->cls[(unsigned char)p[i]];

		if (c == 0)
			return -EINVAL;
		k = ac_goto(a, s, c);
		if (!k) {
			if ((ret = ac_new_node(a, &k)) < 0)
				return ret;
			a->nodes[k].ch = (uint8_t)c;
			a->nodes[k].depth = (uint16_t)(i + 1);
			a->nodes[k].sibling = a->nodes[s].first;
			a->nodes[s].first = k;
			if (a->nodes[s].nchildren < UINT8_MAX)
				a->nodes[s].nchildren++;
		}
		s = k;
	}
	for (o = a->nodes[s].out; o; o = a->outs[o - 1].next)
		if (a->outs[o - 1].pattern == pattern)
			return 0;
	if (a->nouts == a->outs_cap) {
		size_t cap = a->outs_cap ? a->outs_cap * 2 : 64;
		struct dlp_ac_out *n = realloc(a->outs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->outs = n;
		a->outs_cap = cap;
	}
	a->outs[a->nouts].pattern = pattern;
	a->outs[a->nouts].next = a->nodes[s].out;
	a->nodes[s].out = (uint32_t)++a->nouts;
	return 0;
}

/* Transition during the build, before rows exist for deeper states: the
 * goto edge, else the failure state's transition (already final, since
 * failure states are shallower and built first in BFS order). */
static uint32_t ac_delta(const struct dlp_ac *a, uint32_t s, unsigned c)
{
	for (;;) {
		uint32_t k = ac_goto(a, s, c);

		if (k)
			return k;
		if (s == 0)
			return 0;
		s = a->nodes[s].fail;
	}
}

uint32_t dlp_ac_step_sparse(const struct dlp_ac *a, uint32_t s, unsigned c)
{
	if (c == 0)
		return a->stay0 ? s : 0;
	for (;;) {
		const struct dlp_ac_node *n;

		if (s < a->sparse_min)
			return dlp_ac_next(dlp_ac_col(a, c), s);
		n = &a->nodes[s - a->sparse_min];
		if (n->next_ch == c)
			return n->child;
		s = n->fail;
	}
}

/* The state value of node k, once every node's row (or not) is known. */
static uint32_t ac_encode(const struct dlp_ac *a, uint32_t k)
{
	const struct dlp_ac_node *n = &a->nodes[k];

	return n->row != DLP_AC_NONE ? n->row * (uint32_t)sizeof(uint32_t) : a->sparse_min + k;
}

static bool ac_dense(const struct dlp_ac_node *n)
{
	return n->depth <= DLP_AC_DENSE_DEPTH || n->nchildren > 1;
}

int dlp_ac_build(struct dlp_ac *a)
{
	uint32_t *queue = NULL, *next = NULL, head = 0, tail = 0, s, k;
	size_t ndense = 0;
	int ret = -ENOMEM;

	if (a->nnodes == 0 && (ret = ac_new_node(a, &s)) < 0)
		return ret;
	ret = -ENOMEM;
	queue = malloc(a->nnodes * sizeof(*queue));
	if (!queue)
		goto out;
	/* Breadth first: failure links, and which states are dense. */
	queue[tail++] = 0;
	while (head < tail) {
		s = queue[head++];
		for (k = a->nodes[s].first; k; k = a->nodes[k].sibling) {
			uint32_t f = 0;

			if (s != 0)
				f = ac_delta(a, a->nodes[s].fail, a->nodes[k].ch);
			a->nodes[k].fail = f;
			a->nodes[k].dict = a->nodes[f].out ? f : a->nodes[f].dict;
			queue[tail++] = k;
		}
		ndense += ac_dense(&a->nodes[s]);
	}
	if ((ndense + 1) * a->nclasses * sizeof(uint32_t) + a->nnodes >= UINT32_MAX / 2) {
		ret = -E2BIG;
		goto out;
	}
	/* Rows of states where nothing ends first, then the others. */
	ndense = 0;
	for (head = 0; head < tail; head++) {
		struct dlp_ac_node *n = &a->nodes[queue[head]];

		if (ac_dense(n) && !n->out && !n->dict)
			n->row = (uint32_t)(ndense++ * a->nclasses);
	}
	a->out_min = (uint32_t)(ndense * a->nclasses * sizeof(uint32_t));
	for (head = 0; head < tail; head++) {
		struct dlp_ac_node *n = &a->nodes[queue[head]];

		if (ac_dense(n) && (n->out || n->dict))
			n->row = (uint32_t)(ndense++ * a->nclasses);
	}
	a->sparse_min = (uint32_t)(ndense * a->nclasses * sizeof(uint32_t));
	a->rows = malloc(ndense * a->nclasses * sizeof(*a->rows));
	a->row_node = malloc(ndense * sizeof(*a->row_node));
	next = malloc(a->nnodes * sizeof(*next));
	if (!a->rows || !a->row_node || !next)
		goto out;
	/* Dense rows hold the full transition function (goto, else the
	 * failure state's), computed on plain indices; then everything is
	 * switched to state values. */
	for (head = 0; head < tail; head++) {
		struct dlp_ac_node *n = &a->nodes[queue[head]];
		unsigned c;

		if (n->row == DLP_AC_NONE) {
			if (n->first) {
				n->next_ch = a->nodes[n->first].ch;
				next[queue[head]] = n->first;
			}
			continue;
		}
		a->row_node[n->row / a->nclasses] = queue[head];
		a->rows[n->row] = a->stay0 ? queue[head] : 0;
		for (c = 1; c < a->nclasses; c++)
			a->rows[n->row + c] = ac_delta(a, queue[head], c);
	}
	for (head = 0; head < ndense * a->nclasses; head++)
		a->rows[head] = ac_encode(a, a->rows[head]);
	for (head = 0; head < tail; head++) {
		struct dlp_ac_node *n = &a->nodes[queue[head]];

		if (n->row == DLP_AC_NONE && n->first)
			n->child = ac_encode(a, next[queue[head]]);
		/* A leaf keeps next_ch 0 and child 0 (the root): class 0 leads
		 * there, any other class follows the failure link. */
	}
	for (head = 0; head < tail; head++)
		a->nodes[queue[head]].fail = ac_encode(a, a->nodes[queue[head]].fail);
	for (head = 0; head < 256; head++)
		a->byte_col[head] = dlp_ac_col(a, a->cls[head >= 'A' && head <= 'Z' ? head + 32 : head]);
	a->nrows = ndense;
	a->built = true;
	ret = 0;
out:
	free(queue);
	free(next);
	return ret;
}
