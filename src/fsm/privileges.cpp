// The rights map functions need on the relations they name (see privileges.hpp). The maintain
// right mirrors the server's rule for VACUUM (vacuum_is_relation_owner in PostgreSQL 15 and 16,
// vacuum_is_permitted_for_relation with the MAINTAIN privilege from 17 on), the map's wholesale
// changes being what VACUUM does to PostgreSQL's own free space map; the use right mirrors who
// consults and updates that map for a page to put a row in: INSERT and UPDATE.
#include "simple_cache/fsm/privileges.hpp"

#include "simple_cache/pg/error.hpp"

extern "C" {
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
}

namespace simple_cache::fsm {

namespace {

// What the checks need to know about a table.
struct TableFacts {
    bool exists = false;
    Oid owner = InvalidOid;
    bool shared = false;
};

// The pg_class facts of relid, and its relkind ('\0' when it is no relation).
TableFacts table_facts(Oid relid, char *relkind)
{
    TableFacts facts;
    *relkind = '\0';
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return facts;
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    facts.exists = true;
    facts.owner = form->relowner;
    facts.shared = form->relisshared;
    *relkind = form->relkind;
    ReleaseSysCache(tuple);
    return facts;
}

// Whether user owns the current database (membership in the owning role counts).
bool owns_database(Oid user)
{
    HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
    if (!HeapTupleIsValid(tuple))
        return false;
    Oid owner = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple))->datdba;
    ReleaseSysCache(tuple);
    return has_privs_of_role(user, owner);
}

// Whether user may VACUUM the table, by the server's rule: its owner, the database's owner for
// a table that is not shared between databases, and from PostgreSQL 17 on whoever holds the
// MAINTAIN privilege on it (pg_maintain's members among them). Superusers own everything.
bool may_vacuum(Oid user, Oid table, const TableFacts &facts)
{
    return has_privs_of_role(user, facts.owner) || (!facts.shared && owns_database(user)) ||
           pg::has_maintain_privilege(table, user);
}

// The privileges on the table that grant `right` besides may_vacuum().
AclMode table_privileges(Right right)
{
    switch (right) {
    case Right::read:
        return ACL_SELECT;
    case Right::use:
        return ACL_INSERT | ACL_UPDATE;
    case Right::maintain:
        break;
    }
    return 0;
}

// What a refusal tells the user is missing.
const char *missing_right(Right right)
{
    switch (right) {
    case Right::read:
        return "Reading a relation's free space needs SELECT on it (on its table, for an index), "
               "or the right to vacuum it.";
    case Right::use:
        return "Getting pages with room from a relation, and recording their free space, needs INSERT or "
               "UPDATE on it (on its table, for an index), or the right to vacuum it.";
    case Right::maintain:
        break;
    }
    return "Changing what the map keeps for a relation needs the right to vacuum it: ownership of its "
           "table (or membership in the owning role), or of the database unless the table is a shared catalog, "
           "or from PostgreSQL 17 on the MAINTAIN privilege on the table.";
}

}  // namespace

bool has_right(Oid relid, Right right)
{
    char relkind;
    Oid table = relid;
    TableFacts facts = table_facts(relid, &relkind);
    if (!facts.exists)
        return true;  // an application's own number
    if (relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX) {
        table = IndexGetRelation(relid, true);
        facts = table_facts(table, &relkind);
        if (!facts.exists)
            return true;  // dropped meanwhile: no relation any more
    }
    Oid user = GetUserId();
    if (may_vacuum(user, table, facts))
        return true;
    AclMode privileges = table_privileges(right);
    if (privileges == 0)
        return false;
    bool missing = false;
    AclResult result = pg_class_aclcheck_ext(table, user, privileges, &missing);
    return missing || result == ACLCHECK_OK;
}

void require_right(const char *function, Oid relid, Right right)
{
    if (has_right(relid, right))
        return;
    const char *name = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("%s: permission denied for relation \"%s\"", function, name),
                    errdetail("%s", missing_right(right))));
}

void check_right(const char *function, Oid relid, Right right)
{
    pg::guard([&] { require_right(function, relid, right); });
}

}  // namespace simple_cache::fsm
