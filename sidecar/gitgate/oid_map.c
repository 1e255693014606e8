/* Object id -> int hash map (oid_map.h). */
#include "oid_map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t oid_hash(const git_oid *oid)
{
	uint64_t h;

	memcpy(&h, oid->id, sizeof(h));
	return (size_t)h;
}

static struct oid_map_slot *map_find(const struct oid_map *m, const git_oid *oid)
{
	size_t mask = m->cap - 1, i = oid_hash(oid) & mask;

	while (m->slots[i].used) {
		if (git_oid_equal(&m->slots[i].oid, oid))
			return &m->slots[i];
		i = (i + 1) & mask;
	}
	return &m->slots[i];
}

static int map_grow(struct oid_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct oid_map old = *m;

	if (cap > SIZE_MAX / sizeof(*m->slots))
		return -ENOMEM;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return -ENOMEM;
	}
	m->cap = cap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].used)
			*map_find(m, &old.slots[i].oid) = old.slots[i];
	free(old.slots);
	return 0;
}

int oid_map_put(struct oid_map *m, const git_oid *oid, int value, bool *added)
{
	struct oid_map_slot *slot;

	if ((m->count + 1) * 2 > m->cap) {
		int ret = map_grow(m);
		if (ret < 0)
			return ret;
	}
	slot = map_find(m, oid);
	if (added)
		*added = !slot->used;
	if (!slot->used) {
		slot->used = true;
		git_oid_cpy(&slot->oid, oid);
		m->count++;
	}
	slot->value = value;
	return 0;
}

int *oid_map_get(const struct oid_map *m, const git_oid *oid)
{
	struct oid_map_slot *slot;

	if (m->count == 0)
		return NULL;
	slot = map_find(m, oid);
	return slot->used ? &slot->value : NULL;
}

void oid_map_release(struct oid_map *m)
{
	free(m->slots);
	*m = (struct oid_map)OID_MAP_INIT;
}
