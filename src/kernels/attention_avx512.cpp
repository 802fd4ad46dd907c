// AVX-512 kernel of attention.h: flash-style attention of one token's query heads of one KV group.
//
// Keys are taken in tiles of 16 positions from the token's first visible key. For each tile, the K
// rows are converted from fp16 once and serve every query head of the job (GQA), as do the V rows.
// Two passes over the tiles: the first computes the scores and finds each head's softmax max and
// sum online (the sum rescaled when the max grows); the second weights V with e^(s − max) / sum
// rounded to fp16, the reference's weight. A one-pass online softmax would have to round the
// weights before normalising, which puts one fp16 rounding of noise per weight between infera and
// llama.cpp: enough to fail the golden tests of the small quantized models, whose activations are
// re-quantized to 8 bits after attention. The scores are kept between the passes (one float per
// key, head and token of the job, in a buffer of the thread, up to kScoreStoreBytes): computing q·k
// again cost a third more arithmetic.
//
// Compiled for the baseline target; only these functions use AVX-512 (F, BW, VL), and attention()
// calls them only where cpu_features.h says the CPU and the OS have it.
#include "kernels/attention.h"

#if defined(__x86_64__) || defined(__i386__)
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/avx512_intrinsics.h"

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

namespace infera::attention_detail {
namespace {

constexpr int64_t kTile = 16;  // keys per tile: one score per lane

int64_t pad16(int64_t n) { return (n + 15) / 16 * 16; }

// The lanes of a 16-wide chunk that hold the first n (clamped to 0..16) elements.
INFERA_AVX512 inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff)
                 : static_cast<__mmask16>((1u << std::max<int64_t>(n, 0)) - 1);
}

INFERA_AVX512 inline __m512 load_halves(const uint16_t* p, __mmask16 lanes) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes, p));
}

INFERA_AVX512 inline __m512 round_fp16(__m512 x) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// e^x for x <= 0 (−inf included, giving 0), within 2 ulp: x = n·ln2 + r with |r| <= ln2/2, e^r by
// Cephes' expf polynomial, 2^n applied by vscalefps. Below −87 (e^x under the smallest normal
// float) the result is 0: such a weight rounds to 0 in fp16 anyway.
// ref: Cephes expf.c (S. Moshier)
INFERA_AVX512 inline __m512 exp_nonpositive(__m512 x) {
  const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 in two parts, the first exact in few bits, so that n·ln2_hi is exact.
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_mov_ps(live, _mm512_scalef_ps(y, n));
}

// Lane j = the sum of the 16 lanes of a[j]: a transpose-and-add tree, ~3 instructions per input
// instead of a full horizontal sum each.
INFERA_AVX512 inline __m512 sum_lanes16(const __m512* a) {
  __m512 w[8];  // per 128-bit lane: partial sums of keys 2i, 2i+1, 2i, 2i+1
  for (int i = 0; i < 8; ++i) {
    w[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                         _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  }
  __m512 x[4];  // per 128-bit lane: partial sums of keys 4k .. 4k+3
  for (int k = 0; k < 4; ++k) {
    const __m512d lo = _mm512_castps_pd(w[2 * k]);
    const __m512d hi = _mm512_castps_pd(w[2 * k + 1]);
    x[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi)));
  }
  const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(x[0], x[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(x[0], x[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(x[2], x[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(x[2], x[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// acc[g] (dvp wide) += Σ_j w[g][j] · V_j for G heads at once, from the tile's V rows converted to
// f32 once (vf: n rows of dvp floats, zero padded). The chunk of each head stays in a register
// across the tile's keys.
template <int G>
INFERA_AVX512 inline void accumulate_v_f32(const float* vf, int64_t n, const float* w, int64_t dvp,
                                           float* acc) {
  for (int64_t c = 0; c < dvp; c += 16) {
    __m512 o[G];
    for (int g = 0; g < G; ++g) o[g] = _mm512_loadu_ps(acc + g * dvp + c);
    for (int64_t j = 0; j < n; ++j) {
      const __m512 v = _mm512_loadu_ps(vf + j * dvp + c);
      for (int g = 0; g < G; ++g) o[g] = _mm512_fmadd_ps(_mm512_set1_ps(w[g * kTile + j]), v, o[g]);
    }
    for (int g = 0; g < G; ++g) _mm512_storeu_ps(acc + g * dvp + c, o[g]);
  }
}

}  // namespace

// Scratch of one token of a job (TokenScratch), rows padded to 16 floats.
int64_t token_floats(const AttentionShape& s) {
  return TokenScratch::floats(s.n_head / s.n_head_kv, pad16(s.head_dim_k), pad16(s.head_dim_v),
                              kTile);
}

int64_t scratch_floats_avx512(const AttentionShape& s) {
  // Per token, then the tile's K and V rows as f32, shared by the tokens.
  return kAttentionTokenGroup * token_floats(s) +
         kTile * (pad16(s.head_dim_k) + pad16(s.head_dim_v));
}

namespace {

// The keys of one token, a tile at a time: the cache rows of its positions (walking the block
// table instead of dividing per key) and the tile's K rows converted to f32, zero padded.
struct KeyTiles {
  const AttentionJob& job;
  const PagedKv& kv;
  int64_t dk, dkp, k_stride, v_stride;
  const uint16_t* kbase;
  const uint16_t* vbase;
  KeyRowCursor rows{job, kv.block_size};
  const uint16_t* vrow[kTile] = {};

  void restart() { rows = KeyRowCursor(job, kv.block_size); }

  const uint16_t* krow[kTile] = {};

  // Steps to the next n keys' cache rows.
  void next(int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t row = rows.next();
      krow[j] = kbase + row * k_stride;
      vrow[j] = vbase + row * v_stride;
    }
  }

  // Steps to the next n keys and converts their K rows.
  INFERA_AVX512 void load(int64_t n, float* kf) {
    next(n);
    for (int64_t j = 0; j < kTile; ++j) {
      for (int64_t c = 0; c < dkp; c += 16) {
        const __m512 k =
            j < n ? load_halves(krow[j] + c, first_lanes(dk - c)) : _mm512_setzero_ps();
        _mm512_storeu_ps(kf + j * dkp + c, k);
      }
    }
  }

  // The V rows of the last load(n, ...) as f32, zero padded to dvp.
  INFERA_AVX512 void load_v(int64_t n, int64_t dv, int64_t dvp, float* vf) const {
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t c = 0; c < dvp; c += 16)
        _mm512_storeu_ps(vf + j * dvp + c, load_halves(vrow[j] + c, first_lanes(dv - c)));
    }
  }
};

// scale · q·k_j in lane j for the tile's n keys, −inf in the lanes past them.
INFERA_AVX512 inline __m512 tile_scores(const float* qg, const float* kf, int64_t dkp, __m512 scale,
                                        __mmask16 valid) {
  __m512 dots[kTile];
  for (int j = 0; j < kTile; ++j) dots[j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < dkp; c += 16) {
    const __m512 qc = _mm512_loadu_ps(qg + c);
    for (int j = 0; j < kTile; ++j) {
      dots[j] = _mm512_fmadd_ps(qc, _mm512_loadu_ps(kf + j * dkp + c), dots[j]);
    }
  }
  return _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid,
                            _mm512_mul_ps(sum_lanes16(dots), scale));
}

}  // namespace

INFERA_AVX512 void attend_tokens_avx512(const AttentionJob* jobs, int64_t n_jobs, const PagedKv& kv,
                                        const AttentionShape& s, float* scratch) {
  const AttentionJob& job = jobs[0];  // the keys, heads and first position every job shares
  const int64_t group = s.n_head / s.n_head_kv;
  const int64_t kv_h = job.h_begin / group;
  const int64_t nh = job.h_end - job.h_begin;
  const int64_t dk = s.head_dim_k;
  const int64_t dv = s.head_dim_v;
  const int64_t dkp = pad16(dk);
  const int64_t dvp = pad16(dv);
  float* kf = scratch + kAttentionTokenGroup * token_floats(s);  // (kTile, dkp)
  float* vf = kf + kTile * dkp;                                  // (kTile, dvp)
  int64_t last = job.last;
  for (int64_t u = 0; u < n_jobs; ++u) last = std::max(last, jobs[u].last);
  auto token = [&](int64_t u) {
    return TokenScratch(scratch + u * token_floats(s), group, dkp, dvp, kTile);
  };

  for (int64_t u = 0; u < n_jobs; ++u) {
    const TokenScratch ts = token(u);
    for (int64_t g = 0; g < nh; ++g) {
      const float* qh = jobs[u].q + (job.h_begin + g) * dk;
      for (int64_t c = 0; c < dkp; c += 16) {
        const __m512 x = _mm512_maskz_loadu_ps(first_lanes(dk - c), qh + c);
        _mm512_storeu_ps(ts.qs + g * dkp + c, round_fp16(x));
      }
      for (int64_t c = 0; c < dvp; c += 16)
        _mm512_storeu_ps(ts.acc + g * dvp + c, _mm512_setzero_ps());
      ts.m[g] = -INFINITY;
      ts.l[g] = 0.0f;
    }
  }

  KeyTiles keys{
      job, kv, dk, dkp, s.n_head_kv * dk, s.n_head_kv * dv, kv.k + kv_h * dk, kv.v + kv_h * dv};
  const __m512 scale = _mm512_set1_ps(s.scale);

  // The scores of every token and head of the first `stored` tiles, kept from pass 1 for pass 2.
  const int64_t n_tiles = (last - job.first) / kTile + 1;
  const int64_t stored = stored_score_tiles(n_tiles, n_jobs * nh * kTile);
  thread_local std::vector<float> score_store;
  score_store.resize(static_cast<size_t>(n_jobs * nh * stored * kTile));
  auto tile_index = [&](int64_t p0) { return (p0 - job.first) / kTile; };
  auto tile_of = [&](int64_t u, int64_t g, int64_t p0) {
    return score_store.data() + ((u * nh + g) * stored + tile_index(p0)) * kTile;
  };

  // Pass 1: the scores, and the max and the sum of the softmax, online (the sum rescaled when the
  // max grows). Each token sees the tiles up to its own position; a tile's lanes past it are
  // masked.
  keys.restart();
  for (int64_t p0 = job.first; p0 <= last; p0 += kTile) {
    keys.load(std::min(kTile, last - p0 + 1), kf);
    for (int64_t u = 0; u < n_jobs; ++u) {
      if (p0 > jobs[u].last) continue;
      const TokenScratch ts = token(u);
      const int64_t n = std::min(kTile, jobs[u].last - p0 + 1);
      for (int64_t g = 0; g < nh; ++g) {
        const __m512 scores = tile_scores(ts.qs + g * dkp, kf, dkp, scale, first_lanes(n));
        if (tile_index(p0) < stored) _mm512_storeu_ps(tile_of(u, g, p0), scores);
        const float m_new = std::max(ts.m[g], _mm512_reduce_max_ps(scores));
        if (m_new > ts.m[g]) {
          ts.l[g] *= _mm512_cvtss_f32(exp_nonpositive(_mm512_set1_ps(ts.m[g] - m_new)));
          ts.m[g] = m_new;
        }
        ts.l[g] +=
            _mm512_reduce_add_ps(exp_nonpositive(_mm512_sub_ps(scores, _mm512_set1_ps(ts.m[g]))));
      }
    }
  }

  // Pass 2: each weight from pass 1's score, normalised then rounded to fp16 as the reference
  // does (rounding e^(s − m) before normalising would add an fp16 rounding's noise per weight
  // against llama.cpp), and the weighted sum of V.
  keys.restart();
  for (int64_t p0 = job.first; p0 <= last; p0 += kTile) {
    const int64_t n_tile = std::min(kTile, last - p0 + 1);
    const bool kept = tile_index(p0) < stored;
    if (kept) {
      keys.next(n_tile);
    } else {
      keys.load(n_tile, kf);  // as pass 1 did, to score the tile again
    }
    keys.load_v(n_tile, dv, dvp, vf);
    for (int64_t u = 0; u < n_jobs; ++u) {
      if (p0 > jobs[u].last) continue;
      const TokenScratch ts = token(u);
      const int64_t n = std::min(kTile, jobs[u].last - p0 + 1);
      for (int64_t g = 0; g < nh; ++g) {
        const __m512 scores = kept ? _mm512_loadu_ps(tile_of(u, g, p0))
                                   : tile_scores(ts.qs + g * dkp, kf, dkp, scale, first_lanes(n));
        const __m512 e = exp_nonpositive(_mm512_sub_ps(scores, _mm512_set1_ps(ts.m[g])));
        _mm512_storeu_ps(ts.w + g * kTile,
                         round_fp16(_mm512_mul_ps(e, _mm512_set1_ps(1.0f / ts.l[g]))));
      }
      for (int64_t g0 = 0; g0 < nh; g0 += 4) {
        float* a = ts.acc + g0 * dvp;
        const float* wg = ts.w + g0 * kTile;
        switch (std::min<int64_t>(4, nh - g0)) {
          case 1:
            accumulate_v_f32<1>(vf, n, wg, dvp, a);
            break;
          case 2:
            accumulate_v_f32<2>(vf, n, wg, dvp, a);
            break;
          case 3:
            accumulate_v_f32<3>(vf, n, wg, dvp, a);
            break;
          default:
            accumulate_v_f32<4>(vf, n, wg, dvp, a);
            break;
        }
      }
    }
  }

  for (int64_t u = 0; u < n_jobs; ++u) {
    const TokenScratch ts = token(u);
    for (int64_t g = 0; g < nh; ++g) {
      float* oh = jobs[u].out + (job.h_begin + g) * dv;
      for (int64_t c = 0; c < dvp; c += 16) {
        _mm512_mask_storeu_ps(oh + c, first_lanes(dv - c), _mm512_loadu_ps(ts.acc + g * dvp + c));
      }
    }
  }
}

INFERA_AVX512 void attend_avx512(const AttentionJob& job, const PagedKv& kv,
                                 const AttentionShape& s, float* scratch) {
  attend_tokens_avx512(&job, 1, kv, s, scratch);
}

}  // namespace infera::attention_detail

#endif  // x86
