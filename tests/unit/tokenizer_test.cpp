// Tokenizer unit tests on synthetic vocabularies (no model files): Unicode helpers, the
// pre-tokenizer scanners, BPE and SentencePiece-style encoding, special tokens, errors naming
// their key, and the incremental decoder. The real-model comparison with llama.cpp is in
// tokenizer_golden_test.cpp.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "gguf_test_builder.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace infera {
namespace {

using testing::array_f32;
using testing::array_i32;
using testing::array_strings;
using testing::GgufBuilder;

// ---- Unicode -------------------------------------------------------------------------------

TEST(TokenizerUnicode, Classes) {
  using unicode::CpClass;
  EXPECT_EQ(unicode::cp_class('a'), CpClass::kLetter);
  EXPECT_EQ(unicode::cp_class('7'), CpClass::kNumber);
  EXPECT_EQ(unicode::cp_class('!'), CpClass::kPunct);
  EXPECT_EQ(unicode::cp_class('$'), CpClass::kOther);      // a symbol (Sc), not punctuation
  EXPECT_EQ(unicode::cp_class(0x4E2D), CpClass::kLetter);  // 中
  EXPECT_EQ(unicode::cp_class(0x0663), CpClass::kNumber);  // Arabic-Indic three
  EXPECT_EQ(unicode::cp_class(0x00BD), CpClass::kNumber);  // ½ (No)
  EXPECT_EQ(unicode::cp_class(0x0301), CpClass::kOther);   // combining acute (Mn)
  EXPECT_EQ(unicode::cp_class(0x1F600), CpClass::kOther);  // 😀 (So)
  EXPECT_EQ(unicode::cp_class(0x3002), CpClass::kPunct);   // 。
  EXPECT_TRUE(unicode::is_whitespace(0x3000));
  EXPECT_TRUE(unicode::is_whitespace('\n'));
  EXPECT_TRUE(unicode::is_whitespace(0x85));
  EXPECT_FALSE(unicode::is_whitespace(0x200B));  // zero width space is not White_Space
  EXPECT_FALSE(unicode::is_whitespace('x'));
}

TEST(TokenizerUnicode, LenientDecodeMatchesLlamaCpp) {
  // Malformed bytes become U+FFFD one byte at a time; overlong forms are taken as written.
  EXPECT_EQ(unicode::decode_lenient("a\xFF"
                                    "b"),
            (std::vector<uint32_t>{'a', 0xFFFD, 'b'}));
  EXPECT_EQ(unicode::decode_lenient("\xE4\xBD"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  EXPECT_EQ(unicode::decode_lenient("\xC0\x80"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(unicode::decode_lenient("\xE4\xBD\xA0"), (std::vector<uint32_t>{0x4F60}));
}

TEST(TokenizerUnicode, ScanUtf8) {
  auto scan = [](std::string_view s) { return unicode::scan_utf8(s); };
  EXPECT_EQ(scan("abc").valid, 3u);
  EXPECT_TRUE(scan("a\xE4\xBD").incomplete);
  EXPECT_EQ(scan("a\xE4\xBD").valid, 1u);
  EXPECT_EQ(scan("a\xFF").bad, 1u);
  EXPECT_EQ(scan("\xE4\xBDx").bad, 2u);     // maximal subpart E4 BD
  EXPECT_EQ(scan("\xED\xA0\x80").bad, 1u);  // surrogate: ED then an out-of-range byte
  EXPECT_EQ(scan("\xC0\x80").bad, 1u);      // overlong
  EXPECT_EQ(scan("\xF4\x8F\xBF\xBF").valid, 4u);
}

// ---- Pre-tokenizers ------------------------------------------------------------------------

std::vector<std::string> split(tokenizer::PreTokenizer type, std::string_view text) {
  const std::vector<uint32_t> cps = unicode::decode_lenient(text);
  std::vector<std::string> out;
  for (const tokenizer::Span& s : tokenizer::pretokenize(type, cps)) {
    std::string w;
    for (size_t i = s.begin; i < s.end; ++i) unicode::append_utf8(w, cps[i]);
    out.push_back(w);
  }
  return out;
}

using Words = std::vector<std::string>;

TEST(TokenizerPretokenize, Gpt2) {
  EXPECT_EQ(split(tokenizer::PreTokenizer::kGpt2, "Hello world's  123!!"),
            (Words{"Hello", " world", "'s", " ", " 123", "!!"}));
  EXPECT_EQ(split(tokenizer::PreTokenizer::kGpt2, "a   "), (Words{"a", "   "}));
  EXPECT_EQ(split(tokenizer::PreTokenizer::kGpt2, "你好 世界"), (Words{"你好", " 世界"}));
}

TEST(TokenizerPretokenize, Llama3AndQwen2) {
  EXPECT_EQ(split(tokenizer::PreTokenizer::kLlama3, "Hello 12345 world\n\n  x"),
            (Words{"Hello", " ", "123", "45", " world", "\n\n", " ", " x"}));
  EXPECT_EQ(split(tokenizer::PreTokenizer::kLlama3, "I'LL don't"),
            (Words{"I", "'LL", " don", "'t"}));
  EXPECT_EQ(split(tokenizer::PreTokenizer::kQwen2, "x12"), (Words{"x", "1", "2"}));
  EXPECT_EQ(split(tokenizer::PreTokenizer::kLlama3, "?!\n\nok"), (Words{"?!\n\n", "ok"}));
}

TEST(TokenizerPretokenize, SmollmAndDefault) {
  EXPECT_EQ(split(tokenizer::PreTokenizer::kSmollm, "a   12"), (Words{"a", "   ", "1", "2"}));
  EXPECT_EQ(split(tokenizer::PreTokenizer::kDefault, "a+b=123456"),
            (Words{"a", "+", "b", "=", "123", "456"}));
}

TEST(TokenizerPretokenize, Deepseek) {
  EXPECT_EQ(split(tokenizer::PreTokenizer::kDeepseekCoder, "Hello, 世界123\n x"),
            (Words{"Hello", ",", " ", "世界", "1", "2", "3", "\n", " x"}));
  EXPECT_EQ(split(tokenizer::PreTokenizer::kDeepseekLlm, "ab  \nx 12"),
            (Words{"ab", "  ", "\n", "x", " ", "12"}));
  // U+3000 is white space, so it is not part of the CJK run.
  EXPECT_EQ(split(tokenizer::PreTokenizer::kDeepseekLlm, "中\u3000文"),
            (Words{"中", "\u3000", "文"}));
}

TEST(TokenizerPretokenize, Names) {
  EXPECT_EQ(tokenizer::pretokenizer_for("smollm")->type, tokenizer::PreTokenizer::kSmollm);
  EXPECT_TRUE(tokenizer::pretokenizer_for("llama-bpe")->ignore_merges);
  EXPECT_EQ(tokenizer::pretokenizer_for("qwen2")->type, tokenizer::PreTokenizer::kQwen2);
  EXPECT_FALSE(tokenizer::pretokenizer_for("no-such-pre").has_value());
}

// ---- Synthetic vocabularies ----------------------------------------------------------------

struct Built {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
};

Built build(const GgufBuilder& b) {
  Built out;
  out.bytes = b.build();
  out.file = gguf::GgufFile::from_memory(out.bytes.data(), out.bytes.size());
  out.tok = Tokenizer::from_gguf(*out.file);
  return out;
}

const std::string kSp = "\xE2\x96\x81";

// SentencePiece-style: <unk> <s> </s>, 256 byte tokens, a few pieces, a control and a
// user-defined token.
GgufBuilder spm_builder(std::vector<std::string>* names = nullptr) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.push_back(buf);
    scores.push_back(0);
    types.push_back(6);
  }
  const std::vector<std::pair<std::string, float>> pieces = {
      {kSp, -1},     {"a", -2},          {"b", -2},          {"c", -3},
      {"ab", -0.5f}, {kSp + "a", -0.7f}, {kSp + "ab", -0.2f}};
  for (const auto& [t, s] : pieces) {
    tokens.push_back(t);
    scores.push_back(s);
    types.push_back(1);
  }
  tokens.push_back("<ctl>");
  scores.push_back(0);
  types.push_back(3);
  tokens.push_back("<ud>");
  scores.push_back(0);
  types.push_back(4);
  if (names) *names = tokens;
  GgufBuilder b;
  b.kv_string("tokenizer.ggml.model", "llama")
      .kv_array("tokenizer.ggml.tokens", array_strings(tokens))
      .kv_array("tokenizer.ggml.scores", array_f32(scores))
      .kv_array("tokenizer.ggml.token_type", array_i32(types))
      .kv_u32("tokenizer.ggml.bos_token_id", 1)
      .kv_u32("tokenizer.ggml.eos_token_id", 2);
  return b;
}

int32_t id_of(const std::vector<std::string>& names, const std::string& t) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == t) return int32_t(i);
  }
  return -1;
}

TEST(TokenizerSpm, MergesByScoreWithSpacePrefixAndByteFallback) {
  std::vector<std::string> n;
  Built b = build(spm_builder(&n));
  const Tokenizer& t = *b.tok;
  EXPECT_EQ(t.kind(), Tokenizer::Kind::kSpm);
  EXPECT_TRUE(t.add_bos());
  EXPECT_TRUE(t.add_space_prefix());
  // "▁ab": "ab" (-0.5) beats "▁a" (-0.7), then "▁ab" (-0.2).
  EXPECT_EQ(t.encode("ab", false, false), (std::vector<int32_t>{id_of(n, kSp + "ab")}));
  EXPECT_EQ(t.encode("ab", true, false), (std::vector<int32_t>{1, id_of(n, kSp + "ab")}));
  EXPECT_EQ(t.encode("abc ", false, false),
            (std::vector<int32_t>{id_of(n, kSp + "ab"), id_of(n, "c"), id_of(n, kSp)}));
  // é is not a piece: its two bytes come out as byte tokens.
  EXPECT_EQ(t.encode("\xC3\xA9", false, false),
            (std::vector<int32_t>{id_of(n, kSp), id_of(n, "<0xC3>"), id_of(n, "<0xA9>")}));
  EXPECT_EQ(t.decode(t.encode("abc ab\xC3\xA9", false, false)), " abc ab\xC3\xA9");
  EXPECT_EQ(t.encode("", true, false), (std::vector<int32_t>{1}));
}

TEST(TokenizerSpm, SpecialTokens) {
  std::vector<std::string> n;
  Built b = build(spm_builder(&n));
  const Tokenizer& t = *b.tok;
  const int32_t ctl = id_of(n, "<ctl>"), ud = id_of(n, "<ud>");
  // User-defined tokens are always atomic; control tokens only with parse_special.
  EXPECT_EQ(t.encode("<ud>a", false, false),
            (std::vector<int32_t>{ud, id_of(n, kSp + "a")}));  // space prefix after a special
  EXPECT_EQ(t.encode("a<ctl>", false, true), (std::vector<int32_t>{id_of(n, kSp + "a"), ctl}));
  const std::vector<int32_t> raw = t.encode("<ctl>", false, false);
  EXPECT_EQ(std::count(raw.begin(), raw.end(), ctl), 0);
  EXPECT_EQ(t.decode(raw), " <ctl>");
  EXPECT_EQ(t.token_to_piece(ctl), "<ctl>");
  EXPECT_TRUE(t.is_eog(2));
  EXPECT_FALSE(t.is_eog(1));
  EXPECT_EQ(t.token_to_piece(-5), "");
  EXPECT_EQ(t.token_text(100000), "");
}

// Byte-level BPE: the 256 byte stand-ins (id = byte), merges to "hello" and "Ġw", a control token.
GgufBuilder bpe_builder(const std::string& pre = "gpt2") {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(tokenizer::byte_to_bpe_char(uint8_t(b)));
  const std::string g = tokenizer::byte_to_bpe_char(' ');
  for (const std::string& t : std::vector<std::string>{"he", "ll", "hell", "hello", g + "w"}) {
    tokens.push_back(t);
  }
  tokens.push_back("<|end|>");
  std::vector<int32_t> types(tokens.size(), 1);
  types.back() = 3;
  GgufBuilder b;
  b.kv_string("tokenizer.ggml.model", "gpt2")
      .kv_string("tokenizer.ggml.pre", pre)
      .kv_array("tokenizer.ggml.tokens", array_strings(tokens))
      .kv_array("tokenizer.ggml.token_type", array_i32(types))
      .kv_array("tokenizer.ggml.merges", array_strings({"h e", "l l", "he ll", "hell o", g + " w"}))
      .kv_u32("tokenizer.ggml.eos_token_id", 261);
  return b;
}

TEST(TokenizerBpe, MergesByRank) {
  Built b = build(bpe_builder());
  const Tokenizer& t = *b.tok;
  EXPECT_EQ(t.kind(), Tokenizer::Kind::kBpe);
  EXPECT_FALSE(t.add_bos());
  EXPECT_EQ(t.bos(), -1);
  EXPECT_EQ(t.encode("hello world", true, false),
            (std::vector<int32_t>{259, 260, 'o', 'r', 'l', 'd'}));
  EXPECT_EQ(t.encode("hello<|end|>", false, true), (std::vector<int32_t>{259, 261}));
  EXPECT_EQ(t.encode("<|end|>", false, false).size(), 7u);
  EXPECT_TRUE(t.is_eog(261));
  const std::string s = "h\xC3\xA9llo\n\t w\xF0\x9F\x98\x80";
  EXPECT_EQ(t.decode(t.encode(s, false, false)), s);
  EXPECT_EQ(t.token_to_piece(' '), " ");
  EXPECT_EQ(t.token_to_piece(0xFF), "\xFF");
}

TEST(TokenizerBpe, InvalidUtf8BecomesReplacementCharacter) {
  Built b = build(bpe_builder());
  // As llama.cpp: malformed input bytes are tokenized as U+FFFD (EF BF BD).
  EXPECT_EQ(b.tok->encode("\xFF", false, false), (std::vector<int32_t>{0xEF, 0xBF, 0xBD}));
}

// ---- Errors --------------------------------------------------------------------------------

void expect_error(const GgufBuilder& b, const std::string& key, ErrorKind kind) {
  // The GGUF reader validates some tokenizer keys itself; either layer must name the key.
  const std::vector<uint8_t> bytes = b.build();
  try {
    auto file = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
    Tokenizer::from_gguf(*file);
    ADD_FAILURE() << "no error for " << key;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    EXPECT_EQ(e.kind(), kind) << e.what();
  }
}

TEST(TokenizerErrors, NameTheKey) {
  expect_error(GgufBuilder().kv_string("general.name", "x"), "tokenizer.ggml.model",
               ErrorKind::kInvalidFile);
  expect_error(GgufBuilder().kv_string("tokenizer.ggml.model", "bert"), "tokenizer.ggml.model",
               ErrorKind::kUnsupported);
  expect_error(GgufBuilder().kv_string("tokenizer.ggml.model", "llama"), "tokenizer.ggml.tokens",
               ErrorKind::kInvalidFile);
  expect_error(GgufBuilder()
                   .kv_string("tokenizer.ggml.model", "llama")
                   .kv_array("tokenizer.ggml.tokens", array_strings({"a", "b"}))
                   .kv_array("tokenizer.ggml.scores", array_f32({0})),
               "tokenizer.ggml.scores", ErrorKind::kInvalidFile);
  expect_error(GgufBuilder()
                   .kv_string("tokenizer.ggml.model", "gpt2")
                   .kv_array("tokenizer.ggml.tokens", array_strings({"a", "b"})),
               "tokenizer.ggml.merges", ErrorKind::kInvalidFile);
  expect_error(bpe_builder("no-such-pre"), "tokenizer.ggml.pre", ErrorKind::kUnsupported);
  expect_error(spm_builder().kv_u32("tokenizer.ggml.bos_token_id", 99999),
               "tokenizer.ggml.bos_token_id", ErrorKind::kInvalidFile);
}

TEST(TokenizerErrors, MalformedByteTokenIsHarmless) {
  GgufBuilder b;
  b.kv_string("tokenizer.ggml.model", "llama")
      .kv_array("tokenizer.ggml.tokens", array_strings({"<unk>", "<s>", "</s>", "<0xZZ>", "a"}))
      .kv_array("tokenizer.ggml.token_type", array_i32({2, 3, 3, 6, 1}));
  Built built = build(b);
  EXPECT_EQ(built.tok->token_to_piece(3), "");
  // The space prefix U+2581 has neither a token nor byte tokens here: it is dropped.
  EXPECT_EQ(built.tok->encode("a", false, false), (std::vector<int32_t>{4}));
}

// ---- Incremental decoder -------------------------------------------------------------------

TEST(TokenizerIncremental, HoldsBackPartialCharacters) {
  std::vector<std::string> n;
  Built b = build(spm_builder(&n));
  IncrementalDecoder dec(*b.tok);
  EXPECT_EQ(dec.push(id_of(n, "<0xE4>")), "");
  EXPECT_EQ(dec.push(id_of(n, "<0xBD>")), "");
  EXPECT_EQ(dec.push(id_of(n, "<0xA0>")), "\xE4\xBD\xA0");
  EXPECT_EQ(dec.push(id_of(n, "a")), "a");
  EXPECT_EQ(dec.flush(), "");
}

TEST(TokenizerIncremental, InvalidBytesBecomeReplacement) {
  std::vector<std::string> n;
  Built b = build(spm_builder(&n));
  IncrementalDecoder dec(*b.tok);
  EXPECT_EQ(dec.push(id_of(n, "<0xFF>")), "\xEF\xBF\xBD");
  EXPECT_EQ(dec.push(id_of(n, "<0xE4>")), "");
  EXPECT_EQ(dec.push(id_of(n, "b")),
            "\xEF\xBF\xBD"
            "b");  // E4 then 'b': one U+FFFD
  EXPECT_EQ(dec.push(id_of(n, "<0xF0>")), "");
  EXPECT_EQ(dec.push(id_of(n, "<0x9F>")), "");
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");  // incomplete at the end
  EXPECT_EQ(dec.push(-1), "");             // out of range: nothing, no throw
}

}  // namespace
}  // namespace infera
