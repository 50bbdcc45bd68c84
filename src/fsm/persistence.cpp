// Saving and loading the free-space map (see persistence.hpp): export of every database's
// relations under brief locks, the record format on top of the saved files' common format, and
// the map's handler for the persistence worker.
#include "simple_cache/fsm/persistence.hpp"

#include <string>
#include <vector>

#include "simple_cache/fsm/directory.hpp"
#include "simple_cache/fsm/locks.hpp"
#include "simple_cache/fsm/wholesale_report.hpp"
#include "simple_cache/pg/error.hpp"

namespace simple_cache::fsm {

namespace cf = core::fsm;
using core::get_u32;
using core::PayloadReader;
using core::put_u32;
using core::RecordStep;

namespace {

constexpr char kMapMagic[8] = {'S', 'C', 'F', 'S', 'M', 'A', 'P', '\n'};
constexpr size_t kRecordHeaderBytes = 29;
const core::FileFormat kMapFormat = {kMapFileName, kMapMagic, 2, kRecordHeaderBytes, "saved free-space map"};

// Offsets of a record header's fields.
enum RecordOffset : size_t {
    kDatabaseAt = 0,
    kRowXminAt = 4,
    kExtensionAt = 8,
    kRelationAt = 12,
    kKindAt = 16,
    kRequestedAt = 17,
    kAverageAt = 21,
    kCountAt = 25,
};

// One relation as saved.
struct SavedRelation {
    pg::DatabaseIdentity database{};
    Oid relid = InvalidOid;
    cf::RelationKind kind = cf::RelationKind::heap;
    uint32_t requested_pages = 0;
    uint32_t avg_request = 0;
    std::vector<cf::PageEntry> pages;
};

// Copies every slot, under the directory lock in shared mode (buffer sized before the lock).
std::vector<Slot> copy_all_slots(Shared &s)
{
    std::vector<Slot> copy;
    for (;;) {
        copy.resize(relation_count(s) + 16);
        DirectoryLock directory(s, LW_SHARED);
        uint32_t count = relation_count(s);
        if (count > copy.size())
            continue;
        const Slot *all = slots(s);
        std::copy(all, all + count, copy.begin());
        copy.resize(count);
        return copy;
    }
}

// Reads one relation under its shared lock; false when it is no longer tracked.
bool read_relation(Shared &s, const FsmKey &key, SavedRelation *out)
{
    RelationLock lock;
    RelationEntry *e = open_relation(s, key, LW_SHARED, lock);
    if (e == nullptr)
        return false;
    FsmRelation rel(*s.policy, e->state);
    out->relid = key.relid;
    out->kind = rel.kind();
    out->requested_pages = rel.requested_pages();
    out->avg_request = rel.avg_request();
    out->pages.clear();
    out->pages.reserve(rel.count());  // std::bad_alloc releases the lock on its way up
    for (uint32_t i = 0; i < rel.count(); ++i)
        out->pages.push_back(rel.page_at(i));
    return true;
}

// Appends one relation's record.
void add_relation(pg::FileWriter &writer, const SavedRelation &r)
{
    char head[kRecordHeaderBytes];
    put_u32(head + kDatabaseAt, r.database.database);
    put_u32(head + kRowXminAt, r.database.row_xmin);
    put_u32(head + kExtensionAt, r.database.extension);
    put_u32(head + kRelationAt, r.relid);
    head[kKindAt] = static_cast<char>(r.kind);
    put_u32(head + kRequestedAt, r.requested_pages);
    put_u32(head + kAverageAt, r.avg_request);
    put_u32(head + kCountAt, static_cast<uint32_t>(r.pages.size()));
    writer.append(head, sizeof head);
    for (const cf::PageEntry &page : r.pages) {
        char bytes[6];
        put_u32(bytes, page.block);
        bytes[4] = static_cast<char>(page.avail & 0xFF);
        bytes[5] = static_cast<char>(page.avail >> 8);
        writer.append(bytes, r.kind == cf::RelationKind::heap ? 6 : 4);
    }
    writer.end_record();
}

// Reads and checks one record into *r.
RecordStep read_relation_record(PayloadReader &in, uint64_t i, std::string &problem, SavedRelation *r)
{
    char head[kRecordHeaderBytes];
    if (!in.take(head, sizeof head)) {
        problem = "The payload ends inside " + core::record_label(i) + ".";
        return RecordStep::invalid;
    }
    auto kind = static_cast<unsigned char>(head[kKindAt]);
    uint32_t count = get_u32(head + kCountAt);
    uint32_t average = get_u32(head + kAverageAt);
    size_t page_bytes = kind == 0 ? 6 : 4;
    if (kind > 1)
        problem = "The kind of " + core::record_label(i) + " is " + std::to_string(kind) + ".";
    else if (uint64_t{count} * page_bytes > in.remaining())
        problem = core::record_label(i) + " runs past the end of the payload.";
    else if (average > cf::kMaxAvail)
        problem = "The average request of " + core::record_label(i) + " is out of range.";
    if (!problem.empty())
        return RecordStep::invalid;
    r->database = pg::DatabaseIdentity{get_u32(head + kDatabaseAt), get_u32(head + kRowXminAt),
                                       get_u32(head + kExtensionAt)};
    r->relid = get_u32(head + kRelationAt);
    r->kind = static_cast<cf::RelationKind>(kind);
    r->requested_pages = get_u32(head + kRequestedAt);
    r->avg_request = average;
    r->pages.resize(count);
    for (uint32_t p = 0; p < count; ++p) {
        char bytes[6] = {};
        if (!in.take(bytes, page_bytes)) {
            problem = core::record_label(i) + " runs past the end of the payload.";
            return RecordStep::invalid;
        }
        uint32_t block = get_u32(bytes);
        auto avail = static_cast<uint32_t>(static_cast<unsigned char>(bytes[4]) |
                                           static_cast<unsigned char>(bytes[5]) << 8);
        if (block > MaxBlockNumber || avail > BLCKSZ) {
            problem = "A page of " + core::record_label(i) + " is out of range.";
            return RecordStep::invalid;
        }
        r->pages[p] = cf::PageEntry{block, static_cast<cf::Avail>(avail)};
    }
    return RecordStep::next;
}

// Reports a saved relation wholesale under its database's scope and restores its average
// request; returns report_for_key's result (pages kept, kReportNoRoom, or kReportSkipped when
// the start-up load finds that a client reported or forgot the relation since the start).
int64_t restore_relation(const SavedRelation &r, pg::ScopeId scope, ReportSource source)
{
    cf::PreparedPages pages = cf::PreparedPages::from_entries(r.pages);
    uint32_t request = std::max<uint32_t>(r.requested_pages, static_cast<uint32_t>(pages.size()));
    return report_for_key(FsmKey{scope, r.relid}, pages, KindRule{r.kind, true}, request, source, r.avg_request);
}

// The start-up load of the saved map (SavedFileHandler::load_at_startup): leaves alone what
// clients reported or forgot since the start; logs what it loaded. Returns false when
// stop_requested ended it.
bool load_at_startup(bool (*stop_requested)(), pg::LoadProgress *progress)
{
    MapLoadResult r = load_map(stop_requested, true, progress);
    if (!r.found)
        return true;
    if (r.stopped)
        return false;
    pg::guard([&] {
        ereport(LOG, (errmsg("simple_cache: loaded %llu relations from \"%s\"", static_cast<unsigned long long>(r.loaded),
                             kMapFileName),
                      errdetail("%llu saved relations did not fit, %llu were left to what clients did since the start.%s",
                                static_cast<unsigned long long>(r.no_room), static_cast<unsigned long long>(r.skipped),
                                r.attempts > 1 ? " The load resumed where an earlier attempt had stopped." : "")));
    });
    return true;
}

// What the persistence worker needs to load and save the map.
const pg::SavedFileHandler kHandler = {kMapFileName, "free-space map", "relations", "simple_cache_fsm_save()",
                                       "simple_cache_fsm_load()", load_at_startup, save_map};

pg::SavedFileId registered_id = -1;

}  // namespace

pg::SaveResult save_map()
{
    pg::FileWriter writer(kMapFormat);
    int64_t saved_at = pg::saved_at_now_ms();
    if (in_use()) {
        // Taken before the slots: a relation is saved under the identity its scope had then.
        std::vector<pg::ScopeEntry> live = pg::live_scopes();
        Shared &s = shared();
        SavedRelation r;
        for (const Slot &slot : copy_all_slots(s)) {
            pg::check_for_interrupts();
            const pg::DatabaseIdentity *database = pg::identity_in(live, slot.key.database);
            if (database == nullptr)
                continue;  // a retired scope's relation, about to be purged
            r.database = *database;
            if (read_relation(s, slot.key, &r))
                add_relation(writer, r);
        }
    }
    return writer.commit(saved_at);
}

MapLoadResult load_map(bool (*stop_requested)(), bool at_startup, pg::LoadProgress *progress)
{
    ReportSource source = at_startup ? ReportSource::startup_load : ReportSource::client;
    MapLoadResult out;
    pg::LoadProgress fresh;
    pg::LoadProgress &p = progress != nullptr ? *progress : fresh;
    SavedRelation r;
    pg::SavedScopes scopes;
    pg::FileLoad load = pg::load_file(
        kMapFormat,
        [&](PayloadReader &in, uint64_t i, std::string &problem) { return read_relation_record(in, i, problem, &r); },
        [&](PayloadReader &in, uint64_t i, std::string &problem) {
            RecordStep step = read_relation_record(in, i, problem, &r);
            if (step != RecordStep::next)
                return step;
            if (stop_requested != nullptr && stop_requested()) {
                out.stopped = true;
                return RecordStep::stop;
            }
            pg::check_for_interrupts();
            pg::ScopeId scope = scopes.scope_for(r.database);
            if (scope == pg::kNoScope) {
                ++p.orphaned;
                return RecordStep::next;
            }
            int64_t kept = restore_relation(r, scope, source);
            if (kept >= 0)
                ++p.loaded;
            else if (kept == kReportNoRoom)
                ++p.no_room;
            else
                ++p.skipped;
            return RecordStep::next;
        },
        p);
    static_cast<pg::LoadProgress &>(out) = p;
    out.found = load.found;
    if (load.found && !load.result.valid)
        throw pg::invalid_file_error(kMapFormat, load.result.problem + " The file changed while it was being loaded.",
                                     (std::to_string(p.loaded) + " relations were loaded before the defect.").c_str());
    return out;
}

void persistence_init()
{
    registered_id = pg::register_saved_file(kHandler);
}

pg::SavedFileId saved_file_id()
{
    return registered_id;
}

}  // namespace simple_cache::fsm
