// Wholesale reports: replacing a relation's pages by a new list, as record_many and vacuum do.
#pragma once

#include <cstdint>

#include "simple_cache/core/fsm/prepared_pages.hpp"
#include "simple_cache/fsm/directory.hpp"
#include "simple_cache/fsm/relation_info.hpp"
#include "simple_cache/fsm/shared.hpp"

namespace simple_cache::fsm {

// Replaces relid's pages by a prepared report, trimmed to the relation's target (fsm.hpp's
// record_many guide: targets recomputed, room reclaimed from relations over their targets).
// A new relation gets rule.kind; an existing one of another kind is reset to it only when the
// rule is authoritative. The session's own per-database limits apply (database_limits.hpp). Returns the pages kept; 53200 (naming function) and nothing changed
// when shared memory ran out.
// request: the relation's request in pages; 0 means pages.size() (a report that lists every
// page it found).
uint32_t record_report(const char *function, Oid relid, const core::fsm::PreparedPages &pages, KindRule rule,
                       uint32_t request = 0);

// Who makes a report: a client, or the start-up load restoring a saved relation.
enum class ReportSource { client, startup_load };

// What report_for_key returns besides the pages kept.
inline constexpr int64_t kReportNoRoom = -1;       // shared memory ran out; nothing changed
inline constexpr int64_t kReportSkipped = -2;      // start-up load: a client got there first

// record_report() for a relation of any database (key), with the relation's request given
// (at least pages.size()) and, when restoring a saved relation, its average request size
// (0: keep the current one). Returns the pages kept, or kReportNoRoom; never looks the
// relation up in the catalogs. A client's report marks the key while the start-up load is
// pending (pg/startup_load.hpp); the load's own report of a marked key is skipped
// (kReportSkipped). limits are put in force for key's database first: pass its own
// session's (record_report does), or none to leave its limits as they are.
int64_t report_for_key(const FsmKey &key, const core::fsm::PreparedPages &pages, KindRule rule, uint32_t request,
                       ReportSource source = ReportSource::client, uint32_t saved_average = 0,
                       const DatabaseLimits &limits = DatabaseLimits{});

}  // namespace simple_cache::fsm
