// Wholesale reports: replacing a relation's pages by a new list, as record_many and vacuum do.
#pragma once

#include <cstdint>

#include "simple_cache/core/fsm/prepared_pages.hpp"
#include "simple_cache/fsm/relation_info.hpp"
#include "simple_cache/fsm/shared.hpp"

namespace simple_cache::fsm {

// Replaces relid's pages by a prepared report, trimmed to the relation's target (fsm.hpp's
// record_many guide: targets recomputed, room reclaimed from relations over their targets).
// A new relation gets rule.kind; an existing one of another kind is reset to it only when the
// rule is authoritative. Returns the pages kept; 53200 (naming function) and nothing changed
// when shared memory ran out.
uint32_t record_report(const char *function, Oid relid, const core::fsm::PreparedPages &pages, KindRule rule);

// record_report() for a relation of any database (key), with the relation's request given
// (at least pages.size()). Returns the pages kept, or -1 when shared memory ran out (nothing
// changed then); never looks the relation up in the catalogs.
int64_t report_for_key(const FsmKey &key, const core::fsm::PreparedPages &pages, KindRule rule, uint32_t request);

}  // namespace simple_cache::fsm
