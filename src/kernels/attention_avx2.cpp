// AVX2 (+FMA, F16C) kernel of attention.h: the tiling of attention_avx512.cpp on 8 lanes, with
// tiles of 8 keys, for head dims that are multiples of 8 (attention() sends other shapes to the
// reference). As there, up to kAttentionTokenGroup consecutive tokens of a prefill share each K
// and V tile's conversion. The softmax, unlike there, is taken as the reference takes it (every
// score, their max, then the exponentials and their sum) rather than online: see
// attend_tokens_avx2.
//
// Compiled for the baseline target; only these functions use AVX2, and attention() calls them
// only where cpu_features.h says the CPU and the OS have it.
#include "kernels/attention.h"
#include "kernels/row_stream_prefetch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#define INFERA_AVX2 __attribute__((target("avx2,fma,f16c")))
#define INFERA_AVX2_LAMBDA __attribute__((target("avx2,fma,f16c"), always_inline))

namespace infera::attention_detail {
namespace {

constexpr int64_t kTile = 8;  // keys per tile: one score per lane
// Keys ahead of a pass whose cache rows it requests (KeyTiles). Llama-1B Q4_0 tg32 at depth 2048,
// best of 3: 22.6–23.1 t/s with none, 24–27 with 32, 64, 128 or 256 keys (alike within noise).
constexpr int64_t kPrefetchKeys = 64;

INFERA_AVX2 inline __m256 load_halves(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

INFERA_AVX2 inline __m256 round_fp16(__m256 x) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

INFERA_AVX2 inline float max_lanes(__m256 x) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

INFERA_AVX2 inline float sum_lanes(__m256 x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// e^x for x <= 0 (−inf included, giving 0), within 2 ulp: as exp_nonpositive in
// attention_avx512.cpp, 2^n built in the exponent field (n >= −126 after the clamp, so normal).
// ref: Cephes expf.c (S. Moshier)
INFERA_AVX2 inline __m256 exp_nonpositive(__m256 x) {
  const __m256 live = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(live, _mm256_mul_ps(y, _mm256_castsi256_ps(bits)));
}

// Lane j = the sum of the 8 lanes of a[j].
INFERA_AVX2 inline __m256 sum_lanes8(const __m256* a) {
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// acc[g] (dv wide) += Σ_j w[g][j] · V_j for G heads at once, V_j's chunk c from v_at(j, c): the
// cache's fp16 rows, or the tile's rows converted to f32 once for the tokens of a call (the same
// values and FMAs, so the same bits). Each head's chunks stay in registers across the keys,
// kChunks of them at a time so that G · kChunks chains of FMAs overlap (one chunk of four heads
// left the FMA latency bare: four chains for an FMA's 4 cycles on 2 ports). Every element still
// takes its FMAs key by key in order.
template <int G, typename VAt>
INFERA_AVX2 inline void accumulate_v(const VAt& v_at, int64_t n, const float* w, int64_t dv,
                                     float* acc) {
  constexpr int kChunks = G <= 2 ? 4 : 2;
  if (dv % (8 * kChunks) == 0) {
    for (int64_t c = 0; c < dv; c += 8 * kChunks) {
      __m256 o[G][kChunks];
      for (int g = 0; g < G; ++g)
        for (int u = 0; u < kChunks; ++u) o[g][u] = _mm256_loadu_ps(acc + g * dv + c + 8 * u);
      for (int64_t j = 0; j < n; ++j) {
        __m256 v[kChunks];
        for (int u = 0; u < kChunks; ++u) v[u] = v_at(j, c + 8 * u);
        for (int g = 0; g < G; ++g) {
          const __m256 wj = _mm256_set1_ps(w[g * kTile + j]);
          for (int u = 0; u < kChunks; ++u) o[g][u] = _mm256_fmadd_ps(wj, v[u], o[g][u]);
        }
      }
      for (int g = 0; g < G; ++g)
        for (int u = 0; u < kChunks; ++u) _mm256_storeu_ps(acc + g * dv + c + 8 * u, o[g][u]);
    }
    return;
  }
  for (int64_t c = 0; c < dv; c += 8) {
    __m256 o[G];
    for (int g = 0; g < G; ++g) o[g] = _mm256_loadu_ps(acc + g * dv + c);
    for (int64_t j = 0; j < n; ++j) {
      const __m256 v = v_at(j, c);
      for (int g = 0; g < G; ++g) o[g] = _mm256_fmadd_ps(_mm256_set1_ps(w[g * kTile + j]), v, o[g]);
    }
    for (int g = 0; g < G; ++g) _mm256_storeu_ps(acc + g * dv + c, o[g]);
  }
}

// accumulate_v for `heads` (1 … 4) heads.
template <typename VAt>
INFERA_AVX2 inline void accumulate_v_heads(int64_t heads, const VAt& v_at, int64_t n,
                                           const float* w, int64_t dv, float* acc) {
  switch (heads) {
    case 1:
      return accumulate_v<1>(v_at, n, w, dv, acc);
    case 2:
      return accumulate_v<2>(v_at, n, w, dv, acc);
    case 3:
      return accumulate_v<3>(v_at, n, w, dv, acc);
    default:
      return accumulate_v<4>(v_at, n, w, dv, acc);
  }
}

}  // namespace

// Scratch of one token of a call (TokenScratch).
int64_t token_floats_avx2(const AttentionShape& s) {
  return TokenScratch::floats(s.n_head / s.n_head_kv, s.head_dim_k, s.head_dim_v, kTile);
}

int64_t scratch_floats_avx2(const AttentionShape& s) {
  // Per token, then the tile's K and V rows as f32, shared by the tokens.
  return kAttentionTokenGroup * token_floats_avx2(s) + kTile * (s.head_dim_k + s.head_dim_v);
}

namespace {

// The keys of one token, a tile at a time: the cache rows of its positions (walking the block
// table instead of dividing per key) and the tile's K rows converted to f32, zero beyond n.
struct KeyTiles {
  const AttentionJob& job;
  const PagedKv& kv;
  int64_t dk, dv, k_stride, v_stride;
  const uint16_t* kbase;
  const uint16_t* vbase;
  KeyRowCursor rows{job, kv.block_size};
  const uint16_t* vrow[kTile] = {};
  const uint16_t* krow[kTile] = {};
  // The rows kPrefetchKeys keys ahead of `rows` (up to key `last`), whose K (or V) part a pass
  // requests as it steps: a KV row apart, one head group's parts are too sparse for the hardware
  // prefetchers, and in decode the cache comes from memory (the weights between two layers
  // stream through the last-level cache).
  KeyRowCursor ahead{job, kv.block_size};
  int64_t ahead_key = 0, last = 0;
  const uint16_t* ahead_base = nullptr;
  int64_t ahead_stride = 0, ahead_bytes = 0;

  // The part of the rows a pass reads.
  enum class Part { kK, kV };

  // Back to the first key, requesting from now on the rows' `part` ahead.
  void restart(Part part, int64_t last_key) {
    const bool k_part = part == Part::kK;
    rows = KeyRowCursor(job, kv.block_size);
    ahead = rows;
    ahead_key = job.first;
    last = last_key;
    ahead_base = k_part ? kbase : vbase;
    ahead_stride = k_part ? k_stride : v_stride;
    ahead_bytes = static_cast<int64_t>(sizeof(uint16_t)) * (k_part ? dk : dv);
    request_ahead(kPrefetchKeys);
  }

  // Requests the parts of the next n rows of `ahead`.
  void request_ahead(int64_t n) {
    for (int64_t j = 0; j < n && ahead_key <= last; ++j, ++ahead_key) {
      const auto part = reinterpret_cast<uintptr_t>(ahead_base + ahead.next() * ahead_stride);
      for (uintptr_t line = part & ~uintptr_t{63}; line < part + ahead_bytes; line += 64)
        prefetch_line(line);
    }
  }

  // Steps to the next n keys' cache rows.
  void next(int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t row = rows.next();
      krow[j] = kbase + row * k_stride;
      vrow[j] = vbase + row * v_stride;
    }
    request_ahead(n);
  }

  // The V rows of the last n keys as f32.
  INFERA_AVX2 void load_v(int64_t n, int64_t dv, float* vf) const {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t c = 0; c < dv; c += 8)
        _mm256_storeu_ps(vf + j * dv + c, load_halves(vrow[j] + c));
  }

  // Steps to the next n keys and converts their K rows.
  INFERA_AVX2 void load(int64_t n, float* kf) {
    next(n);
    for (int64_t j = 0; j < kTile; ++j) {
      for (int64_t c = 0; c < dk; c += 8) {
        const __m256 k = j < n ? load_halves(krow[j] + c) : _mm256_setzero_ps();
        _mm256_storeu_ps(kf + j * dk + c, k);
      }
    }
  }
};

// scale · (the sum of dots[j]'s lanes) in lane j for the tile's n keys, −inf in the lanes past
// them.
INFERA_AVX2 inline __m256 tile_of_sums(const __m256* dots, __m256 scale, int64_t n) {
  const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
      _mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
  return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_mul_ps(sum_lanes8(dots), scale), valid);
}

// scale · q·k_j in lane j for the tile's n keys, −inf in the lanes past them.
INFERA_AVX2 inline __m256 tile_scores(const float* qg, const float* kf, int64_t dk, __m256 scale,
                                      int64_t n) {
  __m256 dots[kTile];
  for (int j = 0; j < kTile; ++j) dots[j] = _mm256_setzero_ps();
  for (int64_t c = 0; c < dk; c += 8) {
    const __m256 qc = _mm256_loadu_ps(qg + c);
    for (int j = 0; j < kTile; ++j) {
      dots[j] = _mm256_fmadd_ps(qc, _mm256_loadu_ps(kf + j * dk + c), dots[j]);
    }
  }
  return tile_of_sums(dots, scale, n);
}

// Keys tile_scores_f16 takes at a time for G heads: G · keys sums and the key vector in the 16
// registers (four heads by four keys spilled two of the sums, whose FMA chains then went through
// memory).
template <int G>
constexpr int kScoreKeys = G == 4 ? 3 : 4;

// Keys [first, first + kKeys) of a tile for G heads: their sums of q · k into dots[g][j].
template <int G, int kKeys>
INFERA_AVX2 inline void score_keys(int first, const float* qs, const uint16_t* const* krow,
                                   int64_t dk, int64_t n, __m256 (*dots)[kTile]) {
  __m256 acc[G][kKeys];
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < kKeys; ++j) acc[g][j] = _mm256_setzero_ps();
  auto key = [&](int j, int64_t c) INFERA_AVX2_LAMBDA {
    const __m256 k = load_halves(krow[first + j] + c);
    for (int g = 0; g < G; ++g)
      acc[g][j] = _mm256_fmadd_ps(_mm256_loadu_ps(qs + g * dk + c), k, acc[g][j]);
  };
  if (first + kKeys <= n) {
    // Whole: no test per key and chunk.
    for (int64_t c = 0; c < dk; c += 8)
      for (int j = 0; j < kKeys; ++j) key(j, c);
  } else {
    for (int64_t c = 0; c < dk; c += 8)
      for (int j = 0; j < kKeys && first + j < n; ++j) key(j, c);
  }
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < kKeys; ++j) dots[g][first + j] = acc[g][j];
}

// tile_scores for G heads of one KV group straight from the cache's fp16 K rows, each converted
// once for all G (the same conversions and FMAs as tile_scores, so the same bits): for a single
// token, converting the tile into kf first cost as much as the scores. A few keys at a time, so
// that their sums stay in registers, q read by the FMAs from L1.
template <int G>
INFERA_AVX2 inline void tile_scores_f16(const float* qs, const uint16_t* const* krow, int64_t dk,
                                        __m256 scale, int64_t n, __m256* scores) {
  __m256 dots[G][kTile];
  static_assert(kTile == 8);
  if constexpr (kScoreKeys<G> == 3) {
    score_keys<G, 3>(0, qs, krow, dk, n, dots);
    score_keys<G, 3>(3, qs, krow, dk, n, dots);
    score_keys<G, 2>(6, qs, krow, dk, n, dots);
  } else {
    for (int first = 0; first < kTile; first += 4) score_keys<G, 4>(first, qs, krow, dk, n, dots);
  }
  for (int g = 0; g < G; ++g) scores[g] = tile_of_sums(dots[g], scale, n);
}

// tile_scores_f16 for `heads` (1 … 4) heads.
INFERA_AVX2 inline void tile_scores_f16_heads(int64_t heads, const float* qs,
                                              const uint16_t* const* krow, int64_t dk, __m256 scale,
                                              int64_t n, __m256* scores) {
  switch (heads) {
    case 1:
      return tile_scores_f16<1>(qs, krow, dk, scale, n, scores);
    case 2:
      return tile_scores_f16<2>(qs, krow, dk, scale, n, scores);
    case 3:
      return tile_scores_f16<3>(qs, krow, dk, scale, n, scores);
    default:
      return tile_scores_f16<4>(qs, krow, dk, scale, n, scores);
  }
}

}  // namespace

INFERA_AVX2 void attend_tokens_avx2(const AttentionJob* jobs, int64_t n_jobs, const PagedKv& kv,
                                    const AttentionShape& s, float* scratch) {
  const AttentionJob& job = jobs[0];  // the keys, heads and first position every job shares
  const int64_t group = s.n_head / s.n_head_kv;
  const int64_t kv_h = job.h_begin / group;
  const int64_t nh = job.h_end - job.h_begin;
  const int64_t dk = s.head_dim_k;
  const int64_t dv = s.head_dim_v;
  float* kf = scratch + kAttentionTokenGroup * token_floats_avx2(s);  // (kTile, dk)
  float* vf = kf + kTile * dk;                                        // (kTile, dv)
  int64_t last = job.last;
  for (int64_t u = 0; u < n_jobs; ++u) last = std::max(last, jobs[u].last);
  auto token = [&](int64_t u) {
    return TokenScratch(scratch + u * token_floats_avx2(s), group, dk, dv, kTile);
  };
  // One token (decode): its heads' scores come straight from the cache's fp16 K rows and V from
  // fp16 too, with no conversion to share with other tokens. Up to 4 heads at a time.
  const bool direct = n_jobs == 1 && nh <= 4;

  // ts.w holds each head's running max of the scores, lane by lane, until the sums need it.
  for (int64_t u = 0; u < n_jobs; ++u) {
    const TokenScratch ts = token(u);
    for (int64_t g = 0; g < nh; ++g) {
      const float* qh = jobs[u].q + (job.h_begin + g) * dk;
      for (int64_t c = 0; c < dk; c += 8)
        _mm256_storeu_ps(ts.qs + g * dk + c, round_fp16(_mm256_loadu_ps(qh + c)));
      for (int64_t c = 0; c < dv; c += 8)
        _mm256_storeu_ps(ts.acc + g * dv + c, _mm256_setzero_ps());
      _mm256_storeu_ps(ts.w + g * kTile, _mm256_set1_ps(-INFINITY));
    }
  }

  KeyTiles keys{
      job, kv, dk, dv, s.n_head_kv * dk, s.n_head_kv * dv, kv.k + kv_h * dk, kv.v + kv_h * dv};
  const __m256 scale = _mm256_set1_ps(s.scale);
  // In direct mode the tile's scores of every head, taken when `keys` steps to the tile.
  __m256 direct_scores[4];
  auto scores_of = [&](const TokenScratch& ts, int64_t g, int64_t n) INFERA_AVX2_LAMBDA {
    return direct ? direct_scores[g] : tile_scores(ts.qs + g * dk, kf, dk, scale, n);
  };
  // e^(score − max) of a tile past the score store, scored again (once ts.m holds the max).
  auto rescored_exp = [&](const TokenScratch& ts, int64_t g, int64_t n) INFERA_AVX2_LAMBDA {
    return exp_nonpositive(_mm256_sub_ps(scores_of(ts, g, n), _mm256_set1_ps(ts.m[g])));
  };

  // The scores of every token and head of the first `stored` tiles, kept from pass 1 (and from
  // then on their exponentials) for pass 2.
  const int64_t n_tiles = (last - job.first) / kTile + 1;
  const int64_t stored = stored_score_tiles(n_tiles, n_jobs * nh * kTile);
  thread_local std::vector<float> score_store;
  score_store.resize(static_cast<size_t>(n_jobs * nh * stored * kTile));
  auto tile_index = [&](int64_t p0) { return (p0 - job.first) / kTile; };
  auto tile_of = [&](int64_t u, int64_t g, int64_t p0) {
    return score_store.data() + ((u * nh + g) * stored + tile_index(p0)) * kTile;
  };
  // Steps `keys` to the tile at p0 (n_tile keys) with its K rows as the scores read them.
  auto to_tile = [&](int64_t n_tile) INFERA_AVX2_LAMBDA {
    if (direct) {
      keys.next(n_tile);
      tile_scores_f16_heads(nh, token(0).qs, keys.krow, dk, scale, n_tile, direct_scores);
    } else {
      keys.load(n_tile, kf);
    }
  };
  // fn(u, ts, n) for every token that sees the tile at p0, n of its keys.
  auto for_tokens_of = [&](int64_t p0, const auto& fn) INFERA_AVX2_LAMBDA {
    for (int64_t u = 0; u < n_jobs; ++u) {
      if (p0 > jobs[u].last) continue;
      fn(u, token(u), std::min(kTile, jobs[u].last - p0 + 1));
    }
  };

  // The softmax as the reference takes it: every score, then their max, the exponentials and
  // their sum, then the weights. (An online max and sum, rescaled as the max grows, cost two
  // horizontal reductions and two exponentials per tile of 8 keys and head, more than a decode
  // tile's dot products; and would give other bits for a token alone than in a batch.)
  // Pass 1: the scores and each head's max. Each token sees the tiles up to its own position; a
  // tile's lanes past it are masked (−inf, whose exponential is 0).
  keys.restart(KeyTiles::Part::kK, last);
  for (int64_t p0 = job.first; p0 <= last; p0 += kTile) {
    to_tile(std::min(kTile, last - p0 + 1));
    for_tokens_of(p0, [&](int64_t u, const TokenScratch& ts, int64_t n) INFERA_AVX2_LAMBDA {
      for (int64_t g = 0; g < nh; ++g) {
        const __m256 scores = scores_of(ts, g, n);
        if (tile_index(p0) < stored) _mm256_storeu_ps(tile_of(u, g, p0), scores);
        float* high = ts.w + g * kTile;
        _mm256_storeu_ps(high, _mm256_max_ps(_mm256_loadu_ps(high), scores));
      }
    });
  }

  // The sums of e^(score − max), tile by tile in order, lane by lane in ts.w; the kept tiles'
  // exponentials replace their scores, the others are scored again.
  for (int64_t u = 0; u < n_jobs; ++u) {
    const TokenScratch ts = token(u);
    const int64_t kept = std::min(stored, tile_index(jobs[u].last) + 1);
    for (int64_t g = 0; g < nh; ++g) {
      ts.m[g] = max_lanes(_mm256_loadu_ps(ts.w + g * kTile));
      const __m256 max = _mm256_set1_ps(ts.m[g]);
      __m256 total = _mm256_setzero_ps();
      float* e = score_store.data() + (u * nh + g) * stored * kTile;
      for (int64_t i = 0; i < kept; ++i, e += kTile) {
        const __m256 x = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(e), max));
        _mm256_storeu_ps(e, x);
        total = _mm256_add_ps(total, x);
      }
      _mm256_storeu_ps(ts.w + g * kTile, total);
    }
  }
  if (stored < n_tiles) {
    keys.restart(KeyTiles::Part::kK, last);
    for (int64_t p0 = job.first; p0 <= last; p0 += kTile) {
      const int64_t n_tile = std::min(kTile, last - p0 + 1);
      if (tile_index(p0) < stored) {
        keys.next(n_tile);
        continue;
      }
      to_tile(n_tile);
      for_tokens_of(p0, [&](int64_t, const TokenScratch& ts, int64_t n) INFERA_AVX2_LAMBDA {
        for (int64_t g = 0; g < nh; ++g) {
          float* total = ts.w + g * kTile;
          _mm256_storeu_ps(total, _mm256_add_ps(_mm256_loadu_ps(total), rescored_exp(ts, g, n)));
        }
      });
    }
  }
  // ts.l holds 1 / the sum, which pass 2 multiplies each tile's exponentials by.
  for (int64_t u = 0; u < n_jobs; ++u) {
    const TokenScratch ts = token(u);
    for (int64_t g = 0; g < nh; ++g) ts.l[g] = 1.0f / sum_lanes(_mm256_loadu_ps(ts.w + g * kTile));
  }

  auto v_f32 = [&](int64_t j, int64_t c)
                   INFERA_AVX2_LAMBDA { return _mm256_loadu_ps(vf + j * dv + c); };
  auto v_f16 = [&](int64_t j, int64_t c)
                   INFERA_AVX2_LAMBDA { return load_halves(keys.vrow[j] + c); };

  // Pass 2: the normalised weights rounded to fp16, as the reference's, weight V.
  keys.restart(KeyTiles::Part::kV, last);
  for (int64_t p0 = job.first; p0 <= last; p0 += kTile) {
    const int64_t n_tile = std::min(kTile, last - p0 + 1);
    const bool kept = tile_index(p0) < stored;
    if (kept) {
      keys.next(n_tile);
    } else {
      to_tile(n_tile);  // as pass 1 did, to score the tile again
    }
    if (n_jobs > 1) keys.load_v(n_tile, dv, vf);
    for_tokens_of(p0, [&](int64_t u, const TokenScratch& ts, int64_t n) INFERA_AVX2_LAMBDA {
      for (int64_t g = 0; g < nh; ++g) {
        const __m256 e = kept ? _mm256_loadu_ps(tile_of(u, g, p0)) : rescored_exp(ts, g, n);
        _mm256_storeu_ps(ts.w + g * kTile, round_fp16(_mm256_mul_ps(e, _mm256_set1_ps(ts.l[g]))));
      }
      for (int64_t g0 = 0; g0 < nh; g0 += 4) {
        float* a = ts.acc + g0 * dv;
        const float* wg = ts.w + g0 * kTile;
        const int64_t heads = std::min<int64_t>(4, nh - g0);
        if (n_jobs > 1) {
          accumulate_v_heads(heads, v_f32, n, wg, dv, a);
        } else {
          accumulate_v_heads(heads, v_f16, n, wg, dv, a);
        }
      }
    });
  }

  for (int64_t u = 0; u < n_jobs; ++u) {
    const TokenScratch ts = token(u);
    for (int64_t g = 0; g < nh; ++g) {
      float* oh = jobs[u].out + (job.h_begin + g) * dv;
      for (int64_t c = 0; c < dv; c += 8)
        _mm256_storeu_ps(oh + c, _mm256_loadu_ps(ts.acc + g * dv + c));
    }
  }
}

INFERA_AVX2 void attend_avx2(const AttentionJob& job, const PagedKv& kv, const AttentionShape& s,
                             float* scratch) {
  attend_tokens_avx2(&job, 1, kv, s, scratch);
}

}  // namespace infera::attention_detail

#endif  // x86
