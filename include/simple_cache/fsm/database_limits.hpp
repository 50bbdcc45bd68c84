// Per-database limits of the free-space map: simple_cache.fsm_max_relations_per_database and
// simple_cache.fsm_max_pages_per_database, superuser settings that a database's own sessions
// put in force for it (ALTER DATABASE ... SET, or server-wide as every database's default).
//
// A session sees only its own database's values, so it applies them only to its own
// database, when it reports or starts a relation there: the relation limit by forgetting the
// database's least recently used relations, the page limit by storing it in the database's
// slots, where every backend's target computation finds it (database_targets.hpp caps the
// database's share with it), and by trimming the database's relations down to their targets.
// A report is then kept within the limit by database_room().
//
// Every function here runs with the directory lock held exclusively (directory.hpp's rules).
#pragma once

#include "simple_cache/fsm/directory.hpp"

namespace simple_cache::fsm {

// The limits this session's settings give its own database (read no catalog; call before
// taking a map lock).
DatabaseLimits own_database_limits();

// Puts limits in force for database when they apply (a session of that database): forgets its
// least recently used relations beyond its relation limit, and stores a changed page limit,
// recomputes the targets and trims the database's relations that hold more than their new
// targets. May throw between two relations (everything consistent).
void apply_database_limits(Shared &s, pg::ScopeId database, const DatabaseLimits &limits);

// The chunks the relation in slot i of all may hold when it wants `want`, within its
// database's page limit: want, or what the database's other relations leave of the limit
// after those over their targets were trimmed. want when the database has no limit. May
// throw between two relations (everything consistent).
uint64_t database_room(Shared &s, Slot *all, int32_t i, uint64_t want);

}  // namespace simple_cache::fsm
