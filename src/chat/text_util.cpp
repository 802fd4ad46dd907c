#include "chat/text_util.h"

#include <algorithm>

namespace infera::chat {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t decode_utf8(std::string_view s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  int len = 0;
  uint32_t cp = 0;
  if (c < 0x80) {
    ++i;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    ++i;
    return c;
  }
  if (i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return c;
  }
  for (int k = 1; k < len; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return c;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += static_cast<size_t>(len);
  return cp;
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  size_t i = 0;
  while (i < s.size()) {
    offsets.push_back(i);
    decode_utf8(s, i);
  }
  offsets.push_back(s.size());
  return offsets;
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  size_t i = 0;
  while (i < s.size()) {
    decode_utf8(s, i);
    ++n;
  }
  return n;
}

bool is_python_space(uint32_t cp) {
  if (cp >= 0x09 && cp <= 0x0D) return true;
  if (cp >= 0x1C && cp <= 0x20) return true;
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {

struct CodePoint {
  uint32_t cp;
  size_t begin;
  size_t end;
};

std::vector<CodePoint> decode_all(std::string_view s) {
  std::vector<CodePoint> out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t b = i;
    const uint32_t cp = decode_utf8(s, i);
    out.push_back({cp, b, i});
  }
  return out;
}

}  // namespace

std::string python_strip(std::string_view s, bool left, bool right, const std::string* chars) {
  const std::vector<CodePoint> cps = decode_all(s);
  std::vector<uint32_t> set;
  if (chars) {
    size_t i = 0;
    while (i < chars->size()) set.push_back(decode_utf8(*chars, i));
  }
  auto strip_it = [&](uint32_t cp) {
    if (!chars) return is_python_space(cp);
    return std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t b = 0;
  size_t e = cps.size();
  if (left) {
    while (b < e && strip_it(cps[b].cp)) ++b;
  }
  if (right) {
    while (e > b && strip_it(cps[e - 1].cp)) --e;
  }
  if (b == e) return {};
  return std::string(s.substr(cps[b].begin, cps[e - 1].end - cps[b].begin));
}

std::vector<std::string> python_split(std::string_view s, const std::string* sep,
                                      int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t pos = 0;
    int64_t splits = 0;
    while (maxsplit < 0 || splits < maxsplit) {
      const size_t hit = s.find(*sep, pos);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
      ++splits;
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  const std::vector<CodePoint> cps = decode_all(s);
  size_t i = 0;
  int64_t splits = 0;
  while (i < cps.size()) {
    while (i < cps.size() && is_python_space(cps[i].cp)) ++i;
    if (i == cps.size()) break;
    if (maxsplit >= 0 && splits >= maxsplit) {
      // The rest, with trailing whitespace removed, is the last piece.
      size_t e = cps.size();
      while (e > i && is_python_space(cps[e - 1].cp)) --e;
      out.emplace_back(s.substr(cps[i].begin, cps[e - 1].end - cps[i].begin));
      return out;
    }
    const size_t b = i;
    while (i < cps.size() && !is_python_space(cps[i].cp)) ++i;
    out.emplace_back(s.substr(cps[b].begin, cps[i - 1].end - cps[b].begin));
    ++splits;
  }
  return out;
}

std::string python_replace(std::string_view s, std::string_view from, std::string_view to,
                           int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every code point and at the end.
    const std::vector<CodePoint> cps = decode_all(s);
    int64_t done = 0;
    for (const CodePoint& c : cps) {
      if (count < 0 || done < count) {
        out.append(to);
        ++done;
      }
      out.append(s.substr(c.begin, c.end - c.begin));
    }
    if (count < 0 || done < count) out.append(to);
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string python_capitalize(std::string_view s) {
  std::string out = ascii_lower(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

std::string python_title(std::string_view s) {
  // str.title(): a cased letter after an uncased character starts a word.
  std::string out(s);
  bool prev_cased = false;
  for (char& c : out) {
    const bool lower = c >= 'a' && c <= 'z';
    const bool upper = c >= 'A' && c <= 'Z';
    if (lower || upper) {
      if (!prev_cased && lower) c = static_cast<char>(c - 32);
      if (prev_cased && upper) c = static_cast<char>(c + 32);
      prev_cased = true;
    } else {
      // Non-ASCII bytes are treated as uncased (ASCII-only case mapping).
      prev_cased = false;
    }
  }
  return out;
}

}  // namespace infera::chat
