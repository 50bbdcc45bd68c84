// Small blocks made together with the area, kept for the hash tables' small bucket arrays.
//
// A hash table's bucket array is replaced whenever the table grows or shrinks. Arrays of up to
// 8 kB are small objects for dsa.c: a new one goes into a superblock of its size class, and
// when that class has none with room, into a fresh superblock wherever a run of free pages is
// at that moment, often a large segment full of values, with its span descriptor in whatever
// descriptor block is current. A long-lived array there keeps that segment for good, though
// everything around it is freed. The reserve holds one block each of 1, 2, 4 and 8 kB (the
// cache's table is the only hash table in the area, and a resize's old and new arrays differ in
// size), cut from one 15 kB allocation made right after the area's control block, so in its
// first segment and in no superblock; zeroed allocations of exactly those sizes (only bucket
// arrays ask for them) take a reserved block while one is free, and freeing it puts it back.
// Accounting is unchanged: a reserved block counts as allocated only while handed out.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

struct BlockReserve {
    static constexpr int kSizes = 4;           // 1, 2, 4 and 8 kB
    static constexpr int kBlocksPerSize = 1;   // the cache's table: one array of a size at a time
    static constexpr size_t kSmallestBytes = 1024;

    dsa_pointer base;                          // one allocation holding every block
    std::atomic<uint32_t> handed_out[kSizes];  // bit b: block b of the size is in use

    // Makes the blocks; plain PostgreSQL code (may raise an ERROR), run once at area creation.
    void create(dsa_area *area);

    // A free reserved block of exactly `bytes`, zeroed and marked in use; invalid if none.
    dsa_pointer take(dsa_area *area, size_t bytes);

    // Marks p free again if it is a reserved block; false if it is not one.
    bool put_back(dsa_pointer p, size_t bytes);

  private:
    // Where block b of size index s lies.
    dsa_pointer block(int s, int b) const;
};

}  // namespace simple_cache::pg
