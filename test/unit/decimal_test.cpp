// Unit tests of the bigint reader (include/simple_cache/core/decimal.hpp): the whitespace
// PostgreSQL's bigint input allows on both sides, signs, the ends of the range, and what is
// refused (nothing but whitespace, a space after the sign, inner spaces, a zero byte, other
// characters, numbers beyond the range even with trailing garbage).
#include <gtest/gtest.h>

#include <string>

#include "simple_cache/core/decimal.hpp"

namespace {

using namespace simple_cache::core;

// Parses s; returns the verdict and stores the value in *value on success.
ParsedInt parse(const std::string &s, int64_t *value = nullptr)
{
    int64_t ignored = 0;
    return parse_int64(s.data(), s.size(), value != nullptr ? value : &ignored);
}

TEST(Decimal, PlainNumbersAndSigns)
{
    int64_t v = 0;
    EXPECT_EQ(parse("42", &v), ParsedInt::ok);
    EXPECT_EQ(v, 42);
    EXPECT_EQ(parse("+5", &v), ParsedInt::ok);
    EXPECT_EQ(v, 5);
    EXPECT_EQ(parse("-7", &v), ParsedInt::ok);
    EXPECT_EQ(v, -7);
    EXPECT_EQ(parse("007", &v), ParsedInt::ok);
    EXPECT_EQ(v, 7);
}

TEST(Decimal, WhitespaceOnBothSides)
{
    for (char space : std::string(" \t\n\r\v\f")) {
        int64_t v = 0;
        std::string s = std::string(1, space) + "-12" + std::string(1, space);
        EXPECT_EQ(parse(s, &v), ParsedInt::ok) << static_cast<int>(space);
        EXPECT_EQ(v, -12);
    }
    int64_t v = 0;
    EXPECT_EQ(parse(" \t\n\r\v\f99 \t\n\r\v\f", &v), ParsedInt::ok);
    EXPECT_EQ(v, 99);
}

TEST(Decimal, EndsOfTheRange)
{
    int64_t v = 0;
    EXPECT_EQ(parse("9223372036854775807\n", &v), ParsedInt::ok);
    EXPECT_EQ(v, INT64_MAX);
    EXPECT_EQ(parse("-9223372036854775808", &v), ParsedInt::ok);
    EXPECT_EQ(v, INT64_MIN);
    EXPECT_EQ(parse("9223372036854775808"), ParsedInt::out_of_range);
    EXPECT_EQ(parse("-9223372036854775809"), ParsedInt::out_of_range);
    EXPECT_EQ(parse("99999999999999999999x"), ParsedInt::out_of_range);
}

TEST(Decimal, RefusedShapes)
{
    for (const char *s : {"", " ", "\n", "+", "-", "- 7", "+ 7", "7 7", "7x", "x7", "0x10", "1.5", "1e3", "--7", "7-"})
        EXPECT_EQ(parse(s), ParsedInt::bad_syntax) << '"' << s << '"';
    EXPECT_EQ(parse(std::string("7\0", 2)), ParsedInt::bad_syntax);
    EXPECT_EQ(parse(std::string("\0" "7", 2)), ParsedInt::bad_syntax);
    EXPECT_EQ(parse("7\xc2\xa0"), ParsedInt::bad_syntax);  // a no-break space is not whitespace here
}

TEST(Decimal, ReadsOnlyTheGivenBytes)
{
    const char text[] = "123 456";
    int64_t v = 0;
    EXPECT_EQ(parse_int64(text, 3, &v), ParsedInt::ok);
    EXPECT_EQ(v, 123);
    EXPECT_EQ(parse_int64(text, 0, &v), ParsedInt::bad_syntax);
}

}  // namespace
