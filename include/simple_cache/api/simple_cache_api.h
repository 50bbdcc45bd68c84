/*
 * simple_cache_api.h: the C API through which other extensions use simple_cache's cache and
 * free-space map from C code, without going through SQL.
 *
 * Installed by "make install" as
 *     $(pg_config --includedir-server)/extension/simple_cache/simple_cache_api.h
 * and included, after postgres.h, as
 *     #include "extension/simple_cache/simple_cache_api.h"
 *
 * simple_cache publishes one SimpleCacheApi struct under the rendezvous variable named
 * SIMPLE_CACHE_API_RENDEZVOUS when its library is loaded into a process. A consumer gets it
 * with simple_cache_api_load() (loads the library when needed) or simple_cache_api_find()
 * (never loads it), keeps the pointer for the life of the process, and calls through it.
 *
 * Compatibility rule: SIMPLE_CACHE_API_VERSION changes only when an existing member changes
 * its meaning or signature; new members are only ever added at the end of the struct, which
 * makes `size` grow. A consumer accepts the struct when its version equals the version it was
 * compiled with and its size is at least the size it was compiled with (both lookup functions below
 * check this); a consumer that wants to run on an older simple_cache as well checks the
 * members it uses with SIMPLE_CACHE_API_HAS() instead of the whole size.
 *
 * Every function behaves as the SQL function of the same name (see the README, "C API for
 * other extensions"): keys and relations belong to the current database, which must have
 * CREATE EXTENSION simple_cache; errors are raised with ereport(ERROR) and the SQL functions'
 * SQLSTATEs, after simple_cache has released everything it held, so the caller sees an
 * ordinary PostgreSQL error. Call them in a backend connected to a database, inside a
 * transaction, outside critical sections. Memory returned is palloc'd in CurrentMemoryContext
 * and belongs to the caller.
 *
 * This header holds no C++: it compiles as C99 and as C++.
 */
#ifndef SIMPLE_CACHE_API_H
#define SIMPLE_CACHE_API_H

#include "fmgr.h"
#include "storage/block.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The name of the rendezvous variable that holds a pointer to the published struct. */
#define SIMPLE_CACHE_API_RENDEZVOUS "simple_cache"

/* The API version this header describes (see the compatibility rule above). */
#define SIMPLE_CACHE_API_VERSION 1

/* put's mode: which existing state of the key the put requires. */
#define SIMPLE_CACHE_PUT_UPSERT 0	/* store whether or not the key exists */
#define SIMPLE_CACHE_PUT_ADD 1		/* store only when the key is absent */
#define SIMPLE_CACHE_PUT_REPLACE 2	/* store only when the key is present */

/* put's value kind: how SQL sees the value (simple_cache_get, simple_cache_incr, listings). */
#define SIMPLE_CACHE_VALUE_TEXT 0
#define SIMPLE_CACHE_VALUE_BYTEA 1

/* put's ttl_ms besides a positive number of milliseconds. */
#define SIMPLE_CACHE_TTL_NONE ((int64) -1)	/* never expires (SQL: a NULL ttl) */
#define SIMPLE_CACHE_TTL_DEFAULT ((int64) -2)	/* simple_cache.default_ttl (SQL: no ttl) */

typedef struct SimpleCacheApi
{
	uint32		version;		/* SIMPLE_CACHE_API_VERSION of the publisher */
	uint32		size;			/* sizeof(SimpleCacheApi) of the publisher */

	/*
	 * The value of key as a bytea palloc'd in CurrentMemoryContext (the bytes as stored, a
	 * text value's too), or NULL when the key is absent or expired.
	 */
	bytea	   *(*get) (const char *key, size_t key_len);

	/*
	 * Stores value under key as mode allows (SIMPLE_CACHE_PUT_*), as kind
	 * (SIMPLE_CACHE_VALUE_*), expiring after ttl_ms milliseconds or as SIMPLE_CACHE_TTL_*
	 * says. Returns what the SQL function returns: for an upsert whether the key existed, for
	 * add and replace whether the value was stored.
	 */
	bool		(*put) (const char *key, size_t key_len, const char *value, size_t value_len,
						int kind, int mode, int64 ttl_ms);

	/* Removes key; whether it was present. */
	bool		(*drop) (const char *key, size_t key_len);

	/* Adds delta to the integer stored under key (an absent key is created) and returns it. */
	int64		(*incr) (const char *key, size_t key_len, int64 delta);

	/*
	 * Replaces the pages the map keeps for relid by a report of n pages: blocks[i] has
	 * avail[i] free bytes (0 .. BLCKSZ; avail may be NULL: every page 0). Returns the pages
	 * kept after trimming to the relation's share.
	 */
	uint32		(*fsm_record_many) (Oid relid, const BlockNumber *blocks, const int32 *avail,
									size_t n);

	/* Sets the free bytes of a page the map tracks; false when it does not track it. */
	bool		(*fsm_record) (Oid relid, BlockNumber block, int32 avail);

	/* A page of relid with at least needed free bytes, or InvalidBlockNumber. */
	BlockNumber (*fsm_get_page) (Oid relid, int32 needed);

	/* fsm_record(old_block, old_avail) and fsm_get_page(needed) in one step. */
	BlockNumber (*fsm_record_and_get_page) (Oid relid, BlockNumber old_block, int32 old_avail,
											int32 needed);
} SimpleCacheApi;

/* Whether api is a struct's address and has member (for consumers of newer headers). */
#define SIMPLE_CACHE_API_HAS(api, member) \
	((api) != NULL && (api)->size >= offsetof(SimpleCacheApi, member) + sizeof((api)->member))

/*
 * Whether api can serve a consumer compiled for API version `version` with a struct of
 * `size` bytes.
 */
static inline bool
simple_cache_api_compatible(const SimpleCacheApi *api, uint32 version, size_t size)
{
	return api != NULL && api->version == version && api->size >= size;
}

/*
 * The struct simple_cache published in this process, if its library is loaded and it is
 * compatible with this header; NULL otherwise. Never loads anything.
 */
static inline const SimpleCacheApi *
simple_cache_api_find(void)
{
	const SimpleCacheApi *api = *(const SimpleCacheApi **) find_rendezvous_variable(SIMPLE_CACHE_API_RENDEZVOUS);

	return simple_cache_api_compatible(api, SIMPLE_CACHE_API_VERSION, sizeof(SimpleCacheApi)) ? api : NULL;
}

/*
 * simple_cache_api_find(), loading simple_cache's library first if it is not loaded yet
 * (an ERROR if it is not installed). NULL only for an incompatible simple_cache.
 */
static inline const SimpleCacheApi *
simple_cache_api_load(void)
{
	if (*find_rendezvous_variable(SIMPLE_CACHE_API_RENDEZVOUS) == NULL)
		load_file("$libdir/simple_cache", false);
	return simple_cache_api_find();
}

#ifdef __cplusplus
}
#endif

#endif							/* SIMPLE_CACHE_API_H */
