/*
 * fault_vfs.c - the test build's fsync fault for SQLite (build/offramp-fault,
 * -DOFFRAMP_FAULTS; see base/fault.h). A VFS that is the default one in
 * every respect but xSync, which counts FAULT_FSYNC points and fails the
 * armed one with SQLITE_IOERR_FSYNC without syncing: the frames written
 * before it are in the page cache, so whether the transaction survives is
 * what recovery at the next start decides, as after a real fsync failure.
 *
 * Wrapping is SQLite's own extension point (sqlite3_vfs_register): the
 * file object is ours followed by the real VFS's, and every method but
 * xSync hands the real one over unchanged.
 */
#include "store/sqlite/fault_vfs.h"

#ifdef OFFRAMP_FAULTS

#include <pthread.h>
#include <string.h>

#include "base/fault.h"

#define FV_NAME "offramp-fault"

struct fv_file {
	sqlite3_file base;  /* pMethods: fv_methods */
	sqlite3_file *real; /* the real VFS's file, right after this struct */
};

static sqlite3_vfs *fv_real; /* the default VFS, set once before registration */
static sqlite3_vfs fv_vfs;
static sqlite3_io_methods fv_methods;

static sqlite3_file *fv(sqlite3_file *f)
{
	return ((struct fv_file *)f)->real;
}

static int fv_close(sqlite3_file *f)
{
	return fv(f)->pMethods->xClose(fv(f));
}

static int fv_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return fv(f)->pMethods->xRead(fv(f), buf, n, off);
}

static int fv_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	return fv(f)->pMethods->xWrite(fv(f), buf, n, off);
}

static int fv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return fv(f)->pMethods->xTruncate(fv(f), size);
}

static int fv_sync(sqlite3_file *f, int flags)
{
	if (fault_hit(FAULT_FSYNC))
		return SQLITE_IOERR_FSYNC;
	return fv(f)->pMethods->xSync(fv(f), flags);
}

static int fv_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return fv(f)->pMethods->xFileSize(fv(f), size);
}

static int fv_lock(sqlite3_file *f, int level)
{
	return fv(f)->pMethods->xLock(fv(f), level);
}

static int fv_unlock(sqlite3_file *f, int level)
{
	return fv(f)->pMethods->xUnlock(fv(f), level);
}

static int fv_check_reserved(sqlite3_file *f, int *out)
{
	return fv(f)->pMethods->xCheckReservedLock(fv(f), out);
}

static int fv_file_control(sqlite3_file *f, int op, void *arg)
{
	return fv(f)->pMethods->xFileControl(fv(f), op, arg);
}

static int fv_sector_size(sqlite3_file *f)
{
	return fv(f)->pMethods->xSectorSize(fv(f));
}

static int fv_device_chars(sqlite3_file *f)
{
	return fv(f)->pMethods->xDeviceCharacteristics(fv(f));
}

static int fv_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
	return fv(f)->pMethods->xShmMap(fv(f), page, size, extend, out);
}

static int fv_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return fv(f)->pMethods->xShmLock(fv(f), offset, n, flags);
}

static void fv_shm_barrier(sqlite3_file *f)
{
	fv(f)->pMethods->xShmBarrier(fv(f));
}

static int fv_shm_unmap(sqlite3_file *f, int del)
{
	return fv(f)->pMethods->xShmUnmap(fv(f), del);
}

static int fv_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
	return fv(f)->pMethods->xFetch(fv(f), off, n, out);
}

static int fv_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return fv(f)->pMethods->xUnfetch(fv(f), off, p);
}

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
		   int *out_flags)
{
	(void)vfs;
	struct fv_file *f = (struct fv_file *)file;
	f->real = (sqlite3_file *)(f + 1);
	int rc = fv_real->xOpen(fv_real, name, f->real, flags, out_flags);
	/* SQLite calls xClose exactly when pMethods is set, even on failure. */
	file->pMethods = f->real->pMethods ? &fv_methods : NULL;
	return rc;
}

static void fv_init(void)
{
	fv_real = sqlite3_vfs_find(NULL);
	/* The methods this file delegates are version 3's: the unix VFS's. */
	if (!fv_real || fv_real->iVersion < 3)
		return;
	fv_methods = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = fv_close,
		.xRead = fv_read,
		.xWrite = fv_write,
		.xTruncate = fv_truncate,
		.xSync = fv_sync,
		.xFileSize = fv_file_size,
		.xLock = fv_lock,
		.xUnlock = fv_unlock,
		.xCheckReservedLock = fv_check_reserved,
		.xFileControl = fv_file_control,
		.xSectorSize = fv_sector_size,
		.xDeviceCharacteristics = fv_device_chars,
		.xShmMap = fv_shm_map,
		.xShmLock = fv_shm_lock,
		.xShmBarrier = fv_shm_barrier,
		.xShmUnmap = fv_shm_unmap,
		.xFetch = fv_fetch,
		.xUnfetch = fv_unfetch,
	};
	/* Every other method (and pAppData, which the unix VFS reads) is the
	 * real VFS's own. */
	fv_vfs = *fv_real;
	fv_vfs.pNext = NULL;
	fv_vfs.zName = FV_NAME;
	fv_vfs.szOsFile = (int)sizeof(struct fv_file) + fv_real->szOsFile;
	fv_vfs.xOpen = fv_open;
	if (sqlite3_vfs_register(&fv_vfs, 0) != SQLITE_OK)
		fv_vfs.zName = NULL;
}

const char *sq_fault_vfs(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, fv_init);
	return fv_vfs.zName;
}

#endif
