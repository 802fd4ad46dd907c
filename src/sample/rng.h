#pragma once
// The sampler's random numbers. A seed must give the same tokens with every compiler and standard
// library, so this avoids <random>: std::mt19937 itself is specified, but the distributions
// (uniform_real_distribution, discrete_distribution) are not, and they differ between libstdc++,
// libc++ and MSVC. Here the whole path from seed to a double in [0, 1) is written out.
//
// ref: https://prng.di.unimi.it/ (xoshiro256** and splitmix64, Blackman & Vigna, public domain)
#include <cstdint>

namespace infera {

// splitmix64: turns one 64-bit seed into a stream of well-mixed words. Used only to fill the
// xoshiro state, so that nearby seeds (0, 1, 2...) still give unrelated streams.
inline uint64_t splitmix64_next(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256**: 256 bits of state, period 2^256 - 1, fast, passes BigCrush.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed = 0) { this->seed(seed); }

  void seed(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& word : s_) word = splitmix64_next(&sm);
    // splitmix64 is a bijection of its counter, so four consecutive outputs cannot all be zero;
    // the all-zero state (the one xoshiro must avoid) is unreachable.
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits: every value is a multiple of 2^-53, exactly
  // representable, so the conversion is the same on every platform.
  double next_double() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
};

}  // namespace infera
