// Reading a decimal 64-bit integer the way PostgreSQL's bigint input reads one, so that a
// stored counter is accepted by simple_cache_incr exactly when `value::bigint` would accept it.
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>

namespace simple_cache::core {

// What parse_int64 found.
enum class ParsedInt { ok, bad_syntax, out_of_range };

// Whether c is whitespace to bigint input: isspace() of the byte (space, tab, newline, carriage
// return, vertical tab and form feed in the C locale and in UTF-8).
inline bool is_number_space(char c)
{
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Parses text[0, size) as optional whitespace, an optional sign, one or more decimal digits
// and optional whitespace, with nothing else (a zero byte is not whitespace). A number outside
// int64 is out_of_range as soon as its digits pass the bound, whatever follows, as in
// PostgreSQL. On ok, *out holds the value.
inline ParsedInt parse_int64(const char *text, size_t size, int64_t *out)
{
    size_t i = 0;
    while (i < size && is_number_space(text[i]))
        ++i;
    bool negative = i < size && text[i] == '-';
    if (i < size && (text[i] == '-' || text[i] == '+'))
        ++i;
    if (i == size || text[i] < '0' || text[i] > '9')
        return ParsedInt::bad_syntax;
    // Accumulated as a negative number, whose range reaches INT64_MIN.
    int64_t value = 0;
    for (; i < size && text[i] >= '0' && text[i] <= '9'; ++i) {
        if (__builtin_mul_overflow(value, 10, &value) || __builtin_sub_overflow(value, text[i] - '0', &value))
            return ParsedInt::out_of_range;
    }
    while (i < size && is_number_space(text[i]))
        ++i;
    if (i != size)
        return ParsedInt::bad_syntax;
    if (!negative) {
        if (value == INT64_MIN)
            return ParsedInt::out_of_range;
        value = -value;
    }
    *out = value;
    return ParsedInt::ok;
}

}  // namespace simple_cache::core
