/*
 * scratch_db.h - what every test that opens a SQLite file needs at the
 * end: the file gone, with its WAL and shared-memory files. Header-only,
 * included by the test programs that use it.
 */
#ifndef OFFRAMP_TESTS_SCRATCH_DB_H
#define OFFRAMP_TESTS_SCRATCH_DB_H

#include <stdio.h>
#include <unistd.h>

static inline void scratch_db_remove(const char *path)
{
	char p[512];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

#endif
