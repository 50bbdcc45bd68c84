// Who may do what with a relation's entry in the free-space map. Every map function that names
// a relation of the current database checks one of three rights on it, always on the table
// (for an index: on the table it indexes):
//
//   read      its pages, average request and truncatable run, its row of the view:
//             SELECT on the table, or the maintain right
//   use       getting pages to insert into and recording their new free space, taking a page
//             from a free list: INSERT or UPDATE on the table, or the maintain right
//   maintain  replacing its pages wholesale, adding free pages, truncating, forgetting,
//             scanning: the roles PostgreSQL 15 lets VACUUM the table, that is its owner
//             (members of the owning role, superusers) and, unless it is a shared catalog,
//             the database's owner
//
// An oid that is no relation of the current database (an application's own numbering of page
// spaces) belongs to no role: every role passes every check on it.
#pragma once

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::fsm {

// The right a map function needs on the relation it names.
enum class Right { read, use, maintain };

// Whether the current user has right on relid (true for an oid that is no relation of this
// database). Plain PostgreSQL code: call it where PostgreSQL errors may be raised.
bool has_right(Oid relid, Right right);

// Raises 42501, naming function, unless the current user has right on relid. Plain
// PostgreSQL code, like has_right().
void require_right(const char *function, Oid relid, Right right);

// require_right() for C++ callers: the error arrives as an exception.
void check_right(const char *function, Oid relid, Right right);

}  // namespace simple_cache::fsm
