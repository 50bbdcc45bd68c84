// Placeholder: proves that the unit-test build (GoogleTest, sanitizers, no PostgreSQL
// include path) works. Replace with real tests of include/simple_cache/core/.
#include <gtest/gtest.h>

#include <string>
#include <thread>

TEST(Smoke, BuildWorks)
{
    std::string s = "simple_cache";
    EXPECT_EQ(s.size(), 12u);
}

TEST(Smoke, ThreadsWork)
{
    int value = 0;
    std::thread t([&value] { value = 42; });
    t.join();
    EXPECT_EQ(value, 42);
}
