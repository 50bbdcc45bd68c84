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

}  // namespace

void BlockReserve::create(dsa_area *area)
{
    for (int s = 0; s < kSizes; ++s) {
        for (int b = 0; b < kBlocksPerSize; ++b)
            blocks[s][b] = dsa_allocate(area, kSmallestBytes << s);
        handed_out[s].store(0, std::memory_order_relaxed);
    }
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
                std::memset(dsa_get_address(area, blocks[s][b]), 0, bytes);
                return blocks[s][b];
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
        if (blocks[s][b] == p) {
            handed_out[s].fetch_and(~(uint32_t{1} << b), std::memory_order_release);
            return true;
        }
    return false;
}

}  // namespace simple_cache::pg
