// Size groups of small allocations, shaped like the size classes of PostgreSQL's DSA allocator:
// it serves requests of up to 8 kB from 64 kB superblocks, each holding objects of one size
// class, and takes whole 4 kB pages for larger ones. Counting the groups a program has used
// estimates how many superblocks the allocator keeps for it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace simple_cache::core {

inline constexpr size_t kLargestSmallObject = 8192;
inline constexpr size_t kSuperblockBytes = 64 * 1024;
inline constexpr size_t kAreaPageBytes = 4096;
inline constexpr unsigned kSmallSizeGroups = 36;

// Which group a small request (1 to kLargestSmallObject bytes) falls in: eight groups of
// 8 bytes up to 64, then four per doubling (64-80, 80-96, 96-112, 112-128, 128-160, ...) up to
// 8 kB, which is group 35.
inline unsigned small_size_group(size_t bytes)
{
    if (bytes <= 64)
        return bytes == 0 ? 0 : static_cast<unsigned>((bytes - 1) / 8);
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
