/* Sessions of the legacy (initialize-based) revisions, and the table of tool
 * calls waiting for the operator, which notifications/cancelled and DELETE
 * reach from another connection's thread.
 *
 * A session is reference-counted: the table holds one reference until the
 * session ends or expires, each request in flight holds one. */
#include "supervise.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct session {
	struct session *next;
	int refcount;               /* under table_lock */
	bool ended;
	bool initialized;
	bool client_tasks;
	uint64_t last_used_ms;
	char id[SUPERVISE_ID_LEN + 1];
	char version[16];
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session *sessions;
static unsigned nsessions, max_sessions_allowed = 1024;
static struct waiting_call *waiting;

uint64_t supervise_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void session_table_init(unsigned max_sessions)
{
	max_sessions_allowed = max_sessions;
}

static int random_hex(char *out, size_t nhex)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[SUPERVISE_ID_LEN / 2];
	size_t i;

	if (nhex / 2 > sizeof(bytes))
		return -EINVAL;
	if (getrandom(bytes, nhex / 2, 0) != (ssize_t)(nhex / 2))
		return -EIO;
	for (i = 0; i < nhex / 2; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[nhex] = '\0';
	return 0;
}

static void session_unlink_locked(struct session *s)
{
	struct session **pp;

	for (pp = &sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			nsessions--;
			break;
		}
	}
}

static void cancel_session_calls_locked(const struct session *s)
{
	struct waiting_call *w;

	for (w = waiting; w; w = w->next) {
		if (w->session == s && !w->cancelled) {
			uint64_t one = 1;

			w->cancelled = true;
			(void)!write(w->wake_fd, &one, sizeof(one));
		}
	}
}

int session_create(const char *version, struct session **out)
{
	struct session *s;
	int ret = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	ret = random_hex(s->id, SUPERVISE_ID_LEN);
	if (ret < 0)
		goto out;
	snprintf(s->version, sizeof(s->version), "%s", version);
	s->refcount = 2; /* the table's and the caller's */
	s->last_used_ms = supervise_now_ms();
	pthread_mutex_lock(&table_lock);
	if (nsessions >= max_sessions_allowed) {
		pthread_mutex_unlock(&table_lock);
		ret = -EUSERS;
		goto out;
	}
	s->next = sessions;
	sessions = s;
	nsessions++;
	pthread_mutex_unlock(&table_lock);
	*out = s;
	s = NULL;
	ret = 0;
out:
	free(s);
	return ret;
}

struct session *session_find(struct str id)
{
	struct session *s;

	if (id.len != SUPERVISE_ID_LEN)
		return NULL;
	pthread_mutex_lock(&table_lock);
	for (s = sessions; s; s = s->next) {
		if (!s->ended && memcmp(s->id, id.p, id.len) == 0) {
			s->refcount++;
			s->last_used_ms = supervise_now_ms();
			break;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return s;
}

void session_put(struct session *s)
{
	bool last;

	if (!s)
		return;
	pthread_mutex_lock(&table_lock);
	last = --s->refcount == 0;
	pthread_mutex_unlock(&table_lock);
	if (last)
		free(s);
}

static void session_end_locked(struct session *s)
{
	s->ended = true;
	session_unlink_locked(s);
	cancel_session_calls_locked(s);
}

int session_end(struct str id)
{
	struct session *s = session_find(id);

	if (!s)
		return -ENOENT;
	pthread_mutex_lock(&table_lock);
	if (!s->ended) {
		session_end_locked(s);
		s->refcount--; /* the table's reference */
	}
	pthread_mutex_unlock(&table_lock);
	session_put(s);
	return 0;
}

void session_expire(uint64_t idle_ms)
{
	struct session *s, *next, *dead = NULL;
	uint64_t now = supervise_now_ms();

	pthread_mutex_lock(&table_lock);
	for (s = sessions; s; s = next) {
		next = s->next;
		/* A session with a call in flight is in use, however old. */
		if (s->refcount == 1 && now - s->last_used_ms > idle_ms) {
			session_end_locked(s);
			s->next = dead;
			dead = s;
		}
	}
	pthread_mutex_unlock(&table_lock);
	for (s = dead; s; s = next) {
		next = s->next;
		free(s);
	}
}

const char *session_id(const struct session *s)
{
	return s->id;
}

const char *session_version(const struct session *s)
{
	return s->version;
}

void session_set_initialized(struct session *s)
{
	pthread_mutex_lock(&table_lock);
	s->initialized = true;
	pthread_mutex_unlock(&table_lock);
}

bool session_client_has_tasks(const struct session *s)
{
	bool v;

	pthread_mutex_lock(&table_lock);
	v = s->client_tasks;
	pthread_mutex_unlock(&table_lock);
	return v;
}

void session_set_client_tasks(struct session *s, bool supported)
{
	pthread_mutex_lock(&table_lock);
	s->client_tasks = supported;
	pthread_mutex_unlock(&table_lock);
}

int waiting_call_register(struct waiting_call *w, const struct session *s, const char *id_text)
{
	memset(w, 0, sizeof(*w));
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0)
		return -errno;
	w->session = s;
	snprintf(w->id_text, sizeof(w->id_text), "%s", id_text);
	pthread_mutex_lock(&table_lock);
	w->next = waiting;
	waiting = w;
	pthread_mutex_unlock(&table_lock);
	return 0;
}

void waiting_call_unregister(struct waiting_call *w)
{
	struct waiting_call **pp;

	pthread_mutex_lock(&table_lock);
	for (pp = &waiting; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&table_lock);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	w->wake_fd = -1;
}

int waiting_call_cancel(const struct session *s, const char *id_text)
{
	struct waiting_call *w;
	int ret = -ENOENT;

	pthread_mutex_lock(&table_lock);
	for (w = waiting; w; w = w->next) {
		if (w->session == s && strcmp(w->id_text, id_text) == 0 && !w->cancelled) {
			uint64_t one = 1;

			w->cancelled = true;
			(void)!write(w->wake_fd, &one, sizeof(one));
			ret = 0;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return ret;
}

bool waiting_call_is_cancelled(struct waiting_call *w)
{
	bool v;

	pthread_mutex_lock(&table_lock);
	v = w->cancelled;
	pthread_mutex_unlock(&table_lock);
	return v;
}
