// The area's DSM segments (see segments.hpp).
#include "simple_cache/pg/segments.hpp"

#include <cstdlib>

namespace simple_cache::pg {

namespace {

// The unsigned number that follows `label` in line, if line contains label.
bool number_after(const std::string &line, const char *label, uint64_t *value)
{
    size_t at = line.find(label);
    if (at == std::string::npos)
        return false;
    const char *start = line.c_str() + at + std::strlen(label);
    char *end = nullptr;
    unsigned long long n = std::strtoull(start, &end, 10);
    if (end == start)
        return false;
    *value = n;
    return true;
}

// Reads one "segment index I, usable_pages = U, contiguous_pages = C, ..." line.
void read_segment_line(const std::string &line, AreaSegments &out)
{
    uint64_t index, usable, contiguous;
    if (!number_after(line, "segment index ", &index) || !number_after(line, "usable_pages = ", &usable) ||
        !number_after(line, "contiguous_pages = ", &contiguous))
        return;
    ++out.count;
    if (index != 0 && usable != 0 && contiguous == usable)
        ++out.wholly_free;
}

}  // namespace

AreaSegments read_area_segments(const std::string &dump)
{
    AreaSegments out;
    bool have_total = false, have_max = false;
    size_t begin = 0;
    while (begin < dump.size()) {
        size_t end = dump.find('\n', begin);
        if (end == std::string::npos)
            end = dump.size();
        std::string line = dump.substr(begin, end - begin);
        begin = end + 1;
        if (line.find("pools:") != std::string::npos)
            break;  // the segment list comes before the pools
        if (number_after(line, "max_total_segment_size: ", &out.max_bytes))
            have_max = true;
        else if (number_after(line, "total_segment_size: ", &out.total_bytes))
            have_total = true;
        else
            read_segment_line(line, out);
    }
    out.parsed = have_total && have_max;
    return out;
}

}  // namespace simple_cache::pg
