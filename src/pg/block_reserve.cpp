// The reserve of small blocks for bucket arrays (see block_reserve.hpp).
#include "simple_cache/pg/block_reserve.hpp"

namespace simple_cache::pg {

namespace {

// The reserve's size index for a request of `bytes`, or -1 when it keeps no such blocks.
int size_index(size_t bytes)
{
    for (int s = 0; s < BlockReserve::kSizes; ++s)
        if (bytes == BlockReserve::kSmallestBytes << s)
            return s;
    return -1;
}

// Bytes of all blocks of the sizes below size index s.
size_t bytes_below(int s)
{
    size_t total = 0;
    for (int i = 0; i < s; ++i)
        total += (BlockReserve::kSmallestBytes << i) * BlockReserve::kBlocksPerSize;
    return total;
}

}  // namespace

dsa_pointer BlockReserve::block(int s, int b) const
{
    return base + bytes_below(s) + static_cast<size_t>(b) * (kSmallestBytes << s);
}

void BlockReserve::create(dsa_area *area)
{
    base = dsa_allocate(area, bytes_below(kSizes));
    for (int s = 0; s < kSizes; ++s)
        handed_out[s].store(0, std::memory_order_relaxed);
}

dsa_pointer BlockReserve::take(dsa_area *area, size_t bytes)
{
    int s = size_index(bytes);
    if (s < 0)
        return InvalidDsaPointer;
    uint32_t used = handed_out[s].load(std::memory_order_relaxed);
    for (int b = 0; b < kBlocksPerSize; ++b) {
        uint32_t bit = uint32_t{1} << b;
        while ((used & bit) == 0) {
            if (handed_out[s].compare_exchange_weak(used, used | bit, std::memory_order_acquire)) {
                dsa_pointer p = block(s, b);
                std::memset(dsa_get_address(area, p), 0, bytes);
                return p;
            }
        }
    }
    return InvalidDsaPointer;
}

bool BlockReserve::put_back(dsa_pointer p, size_t bytes)
{
    int s = size_index(bytes);
    if (s < 0)
        return false;
    for (int b = 0; b < kBlocksPerSize; ++b)
        if (block(s, b) == p) {
            handed_out[s].fetch_and(~(uint32_t{1} << b), std::memory_order_release);
            return true;
        }
    return false;
}

}  // namespace simple_cache::pg
