// Which relation the map forgets when it tracks as many relations as it may.
//
// Relations are kept in an order in which each database's relations are contiguous (a run, as
// in database_targets.hpp). Room is made in one of two ways:
//   fair          (the map is full) The relation goes from the database that tracks the most
//                 relations, counting the new relation with its database. When several track
//                 equally many, from any of them. So a database never loses a relation to a
//                 database that tracks fewer: one that tracks no more than limit / databases
//                 keeps all of its relations, however many the others try to add.
//   own_database  (a database reached its own limit) The relation goes from that database.
// Among the candidates, the least recently used relation goes, by CLOCK: a hand that persists
// between calls visits the candidates in order; a relation used since the hand last passed it
// (its referenced bit set) is spared once, and its bit cleared; the first one not used goes.
// Non-candidates are passed over without touching their bits. When the bits keep being set
// behind the hand, the third pass takes the next candidate whatever its bit says, so a
// relation is always found while there is a candidate.
//
// O(relations) per call, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/core/fsm/database_targets.hpp"

namespace simple_cache::core::fsm {

// Whose relations may make room (see above).
enum class EvictionScope { fair, own_database };

// The number of relations of `database` if it adds one more (`newcomer`), else its number.
constexpr size_t counted_relations(size_t run_length, DatabaseId database, DatabaseId newcomer)
{
    return run_length + (newcomer != kNoDatabase && database == newcomer ? 1 : 0);
}

// The most relations any database tracks, counting the newcomer's new relation (a newcomer
// without relations counts 1).
template <class DatabaseAt>
size_t most_relations(size_t n, DatabaseAt &&database_at, DatabaseId newcomer)
{
    size_t most = newcomer != kNoDatabase ? 1 : 0;
    for (size_t begin = 0; begin < n;) {
        size_t end = run_end(n, begin, database_at);
        size_t count = counted_relations(end - begin, database_at(begin), newcomer);
        most = count > most ? count : most;
        begin = end;
    }
    return most;
}

// The number of relations database tracks (its run's length).
template <class DatabaseAt>
size_t relations_of(size_t n, DatabaseAt &&database_at, DatabaseId database)
{
    size_t count = 0;
    for (size_t i = 0; i < n; ++i)
        count += database_at(i) == database ? 1 : 0;
    return count;
}

// Chooses the relation to forget so that `newcomer` (kNoDatabase: nobody, the limit was
// lowered) can add one, and returns its position, or n when there is no candidate (no
// relations; own_database and the newcomer has none). database_at(i) is relation i's database
// (equal databases contiguous); test_and_clear(i) returns whether relation i was used since
// the hand last passed it, and clears that. *hand is left just past the chosen relation: when
// the caller removes it, positions after it move down by one, and so should the hand.
template <class DatabaseAt, class TestAndClear>
size_t choose_eviction(size_t n, DatabaseAt &&database_at, DatabaseId newcomer, EvictionScope scope, size_t *hand,
                       TestAndClear &&test_and_clear)
{
    if (n == 0 || (scope == EvictionScope::own_database && newcomer == kNoDatabase))
        return n;
    size_t most = scope == EvictionScope::fair ? most_relations(n, database_at, newcomer) : 0;
    auto candidate = [&](size_t begin, size_t end) {
        DatabaseId database = database_at(begin);
        if (scope == EvictionScope::own_database)
            return database == newcomer;
        return counted_relations(end - begin, database, newcomer) == most;
    };
    size_t at = *hand % n;
    size_t begin = at;
    while (begin > 0 && database_at(begin - 1) == database_at(at))
        --begin;
    size_t end = run_end(n, at, database_at);
    // Two passes clear every candidate's bit; the third takes the first candidate it meets.
    for (size_t passed = 0; passed < 3 * n;) {
        if (candidate(begin, end)) {
            for (; at < end; ++at, ++passed) {
                if (passed >= 2 * n || !test_and_clear(at)) {
                    *hand = at + 1 < n ? at + 1 : 0;
                    return at;
                }
            }
        } else {
            passed += end - at;
        }
        at = end < n ? end : 0;
        begin = at;
        end = run_end(n, at, database_at);
    }
    return n;  // no candidate at all
}

}  // namespace simple_cache::core::fsm
