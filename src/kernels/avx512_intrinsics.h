#pragma once
// <immintrin.h> for the AVX-512 kernel files, with a GCC 12 false positive silenced for the rest of
// the file: its _mm512_undefined_*() initialise a variable with itself, which -Wall reports as
// "used" or "may be used uninitialized" wherever an intrinsic built on them is inlined.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
