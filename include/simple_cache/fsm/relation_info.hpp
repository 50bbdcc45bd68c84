// What the map learns from PostgreSQL about an oid: whether it is a relation of the current
// database, of which kind and size, and its name for messages; the kind a new relation gets;
// and the errors that name a relation. Lookups run under guard() and must be called with no
// map lock held.
#pragma once

#include <cstdint>
#include <string>

#include "simple_cache/core/fsm/types.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::fsm {

// An oid as a relation of the current database.
struct RelationFacts {
    bool exists = false;       // a relation (pg_class row) of this database
    bool is_index = false;     // relkind index or partitioned index
    bool has_storage = false;  // it has a main fork whose size can be read
    int64_t nblocks = -1;      // its size in pages, when asked for and it has storage
};

// Looks relid up; with want_nblocks, also opens it (AccessShareLock) to read its size.
RelationFacts relation_facts(Oid relid, bool want_nblocks);

// The kind a relation gets when it starts being tracked, and whether that kind overrides the
// kind of an entry that already exists (true when it comes from the relation itself).
struct KindRule {
    core::fsm::RelationKind kind = core::fsm::RelationKind::heap;
    bool authoritative = false;
};

// The kind rule for relid: from its relkind when it is a relation, else `otherwise`.
KindRule kind_rule(const RelationFacts &facts, core::fsm::RelationKind otherwise);

// relid as regclass prints it (a qualified name, or the number).
std::string relation_name(Oid relid);

// 42809: function works on the other style of relation than relid is tracked as.
[[noreturn]] void throw_wrong_style(const char *function, Oid relid, bool is_index);

// 53200: the area had no room for what function needed; nothing was changed.
[[noreturn]] void throw_no_room(const char *function, Oid relid);

}  // namespace simple_cache::fsm
