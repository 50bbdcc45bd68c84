// Size groups of small allocations, following the size classes of PostgreSQL's DSA allocator:
// it serves requests of up to 8 kB from 64 kB superblocks, each holding objects of one size
// class, and takes whole 4 kB pages for larger ones. Counting the groups a program has used
// tells how many superblocks the allocator keeps for it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace simple_cache::core {

inline constexpr size_t kLargestSmallObject = 8192;
inline constexpr size_t kSuperblockBytes = 64 * 1024;
inline constexpr size_t kAreaPageBytes = 4096;
inline constexpr unsigned kSmallSizeGroups = 36;

// The largest request of each group above 1 kB. The allocator sizes its classes there from
// the superblock: it takes the number of objects of the nominal size (four per doubling:
// 1280, 1536, 1792, 2048, 2560, ...) that fit in one, then raises the size to the largest
// multiple of 8 bytes that still fits that many.
struct LargeGroupMaxima {
    size_t bytes[12];
};

constexpr LargeGroupMaxima large_group_maxima()
{
    LargeGroupMaxima m{};
    for (unsigned i = 0; i < 12; ++i) {
        size_t octave_start = size_t{1024} << (i / 4);
        size_t nominal = octave_start + octave_start / 4 * (i % 4 + 1);
        size_t objects = kSuperblockBytes / nominal;
        m.bytes[i] = kSuperblockBytes / objects / 8 * 8;
    }
    return m;
}

inline constexpr LargeGroupMaxima kLargeGroupMaxima = large_group_maxima();

// Which group a small request (1 to kLargestSmallObject bytes) falls in: eight groups of
// 8 bytes up to 64, then four per doubling (64-80, 80-96, 96-112, 112-128, 128-160, ...) up to
// 1 kB (group 23), then the twelve groups above (kLargeGroupMaxima) up to 8 kB (group 35).
inline unsigned small_size_group(size_t bytes)
{
    if (bytes <= 64)
        return bytes == 0 ? 0 : static_cast<unsigned>((bytes - 1) / 8);
    if (bytes > 1024) {
        unsigned i = 0;
        while (i < 11 && bytes > kLargeGroupMaxima.bytes[i])
            ++i;
        return 24 + i;
    }
    unsigned octave = 63 - static_cast<unsigned>(__builtin_clzll(bytes - 1));  // 2^octave < bytes
    size_t quarter = (size_t{1} << octave) / 4;
    unsigned step = static_cast<unsigned>((bytes - 1 - (size_t{1} << octave)) / quarter);
    return 8 + (octave - 6) * 4 + step;
}

// The bytes a request takes from the area's pages when it is large: whole pages.
inline size_t whole_pages(size_t bytes)
{
    return (bytes + kAreaPageBytes - 1) / kAreaPageBytes * kAreaPageBytes;
}

}  // namespace simple_cache::core
