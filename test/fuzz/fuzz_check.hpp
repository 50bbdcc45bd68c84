// The fuzz targets' oracle check: a failed condition prints its line and aborts, which
// libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "fuzz check failed at line %d: %s\n", __LINE__, #cond);     \
            std::abort();                                                                    \
        }                                                                                    \
    } while (0)
