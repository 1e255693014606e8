/* What every libFuzzer harness here shares: the entry point's prototype
 * and CHECK(), an invariant that aborts when broken (libFuzzer then saves
 * the input as a crash). */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                  \
			abort();                                                         \
		}                                                                        \
	} while (0)

/* For a loader that only reads a path: the input written to a file called
 * name (the same on every call) in a directory of the process's own, both
 * removed at exit.  Returns the file's path.  The directory is in
 * /dev/shm when it can be: on disk, writing the file took six times as
 * long as the parse. */
static char fuzz_file_dir[64], fuzz_file_path[128];

static inline void fuzz_file_remove(void)
{
	unlink(fuzz_file_path);
	rmdir(fuzz_file_dir);
}

static inline const char *fuzz_file_write(const char *name, const uint8_t *data, size_t size)
{
	FILE *f;

	if (!fuzz_file_dir[0]) {
		snprintf(fuzz_file_dir, sizeof(fuzz_file_dir), "%s/bottle-fuzz.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		CHECK(mkdtemp(fuzz_file_dir));
		snprintf(fuzz_file_path, sizeof(fuzz_file_path), "%s/%s", fuzz_file_dir, name);
		atexit(fuzz_file_remove);
	}
	f = fopen(fuzz_file_path, "w");
	CHECK(f);
	CHECK(fwrite(data, 1, size, f) == size);
	CHECK(fclose(f) == 0);
	return fuzz_file_path;
}

#endif
