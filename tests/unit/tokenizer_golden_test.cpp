// Tokenizer ids against llama.cpp on the real models (SmolLM2: byte-level BPE "smollm"; Gemma 3:
// SentencePiece-style with byte fallback), plus round trips and the streaming decoder on the same
// corpus. Golden files: tests/data/tokenizer/*.golden, written by tools/gen_tokenizer_golden.py.
//
// The models are not in the repository: they are found in $INFERA_MODELS_DIR or
// ~/.cache/infera/models (tools/fetch_models.sh puts them there); a missing model fails the test.
//
// Fuzz comparison: when INFERA_TOKENIZER_FUZZ_FILE names a file in the golden format (as
// tools/tokenizer_fuzz_compare.py writes it), TokenizerFuzz.CompareWithReference checks every
// string in it against the model its "model" line names; otherwise that test is skipped.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace infera {
namespace {

const std::string kDataDir = std::string(INFERA_TEST_DATA_DIR) + "/tokenizer";

std::string models_dir() {
  if (const char* dir = std::getenv("INFERA_MODELS_DIR"); dir && *dir) return dir;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/infera/models";
}

struct Entry {
  std::string text;
  std::string escaped;
  std::vector<int32_t> plain;    // add_special=false, parse_special=false
  std::vector<int32_t> special;  // add_special=true, parse_special=true
};

struct Golden {
  std::map<std::string, std::string> header;
  std::vector<Entry> entries;
};

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    if (c == 'n') {
      out.push_back('\n');
    } else if (c == 'r') {
      out.push_back('\r');
    } else if (c == 't') {
      out.push_back('\t');
    } else if (c == 'x' && i + 2 < s.size()) {
      out.push_back(char(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::istringstream in(s);
  int64_t v;
  while (in >> v) ids.push_back(int32_t(v));
  return ids;
}

// Reads a golden/fuzz file; `ok` is false (and `error` says why) when it cannot be read.
Golden load_golden(const std::string& path, std::string* error) {
  Golden g;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return g;
  }
  std::vector<std::pair<std::string, std::string>> raw;  // (escaped, ids) until BOS/EOS known
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("t ", 0) == 0) {
      const size_t tab = line.find('\t');
      if (tab == std::string::npos) continue;
      raw.emplace_back(line.substr(2, tab - 2), line.substr(tab + 1));
      continue;
    }
    const size_t sp = line.find(' ');
    g.header[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
  }
  const int32_t bos = g.header.count("bos") ? std::stoi(g.header["bos"]) : -1;
  const int32_t eos = g.header.count("eos") ? std::stoi(g.header["eos"]) : -1;
  const bool add_bos = g.header["add_bos"] == "1";
  const bool add_eos = g.header["add_eos"] == "1";
  for (auto& [escaped, ids] : raw) {
    Entry e;
    e.escaped = escaped;
    e.text = unescape(escaped);
    const size_t bar = ids.find('|');
    e.plain = parse_ids(ids.substr(0, bar));
    const std::string b = bar == std::string::npos ? "=" : ids.substr(bar + 1);
    if (b == "=") {
      if (add_bos && bos >= 0) e.special.push_back(bos);
      e.special.insert(e.special.end(), e.plain.begin(), e.plain.end());
      if (add_eos && eos >= 0) e.special.push_back(eos);
    } else {
      e.special = parse_ids(b);
    }
    g.entries.push_back(std::move(e));
  }
  return g;
}

std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

struct Loaded {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
  std::string error;
};

// Loads each model once per test binary: a real model from models_dir(), or with `synthetic` one
// of the committed tests/data/models files.
const Loaded& load_model(const std::string& name, bool synthetic = false) {
  static std::map<std::string, Loaded> cache;
  const std::string path =
      (synthetic ? std::string(INFERA_TEST_DATA_DIR) + "/models" : models_dir()) + "/" + name;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  Loaded& l = cache[path];
  if (!std::ifstream(path)) {
    l.error = "missing " + path + ": run tools/fetch_models.sh (or set INFERA_MODELS_DIR)";
    return l;
  }
  try {
    l.file = gguf::GgufFile::open(path);
    l.tok = Tokenizer::from_gguf(*l.file);
  } catch (const Error& e) {
    l.error = e.what();
  }
  return l;
}

// Compares every entry; returns the number of mismatching strings and prints the first few.
size_t compare_ids(const Tokenizer& tok, const Golden& g, const std::string& label) {
  size_t bad = 0;
  for (const Entry& e : g.entries) {
    const std::vector<int32_t> a = tok.encode(e.text, false, false);
    const std::vector<int32_t> b = tok.encode(e.text, true, true);
    if (a == e.plain && b == e.special) continue;
    if (++bad <= 20) {
      ADD_FAILURE() << label << ": \"" << e.escaped << "\"\n"
                    << (a != e.plain ? "  plain   expected [" + join(e.plain) +
                                           "]\n           got [" + join(a) + "]\n"
                                     : "")
                    << (b != e.special ? "  special expected [" + join(e.special) +
                                             "]\n          got [" + join(b) + "]\n"
                                       : "");
    }
  }
  std::printf("[ tokenizer ] %s: %zu strings, %zu match, %zu mismatch\n", label.c_str(),
              g.entries.size(), g.entries.size() - bad, bad);
  return bad;
}

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (char c : bytes) {
    h ^= uint8_t(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

bool valid_utf8(std::string_view s) {
  const unicode::Utf8Scan scan = unicode::scan_utf8(s);
  return scan.valid == s.size();
}

struct GoldenCase {
  const char* model;
  const char* golden;
  bool synthetic;  // a toy vocabulary in tests/data/models (shorter corpus)
};

class TokenizerGolden : public ::testing::TestWithParam<GoldenCase> {
 protected:
  void SetUp() override {
    std::string error;
    golden_ = load_golden(kDataDir + "/" + GetParam().golden, &error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_GE(golden_.entries.size(), GetParam().synthetic ? 300u : 1000u);
    const Loaded& l = load_model(GetParam().model, GetParam().synthetic);
    ASSERT_TRUE(l.error.empty()) << l.error;
    tok_ = l.tok.get();
  }
  Golden golden_;
  const Tokenizer* tok_ = nullptr;
};

TEST_P(TokenizerGolden, IdsMatchReference) {
  EXPECT_EQ(compare_ids(*tok_, golden_, GetParam().model), 0u);
}

TEST_P(TokenizerGolden, MetadataMatchesReference) {
  auto& h = golden_.header;
  EXPECT_EQ(tok_->n_vocab(), std::stoi(h["n_vocab"]));
  EXPECT_EQ(tok_->bos(), std::stoi(h["bos"]));
  EXPECT_EQ(tok_->eos(), std::stoi(h["eos"]));
  EXPECT_EQ(tok_->add_bos(), h["add_bos"] == "1");
  EXPECT_EQ(tok_->add_eos(), h["add_eos"] == "1");
  const std::vector<int32_t> eog = parse_ids(h["eog"]);
  EXPECT_EQ(join(tok_->eog_ids()), join(eog));
  for (int32_t id = 0; id < tok_->n_vocab(); ++id) {
    const bool expected = std::find(eog.begin(), eog.end(), id) != eog.end();
    if (tok_->is_eog(id) != expected) {
      ADD_FAILURE() << "is_eog(" << id << ") '" << tok_->token_text(id) << "'";
    }
  }
}

TEST_P(TokenizerGolden, PiecesMatchReference) {
  std::istringstream in(golden_.header["piece_fnv"]);
  int32_t block = 0;
  in >> block;
  ASSERT_GT(block, 0);
  std::string hex;
  for (int32_t start = 0; in >> hex; start += block) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (int32_t id = start; id < std::min(start + block, tok_->n_vocab()); ++id) {
      const std::string piece = tok_->token_to_piece(id);
      const uint32_t n = uint32_t(piece.size());
      h = fnv1a(h, std::string_view(reinterpret_cast<const char*>(&n), 4));
      h = fnv1a(h, piece);
    }
    EXPECT_EQ(h, std::stoull(hex, nullptr, 16))
        << "token_to_piece differs in ids [" << start << ", " << start + block << ")";
  }
}

TEST_P(TokenizerGolden, DecodeInvertsEncodeForValidUtf8) {
  size_t checked = 0;
  for (const Entry& e : golden_.entries) {
    if (!valid_utf8(e.text)) continue;
    // SentencePiece vocabularies write a space as U+2581, so a literal U+2581 cannot round-trip.
    if (tok_->kind() == Tokenizer::Kind::kSpm && e.text.find("\xE2\x96\x81") != std::string::npos) {
      continue;
    }
    const std::vector<int32_t> ids = tok_->encode(e.text, false, false);
    EXPECT_EQ(tok_->decode(ids), e.text) << "\"" << e.escaped << "\"";
    ++checked;
  }
  EXPECT_GT(checked * 4, golden_.entries.size() * 3);
}

TEST_P(TokenizerGolden, IncrementalDecoderStreamsWholeCharacters) {
  for (const Entry& e : golden_.entries) {
    const std::vector<int32_t> ids = tok_->encode(e.text, false, true);
    IncrementalDecoder dec(*tok_);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string part = dec.push(id);
      EXPECT_TRUE(valid_utf8(part)) << "\"" << e.escaped << "\" at id " << id;
      streamed += part;
    }
    streamed += dec.flush();
    EXPECT_TRUE(valid_utf8(streamed));
    const std::string whole = tok_->decode(ids);
    if (valid_utf8(whole)) {
      EXPECT_EQ(streamed, whole) << "\"" << e.escaped << "\"";
    } else {
      EXPECT_NE(streamed.find("\xEF\xBF\xBD"), std::string::npos) << "\"" << e.escaped << "\"";
    }
  }
}

// Arbitrary bytes (including forms llama.cpp itself aborts on, e.g. F7 BF BF BF) never throw or
// crash, every id is in range, and the streaming decoder only emits well-formed UTF-8.
TEST_P(TokenizerGolden, ArbitraryBytesAreSafe) {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int round = 0; round < 500; ++round) {
    std::string text(next() % 64, '\0');
    for (char& c : text) c = char(next() % 4 == 0 ? next() % 128 : 0x80 + next() % 128);
    for (bool special : {false, true}) {
      const std::vector<int32_t> ids = tok_->encode(text, special, special);
      IncrementalDecoder dec(*tok_);
      std::string streamed;
      for (int32_t id : ids) {
        ASSERT_TRUE(id >= 0 && id < tok_->n_vocab());
        streamed += dec.push(id);
      }
      streamed += dec.flush();
      EXPECT_TRUE(valid_utf8(streamed));
    }
  }
}

// Not a timed assertion: prints encode throughput on the corpus.
TEST_P(TokenizerGolden, EncodeThroughput) {
  size_t bytes = 0;
  for (const Entry& e : golden_.entries) bytes += e.text.size();
  const auto t0 = std::chrono::steady_clock::now();
  size_t tokens = 0;
  int rounds = 0;
  do {
    for (const Entry& e : golden_.entries) tokens += tok_->encode(e.text, false, false).size();
    ++rounds;
  } while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(300));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ tokenizer ] %s: encode %.1f MB/s, %.0f tokens/s (corpus %zu bytes x %d)\n",
              GetParam().model, double(bytes) * rounds / s / 1e6, double(tokens) / s, bytes,
              rounds);
}

// Not a timed assertion: encode throughput on ~1 MB of English-like prose with code and digits
// (the corpus above is dominated by short exotic strings).
TEST_P(TokenizerGolden, EncodeThroughputProse) {
  std::string text;
  uint32_t seed = 12345;
  const char* words[] = {"the",    "model",     "tokenizer", "inference", "of",         "and",
                         "a",      "server",    "request",   "latency",   "throughput", "is",
                         "with",   "GPU",       "2048",      "x = 1;",    "tokens",     "per",
                         "second", "quantized", "weights",   "\n",        "(see",       "below)"};
  while (text.size() < (1u << 20)) {
    seed = seed * 1664525u + 1013904223u;
    const char* w = words[(seed >> 8) % (sizeof(words) / sizeof(words[0]))];
    text += w;
    text += ((seed >> 4) % 11 == 0) ? ". " : " ";
  }
  const auto t0 = std::chrono::steady_clock::now();
  const size_t n = tok_->encode(text, false, false).size();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ tokenizer ] %s: prose encode %.1f MB/s (%zu bytes -> %zu tokens)\n",
              GetParam().model, double(text.size()) / s / 1e6, text.size(), n);
}

INSTANTIATE_TEST_SUITE_P(
    RealModels, TokenizerGolden,
    ::testing::Values(GoldenCase{"SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2.golden", false},
                      GoldenCase{"gemma-3-270m-q4_k_m.gguf", "gemma3.golden", false},
                      GoldenCase{"tiny-llama-f32.gguf", "tiny-llama-bpe.golden", true},
                      GoldenCase{"tiny-qwen2-f32.gguf", "tiny-qwen2.golden", true}),
    [](const auto& info) {
      std::string name(info.param.golden);
      name = name.substr(0, name.find('.'));
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

TEST(TokenizerFuzz, CompareWithReference) {
  const char* path = std::getenv("INFERA_TOKENIZER_FUZZ_FILE");
  if (path == nullptr || *path == '\0') GTEST_SKIP() << "INFERA_TOKENIZER_FUZZ_FILE not set";
  std::string error;
  const Golden g = load_golden(path, &error);
  ASSERT_TRUE(error.empty()) << error;
  const Loaded& l = load_model(g.header.count("model") ? g.header.at("model") : "");
  ASSERT_TRUE(l.error.empty()) << l.error;
  EXPECT_EQ(compare_ids(*l.tok, g, "fuzz " + g.header.at("model")), 0u);
}

}  // namespace
}  // namespace infera
