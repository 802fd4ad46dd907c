#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace infera::unicode {
namespace {

struct Range {
  uint32_t first;
  uint32_t last;
  uint8_t klass;
};

constexpr Range kRanges[] = {
#include "tokenizer/unicode_data.inc"
};

// ASCII fast path, built from the same table.
constexpr std::array<CpClass, 128> make_ascii() {
  std::array<CpClass, 128> table{};
  for (const Range& r : kRanges) {
    if (r.first >= 128) break;
    for (uint32_t cp = r.first; cp <= r.last && cp < 128; ++cp) table[cp] = CpClass(r.klass);
  }
  return table;
}
constexpr std::array<CpClass, 128> kAscii = make_ascii();

}  // namespace

const char* version() { return INFERA_UNICODE_VERSION; }

CpClass cp_class(uint32_t cp) {
  if (cp < 128) return kAscii[cp];
  // Last range whose first <= cp.
  const Range* end = std::end(kRanges);
  const Range* it = std::upper_bound(std::begin(kRanges), end, cp,
                                     [](uint32_t v, const Range& r) { return v < r.first; });
  if (it == std::begin(kRanges)) return CpClass::kOther;
  --it;
  return cp <= it->last ? CpClass(it->klass) : CpClass::kOther;
}

bool is_whitespace(uint32_t cp) {
  // Unicode White_Space: stable since Unicode 4.1.
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::vector<uint32_t> decode_lenient(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return i + k < n && (s[i + k] & 0xC0) == 0x80; };
  while (i < n) {
    const uint8_t b = s[i];
    if (b < 0x80) {
      out.push_back(b);
      i += 1;
    } else if ((b & 0x40) == 0) {  // stray continuation byte
      out.push_back(kReplacement);
      i += 1;
    } else if ((b & 0x20) == 0) {
      if (!cont(1)) {
        out.push_back(kReplacement);
        i += 1;
        continue;
      }
      out.push_back((uint32_t(b & 0x1F) << 6) | (s[i + 1] & 0x3F));
      i += 2;
    } else if ((b & 0x10) == 0) {
      if (!cont(1) || !cont(2)) {
        out.push_back(kReplacement);
        i += 1;
        continue;
      }
      out.push_back((uint32_t(b & 0x0F) << 12) | (uint32_t(s[i + 1] & 0x3F) << 6) |
                    (s[i + 2] & 0x3F));
      i += 3;
    } else if ((b & 0x08) == 0) {
      if (!cont(1) || !cont(2) || !cont(3)) {
        out.push_back(kReplacement);
        i += 1;
        continue;
      }
      out.push_back((uint32_t(b & 0x07) << 18) | (uint32_t(s[i + 1] & 0x3F) << 12) |
                    (uint32_t(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F));
      i += 4;
    } else {
      out.push_back(kReplacement);
      i += 1;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | ((cp >> 18) & 0x07)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

Utf8Scan scan_utf8(std::string_view bytes) {
  // Well-formed UTF-8 per Unicode table 3-7; an ill-formed sequence is reported as its maximal
  // subpart (the longest prefix of a well-formed sequence, at least one byte).
  const auto* s = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  Utf8Scan r;
  while (i < n) {
    const uint8_t b = s[i];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      r.valid = i;
      r.bad = 1;
      return r;
    }
    size_t k = 1;
    for (; k <= need; ++k) {
      if (i + k >= n) {
        r.valid = i;
        r.incomplete = true;
        return r;
      }
      const uint8_t c = s[i + k];
      const bool ok = (k == 1) ? (c >= lo && c <= hi) : ((c & 0xC0) == 0x80);
      if (!ok) {
        r.valid = i;
        r.bad = k;
        return r;
      }
    }
    i += need + 1;
  }
  r.valid = n;
  return r;
}

}  // namespace infera::unicode
