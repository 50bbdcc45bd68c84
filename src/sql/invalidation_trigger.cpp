// simple_cache_invalidate_trigger(): a trigger function that invalidates, at commit, the cache
// keys built from the changed rows. Its arguments are key templates: literal text with
// {column} placeholders ({{ and }} stand for braces), e.g. 'user:{id}'.
//
//   FOR EACH ROW, AFTER INSERT / UPDATE / DELETE: each template is filled in from the OLD row
//   (UPDATE, DELETE) and the NEW row (INSERT, UPDATE), a column's value in its text form (as
//   column::text shows it), and the key is dropped at commit. A template whose column is NULL
//   in that row makes no key, and a key longer than the longest storable key is skipped (it
//   cannot be in the cache).
//   FOR EACH STATEMENT (TRUNCATE, or any event): no rows, so each template drops, at commit,
//   every key that starts with its text before the first placeholder (a template without
//   placeholders drops that one key).
//
// The templates are checked against the table when the trigger first fires in a statement
// (parsed once per statement and kept in the function's memory): a bad template or a column
// the table does not have is an error naming the trigger and the table.
//
// Plain PostgreSQL code in the body: no C++ object with a destructor lives in these frames.
#include "arguments.hpp"
#include "simple_cache/cache/pending_writes.hpp"
#include "simple_cache/pg/citus_routing.hpp"
#include "simple_cache/pg/error.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace sc = simple_cache;

namespace {

// One piece of a template: literal text, or a column's value.
struct Piece {
    const char *text;  // literal (braces unescaped); for a column, its name
    int length;
    AttrNumber column;  // 0 for literal text
    FmgrInfo output;    // the column type's output function
    bool sized_by_storage;  // its text form is at least as long as its stored bytes (text, bytea, ...)
};

// A parsed template.
struct KeyTemplate {
    const char *source;
    Piece *pieces;
    int piece_count;
    int leading_literal;  // pieces before the first column
};

// The parsed templates of one trigger, kept in fn_extra for the statement.
struct TriggerPlan {
    Oid trigger_oid;
    KeyTemplate *templates;
    int template_count;
};

// Raises the error for a malformed template.
[[noreturn]] void bad_template(TriggerData *trigger, const char *source, const char *why)
{
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("trigger \"%s\" on table \"%s\": bad key template \"%s\"", trigger->tg_trigger->tgname,
                           RelationGetRelationName(trigger->tg_relation), source),
                    errdetail("%s", why),
                    errhint("Write literal text with {column} placeholders, e.g. 'user:{id}'; "
                            "{{ and }} stand for braces.")));
    pg_unreachable();
}

// Whether a type's text form is never shorter than its stored bytes (text-like types, whose
// text is their bytes, and bytea, whose text is hex), so that the stored size bounds the key.
bool text_at_least_stored_size(Oid type)
{
    switch (getBaseType(type)) {
    case TEXTOID:
    case VARCHAROID:
    case BPCHAROID:
    case BYTEAOID:
    case JSONOID:
    case XMLOID:
        return true;
    default:
        return false;
    }
}

// Parses one template against the table's columns, in memory context `context`.
KeyTemplate parse_template(TriggerData *trigger, const char *source, MemoryContext context)
{
    TupleDesc desc = RelationGetDescr(trigger->tg_relation);
    size_t source_length = strlen(source);
    KeyTemplate parsed{source, nullptr, 0, -1};
    // At most one piece per character, plus one.
    parsed.pieces = static_cast<Piece *>(MemoryContextAllocZero(context, sizeof(Piece) * (source_length + 1)));
    char *literal = static_cast<char *>(MemoryContextAlloc(context, source_length + 1));
    int literal_length = 0;
    auto end_literal = [&]() {
        if (literal_length == 0)
            return;
        Piece &piece = parsed.pieces[parsed.piece_count++];
        piece.text = literal;
        piece.length = literal_length;
        literal += literal_length;
        literal_length = 0;
    };
    for (size_t i = 0; i < source_length;) {
        char c = source[i];
        if ((c == '{' || c == '}') && i + 1 < source_length && source[i + 1] == c) {
            literal[literal_length++] = c;
            i += 2;
            continue;
        }
        if (c == '}')
            bad_template(trigger, source, "A \"}\" closes no placeholder (write \"}}\" for a brace).");
        if (c != '{') {
            literal[literal_length++] = c;
            ++i;
            continue;
        }
        const char *name = source + i + 1;
        const char *close = strchr(name, '}');
        if (close == nullptr)
            bad_template(trigger, source, "A \"{\" is not closed (write \"{{\" for a brace).");
        int name_length = static_cast<int>(close - name);
        if (name_length == 0)
            bad_template(trigger, source, "A placeholder names no column.");
        char *column_name = pnstrdup(name, name_length);
        AttrNumber column = InvalidAttrNumber;
        for (int a = 0; a < desc->natts; ++a) {
            Form_pg_attribute attribute = TupleDescAttr(desc, a);
            if (!attribute->attisdropped && strcmp(NameStr(attribute->attname), column_name) == 0) {
                column = attribute->attnum;
                break;
            }
        }
        if (column == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("trigger \"%s\" on table \"%s\": key template \"%s\" names column \"%s\", "
                                   "which the table does not have",
                                   trigger->tg_trigger->tgname, RelationGetRelationName(trigger->tg_relation),
                                   source, column_name)));
        end_literal();
        if (parsed.leading_literal < 0)
            parsed.leading_literal = parsed.piece_count;
        Piece &piece = parsed.pieces[parsed.piece_count++];
        piece.text = MemoryContextStrdup(context, column_name);
        piece.length = name_length;
        piece.column = column;
        Oid output_function;
        bool is_varlena;
        getTypeOutputInfo(TupleDescAttr(desc, column - 1)->atttypid, &output_function, &is_varlena);
        fmgr_info_cxt(output_function, &piece.output, context);
        piece.sized_by_storage = text_at_least_stored_size(TupleDescAttr(desc, column - 1)->atttypid);
        pfree(column_name);
        i = static_cast<size_t>(close - source) + 1;
    }
    end_literal();
    if (parsed.leading_literal < 0)
        parsed.leading_literal = parsed.piece_count;
    return parsed;
}

// The trigger's parsed templates, parsed at its first call in the statement.
TriggerPlan *plan_for(FunctionCallInfo fcinfo, TriggerData *trigger)
{
    auto *plan = static_cast<TriggerPlan *>(fcinfo->flinfo->fn_extra);
    if (plan != nullptr && plan->trigger_oid == trigger->tg_trigger->tgoid)
        return plan;
    Trigger *t = trigger->tg_trigger;
    if (t->tgnargs == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("trigger \"%s\" on table \"%s\": simple_cache_invalidate_trigger() needs at least "
                               "one key template",
                               t->tgname, RelationGetRelationName(trigger->tg_relation)),
                        errhint("Pass templates as the trigger's arguments, e.g. "
                                "EXECUTE FUNCTION simple_cache_invalidate_trigger('user:{id}').")));
    MemoryContext context = fcinfo->flinfo->fn_mcxt;
    plan = static_cast<TriggerPlan *>(MemoryContextAllocZero(context, sizeof(TriggerPlan)));
    plan->templates = static_cast<KeyTemplate *>(MemoryContextAllocZero(context, sizeof(KeyTemplate) * t->tgnargs));
    for (int i = 0; i < t->tgnargs; ++i)
        plan->templates[i] = parse_template(trigger, t->tgargs[i], context);
    plan->template_count = t->tgnargs;
    plan->trigger_oid = t->tgoid;
    fcinfo->flinfo->fn_extra = plan;
    return plan;
}

// Appends the text form of a column's value to key; false (key left unfinished) when the key
// would pass the longest key. A value whose stored size alone passes it is neither detoasted
// nor converted.
bool append_column_text(const Piece &piece, Datum value, StringInfo key)
{
    size_t room = sc::cache::kMaxKeyBytes - static_cast<size_t>(key->len);
    if (piece.sized_by_storage) {
        Size stored = toast_raw_datum_size(value);  // with its header, of 1 or 4 bytes
        if (stored > VARHDRSZ && stored - VARHDRSZ > room)
            return false;
    }
    char *text = OutputFunctionCall(const_cast<FmgrInfo *>(&piece.output), value);
    size_t length = strlen(text);
    bool fits = length <= room;
    if (fits)
        appendBinaryStringInfo(key, text, static_cast<int>(length));
    pfree(text);
    return fits;
}

// Fills template in from row into key; false (no key) when a column it needs is NULL or the key
// would be longer than the longest key (no such key can be in the cache). Stops building as
// soon as the key passes that length.
bool build_key(const KeyTemplate &key_template, TriggerData *trigger, HeapTuple row, StringInfo key)
{
    TupleDesc desc = RelationGetDescr(trigger->tg_relation);
    resetStringInfo(key);
    for (int i = 0; i < key_template.piece_count; ++i) {
        const Piece &piece = key_template.pieces[i];
        if (piece.column == 0) {
            if (static_cast<size_t>(key->len) + static_cast<size_t>(piece.length) > sc::cache::kMaxKeyBytes)
                return false;
            appendBinaryStringInfo(key, piece.text, piece.length);
            continue;
        }
        bool is_null;
        Datum value = heap_getattr(row, piece.column, desc, &is_null);
        if (is_null || !append_column_text(piece, value, key))
            return false;
    }
    return true;
}

// Queues at commit the drops of the keys that the templates make of row; skips a key equal
// to the one made of the other row of an UPDATE (passed as `already`). Under Citus, a key
// another node owns is 0A000 (as simple_cache_invalidate refuses it).
void invalidate_row(FunctionCallInfo fcinfo, const TriggerPlan &plan, TriggerData *trigger, HeapTuple row,
                    HeapTuple already, StringInfo key, StringInfo other)
{
    for (int i = 0; i < plan.template_count; ++i) {
        if (!build_key(plan.templates[i], trigger, row, key))
            continue;  // a NULL part makes no key; a key over the limit can never have been stored
        if (already != nullptr && build_key(plan.templates[i], trigger, already, other) &&
            other->len == key->len && memcmp(other->data, key->data, key->len) == 0)
            continue;
        sc::pg::citus::require_owned_by_trigger(fcinfo, trigger->tg_trigger->tgname,
                                                RelationGetRelationName(trigger->tg_relation), key->data,
                                                static_cast<size_t>(key->len));
        sc::cache::drop_at_commit(key->data, static_cast<size_t>(key->len));
    }
}

// Queues at commit, for a statement-level event, each template's drop: by the prefix before
// its first placeholder, or of its one key when it has none.
void invalidate_statement(const TriggerPlan &plan, StringInfo key)
{
    for (int i = 0; i < plan.template_count; ++i) {
        const KeyTemplate &key_template = plan.templates[i];
        resetStringInfo(key);
        for (int p = 0; p < key_template.leading_literal; ++p)
            appendBinaryStringInfo(key, key_template.pieces[p].text, key_template.pieces[p].length);
        if (static_cast<size_t>(key->len) > sc::cache::kMaxKeyBytes)
            continue;  // no stored key is that long
        if (key_template.leading_literal == key_template.piece_count)
            sc::cache::drop_at_commit(key->data, static_cast<size_t>(key->len));
        else
            sc::cache::drop_prefix_at_commit(key->data, static_cast<size_t>(key->len));
    }
}

}  // namespace

// simple_cache_invalidate_trigger() RETURNS trigger: see the top of this file.
SIMPLE_CACHE_FUNCTION(simple_cache_invalidate_trigger)
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("simple_cache_invalidate_trigger: not called as a trigger")));
    auto *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
    if (!TRIGGER_FIRED_AFTER(trigger->tg_event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("trigger \"%s\" on table \"%s\": simple_cache_invalidate_trigger() must be fired AFTER",
                               trigger->tg_trigger->tgname, RelationGetRelationName(trigger->tg_relation)),
                        errhint("A BEFORE trigger sees rows that may still change or not be written.")));
    TriggerPlan *plan = plan_for(fcinfo, trigger);
    StringInfoData key;
    StringInfoData other;
    initStringInfo(&key);
    initStringInfo(&other);
    if (TRIGGER_FIRED_FOR_STATEMENT(trigger->tg_event)) {
        invalidate_statement(*plan, &key);
    } else if (TRIGGER_FIRED_BY_INSERT(trigger->tg_event)) {
        invalidate_row(fcinfo, *plan, trigger, trigger->tg_trigtuple, nullptr, &key, &other);
    } else if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event)) {
        invalidate_row(fcinfo, *plan, trigger, trigger->tg_trigtuple, nullptr, &key, &other);
    } else if (TRIGGER_FIRED_BY_UPDATE(trigger->tg_event)) {
        invalidate_row(fcinfo, *plan, trigger, trigger->tg_trigtuple, nullptr, &key, &other);
        invalidate_row(fcinfo, *plan, trigger, trigger->tg_newtuple, trigger->tg_trigtuple, &key, &other);
    }
    pfree(key.data);
    pfree(other.data);
    return PointerGetDatum(static_cast<HeapTuple>(nullptr));
}
