// SQL entry points of the Citus glue: the planner support function that keeps a NULL key away
// from Citus' hashing, the owner of a key, and the clean-up after shards moved.
#include "arguments.hpp"
#include "simple_cache/pg/citus_routing.hpp"
#include "simple_cache/pg/error.hpp"

extern "C" {
#include "nodes/makefuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "utils/lsyscache.h"
}

namespace sc = simple_cache;
using sc::pg::citus::KeyOwner;

namespace {

// Collects the keys of a listing that belong to another node.
struct UnownedKeys {
    Oid function_oid;
    MemoryContext keep;  // the listing runs the emitter in contexts it resets
    List *keys;
};

// Adds row's key to the list when another node owns it (a ListEmitter).
void collect_unowned(void *context, const sc::cache::ListedRow &row)
{
    auto *found = static_cast<UnownedKeys *>(context);
    if (sc::pg::citus::key_owner(found->function_oid, VARDATA_ANY(row.key), VARSIZE_ANY_EXHDR(row.key),
                                 nullptr) != KeyOwner::remote)
        return;
    MemoryContext emitting = MemoryContextSwitchTo(found->keep);
    found->keys = lappend(found->keys, pg_detoast_datum_copy(row.key));
    MemoryContextSwitchTo(emitting);
}

}  // namespace

// Whether the query being planned has a range table entry other than an empty FROM
// (RTE_RESULT) or a function in FROM: a query that read a relation, a subquery or VALUES,
// even one the planner has since flattened away.
static bool reads_more_than_the_call(const PlannerInfo *root)
{
    if (root == nullptr || root->parse == nullptr)
        return false;
    ListCell *cell;
    foreach (cell, root->parse->rtable) {
        auto *entry = static_cast<RangeTblEntry *>(lfirst(cell));
        if (entry->rtekind != RTE_RESULT && entry->rtekind != RTE_FUNCTION)
            return true;
    }
    return false;
}

// simple_cache_key_support(internal) RETURNS internal: the planner support function of the
// keyed functions, for their use under Citus, which looks at the planned query for a
// distributed function call to send to the worker owning its key.
//  * A call whose key is the constant NULL (also a bound parameter in a custom plan) fails
//    while it is planned with the error the call itself would raise (22004): Citus hashes the
//    constant key and must never be handed a NULL. (STRICT functions fold to NULL before.)
//  * In a query that read anything besides the call (FROM a subquery, VALUES or a table),
//    the call is wrapped in a no-op relabelling to its own type, so Citus does not take it for
//    a routable call: Citus 13 crashes deparsing such a query once the planner has flattened
//    it to "SELECT f(constants)". Unrouted, the call runs here and the key check reports it.
SIMPLE_CACHE_FUNCTION(simple_cache_key_support)
{
    Node *request = reinterpret_cast<Node *>(PG_GETARG_POINTER(0));
    if (!IsA(request, SupportRequestSimplify))
        PG_RETURN_POINTER(static_cast<Node *>(nullptr));
    auto *simplify = reinterpret_cast<SupportRequestSimplify *>(request);
    FuncExpr *call = simplify->fcall;
    if (call->args == NIL)
        PG_RETURN_POINTER(static_cast<Node *>(nullptr));
    Node *key = static_cast<Node *>(linitial(call->args));
    if (IsA(key, Const) && reinterpret_cast<Const *>(key)->constisnull)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s: key must not be NULL", get_func_name(call->funcid))));
    if (!reads_more_than_the_call(simplify->root))
        PG_RETURN_POINTER(static_cast<Node *>(nullptr));
    auto *copy = static_cast<FuncExpr *>(copyObjectImpl(call));
    PG_RETURN_POINTER(makeRelabelType(reinterpret_cast<Expr *>(copy), call->funcresulttype, -1,
                                      call->funccollid, COERCE_IMPLICIT_CAST));
}

// simple_cache_citus_owner(key text) RETURNS text (STRICT): the Citus node ("host:port") that
// owns key, 'local' when it is this node, NULL when the cache is not distributed here.
SIMPLE_CACHE_FUNCTION(simple_cache_citus_owner)
{
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    const char *owner = nullptr;
    switch (sc::pg::citus::key_owner(fcinfo->flinfo->fn_oid, key.data, key.size, &owner)) {
    case KeyOwner::unsharded:
        PG_RETURN_NULL();
    case KeyOwner::local:
        PG_RETURN_TEXT_P(cstring_to_text("local"));
    case KeyOwner::remote:
        break;
    }
    PG_RETURN_TEXT_P(cstring_to_text(owner));
}

// simple_cache_citus_drop_unowned() RETURNS bigint: drops this node's entries (of the current
// database) whose keys another node owns now, after shards moved; returns how many.
SIMPLE_CACHE_FUNCTION(simple_cache_citus_drop_unowned)
{
    UnownedKeys found{fcinfo->flinfo->fn_oid, CurrentMemoryContext, NIL};
    // Loads the shard map before the listing, so no catalog read happens inside it.
    if (sc::pg::citus::key_owner(found.function_oid, "", 0, nullptr) == KeyOwner::unsharded)
        PG_RETURN_INT64(0);
    sc::cache::list(static_cast<size_t>(work_mem) * 1024, collect_unowned, &found);
    int64 dropped = 0;
    ListCell *cell;
    foreach (cell, found.keys) {
        auto *key = static_cast<text *>(lfirst(cell));
        if (sc::cache::drop(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)))
            dropped++;
    }
    PG_RETURN_INT64(dropped);
}
