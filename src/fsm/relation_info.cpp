// PostgreSQL's answers about an oid as a relation (see relation_info.hpp), and the errors that
// name a relation.
#include "simple_cache/fsm/relation_info.hpp"

#include "simple_cache/pg/error.hpp"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_class.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
}

namespace simple_cache::fsm {

namespace cf = core::fsm;

namespace {

// Fills facts for relid. Plain PostgreSQL code, run under guard().
void look_up(Oid relid, bool want_nblocks, RelationFacts *facts)
{
    char relkind = get_rel_relkind(relid);
    if (relkind == '\0')
        return;
    facts->exists = true;
    facts->is_index = relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX;
    facts->has_storage = RELKIND_HAS_STORAGE(relkind);
    if (!want_nblocks || !facts->has_storage)
        return;
    Relation rel = try_relation_open(relid, AccessShareLock);
    if (rel == nullptr) {
        facts->exists = false;  // dropped meanwhile
        return;
    }
    facts->nblocks = RelationGetNumberOfBlocks(rel);
    relation_close(rel, AccessShareLock);
}

}  // namespace

RelationFacts relation_facts(Oid relid, bool want_nblocks)
{
    RelationFacts facts;
    pg::guard([&] { look_up(relid, want_nblocks, &facts); });
    return facts;
}

KindRule kind_rule(const RelationFacts &facts, cf::RelationKind otherwise)
{
    if (!facts.exists)
        return KindRule{otherwise, false};
    return KindRule{facts.is_index ? cf::RelationKind::index : cf::RelationKind::heap, true};
}

std::string relation_name(Oid relid)
{
    const char *name = pg::guard([relid] {
        return DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
    });
    return std::string(name);
}

void throw_wrong_style(const char *function, Oid relid, bool is_index)
{
    std::string name = relation_name(relid);
    if (is_index)
        throw pg::SqlError(ERRCODE_WRONG_OBJECT_TYPE,
                           std::string(function) + ": relation \"" + name + "\" is index-style",
                           "The map keeps its free space as a list of wholly free pages, not as free bytes per page.",
                           "Use simple_cache_fsm_add_free_page() and simple_cache_fsm_get_free_page().");
    throw pg::SqlError(ERRCODE_WRONG_OBJECT_TYPE,
                       std::string(function) + ": relation \"" + name + "\" is heap-style",
                       "The map keeps its free space as free bytes per page, not as a list of free pages.",
                       "Use simple_cache_fsm_record(), simple_cache_fsm_get_page() and "
                       "simple_cache_fsm_record_and_get_page().");
}

void throw_no_room(const char *function, Oid relid)
{
    throw pg::SqlError(ERRCODE_OUT_OF_MEMORY,
                       std::string(function) + ": no shared memory for the free-space map",
                       "The pages of relation \"" + relation_name(relid) + "\" were left as they were.",
                       "Raise simple_cache.max_memory, or lower simple_cache.fsm_max_pages.");
}

}  // namespace simple_cache::fsm
