/* The running gate's repository table. */
#include "gitgate.h"

#include <string.h>

bool gitgate_repo_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > 100)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
	      (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	if (len >= 4 && memcmp(name + len - 4, ".git", 4) == 0)
		return false;
	return memmem(name, len, "..", 2) == NULL;
}

struct gitgate_repo *gitgate_repo_find(struct gitgate *gate, const char *name, size_t len)
{
	if (!gitgate_repo_name_valid(name, len))
		return NULL;
	for (size_t i = 0; i < gate->nrepos; i++) {
		const char *have = gate->repos[i].config->name;
		if (strlen(have) == len && memcmp(have, name, len) == 0)
			return &gate->repos[i];
	}
	return NULL;
}
