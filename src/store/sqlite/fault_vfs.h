/*
 * fault_vfs.h - the SQLite VFS of the test build's fsync fault
 * (FAULT_FSYNC, base/fault.h). Without -DOFFRAMP_FAULTS there is none and
 * every database opens on SQLite's default VFS.
 */
#ifndef OFFRAMP_STORE_SQLITE_FAULT_VFS_H
#define OFFRAMP_STORE_SQLITE_FAULT_VFS_H

#include <stddef.h>

#include <sqlite3.h>

#ifdef OFFRAMP_FAULTS
/* The VFS name to open databases with (registered on first call; NULL if
 * it could not be, and then the default VFS serves). Thread-safe. */
const char *sq_fault_vfs(void);
#else
static inline const char *sq_fault_vfs(void)
{
	return NULL;
}
#endif

#endif
