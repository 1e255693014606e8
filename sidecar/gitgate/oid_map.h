/* A hash map from git object id to an int, for walks over thousands of
 * commits and trees where libgit2 keeps no per-object flags for us: the
 * commits a fetch sends, their depth below a want, the trees the client
 * already has.  Open addressing, grown at half full; the ids are SHA-1s, so
 * their first bytes are already a good hash. */
#ifndef SIDECAR_GITGATE_OID_MAP_H
#define SIDECAR_GITGATE_OID_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include <git2.h>

struct oid_map_slot {
	git_oid oid;
	int value;
	bool used;
};

struct oid_map {
	struct oid_map_slot *slots;
	size_t count, cap; /* cap is 0 or a power of two */
};

#define OID_MAP_INIT { NULL, 0, 0 }

/* Set oid's value; *added (may be NULL) says whether it was new.  0 or
 * -ENOMEM (the map is unchanged). */
int oid_map_put(struct oid_map *m, const git_oid *oid, int value, bool *added);
/* The value's slot, or NULL when oid is absent. */
int *oid_map_get(const struct oid_map *m, const git_oid *oid);
static inline bool oid_map_has(const struct oid_map *m, const git_oid *oid)
{
	return oid_map_get(m, oid) != NULL;
}
void oid_map_release(struct oid_map *m);

#endif
