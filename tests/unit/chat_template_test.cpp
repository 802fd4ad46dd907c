// The chat-template engine's contract beyond the golden renders: errors carry positions and
// messages, hostile templates and inputs hit limits instead of crashing or hanging, random
// templates never crash, and chat_template_for() picks the GGUF's template or the fallback.
#include "chat/chat_template.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "chat/value.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf_test_builder.h"

namespace infera {
namespace {

ChatTemplateInputs simple_inputs() {
  ChatTemplateInputs in;
  in.messages = {{"system", "Be nice."}, {"user", "Hi {{ x }}"}};
  return in;
}

// The message of the infera::Error that `fn` throws ("" when it throws none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    return e.what();
  }
  return "";
}

std::string parse_error(std::string_view source) {
  return error_of([&] { ChatTemplate::parse(source); });
}

std::string render_error(std::string_view source, const ChatTemplateInputs& in = simple_inputs()) {
  return error_of([&] { ChatTemplate::parse(source).render(in); });
}

std::string render(std::string_view source, const ChatTemplateInputs& in = simple_inputs()) {
  return ChatTemplate::parse(source).render(in);
}

TEST(ChatTemplate, RendersChatMl) {
  EXPECT_EQ(render(kChatMlTemplate),
            "<|im_start|>system\nBe nice.<|im_end|>\n<|im_start|>user\nHi {{ x }}<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, SyntaxErrorsNameLineAndColumn) {
  EXPECT_NE(parse_error("ok\n  {% foo %}").find("syntax error at 2:6: unknown statement 'foo'"),
            std::string::npos)
      << parse_error("ok\n  {% foo %}");
  EXPECT_NE(parse_error("{{ x ").find("at 1:1: unclosed variable tag"), std::string::npos);
  EXPECT_NE(parse_error("a\n{% if x %}").find("at 2:"), std::string::npos);
  EXPECT_NE(parse_error("a\n{% if x %}").find("expected 'elif' or 'else' or 'endif'"),
            std::string::npos);
  EXPECT_NE(parse_error("{% for x in y %}").find("'endfor'"), std::string::npos);
  EXPECT_NE(parse_error("{# never closed").find("at 1:1: unclosed comment"), std::string::npos);
  EXPECT_NE(parse_error("{{ 'abc }}").find("at 1:4: unterminated string"), std::string::npos);
  EXPECT_NE(parse_error("{{ 1 + }}").find("at 1:8"), std::string::npos);
  EXPECT_NE(parse_error("{% endif %}").find("unknown statement 'endif'"), std::string::npos);
  EXPECT_NE(parse_error("{{ a ! b }}").find("unexpected character '!'"), std::string::npos);
  EXPECT_NE(parse_error("{% for x in y recursive %}{% endfor %}").find("not supported"),
            std::string::npos);
}

TEST(ChatTemplate, RaiseExceptionSurfacesItsMessage) {
  const std::string e = render_error("line\n{{ raise_exception('Roles must alternate: ' ~ 3) }}");
  EXPECT_NE(e.find("Roles must alternate: 3"), std::string::npos) << e;
  EXPECT_NE(e.find("2:"), std::string::npos) << e;
}

TEST(ChatTemplate, UnknownFiltersAndTestsAreErrors) {
  EXPECT_NE(render_error("{{ 'x' | frobnicate }}").find("no filter named 'frobnicate'"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 1 is frobnicated }}").find("no test named 'frobnicated'"),
            std::string::npos);
  EXPECT_NE(render_error("{{ nothing() }}").find("'nothing' is undefined"), std::string::npos);
  EXPECT_NE(render_error("{{ messages.x.y }}").find("has no attribute 'x'"), std::string::npos);
  EXPECT_NE(render_error("{{ 'a' - 1 }}").find("unsupported operand"), std::string::npos);
  EXPECT_NE(render_error("{{ [].append(1) }}").find("unsafe"), std::string::npos);
  EXPECT_NE(render_error("{% set x.y = 1 %}").find("non-namespace"), std::string::npos);
}

TEST(ChatTemplate, BadInputJsonIsAnError) {
  ChatTemplateInputs in = simple_inputs();
  in.tools_json = "[{\"a\": }]";
  EXPECT_NE(render_error("{{ tools }}", in).find("tools: invalid JSON"), std::string::npos);
  in = simple_inputs();
  in.messages[1].tool_calls_json = "[";
  EXPECT_NE(render_error("x", in).find("tool_calls: invalid JSON"), std::string::npos);
  in = simple_inputs();
  in.extra_context_json = "[1]";
  EXPECT_NE(render_error("x", in).find("expected a JSON object"), std::string::npos);
  in = simple_inputs();
  in.tools_json = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_NE(render_error("x", in).find("nesting too deep"), std::string::npos);
}

TEST(ChatTemplate, InputsReachTheTemplate) {
  ChatTemplateInputs in = simple_inputs();
  in.messages[1].name = "bob";
  in.messages[1].tool_call_id = "id1";
  in.messages[1].tool_calls_json =
      R"([{"function": {"name": "f", "arguments": {"b": 1, "a": 2}}}])";
  in.tools_json = R"([{"name": "t"}])";
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.date_string = "1 Jan 2030";
  in.extra_context_json = R"({"enable_thinking": false})";
  in.add_generation_prompt = false;
  EXPECT_EQ(
      render("{{ bos_token }}{{ messages[1] | tojson }}|{{ tools[0].name }}|{{ date_string }}|"
             "{{ enable_thinking }}|{{ add_generation_prompt }}|{{ documents }}{{ eos_token }}",
             in),
      R"(<s>{"role": "user", "content": "Hi {{ x }}", "name": "bob", "tool_call_id": "id1", )"
      R"("tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": 2}}}]}|t|)"
      R"(1 Jan 2030|False|False|None</s>)");
  // Absent optional fields are absent keys; tools default to None.
  EXPECT_EQ(render("{{ 'name' in messages[0] }}{{ tools is none }}{{ date_string is defined }}"),
            "FalseTrueFalse");
}

TEST(ChatTemplate, DeepNestingIsAnErrorNotACrash) {
  std::string deep_if;
  for (int i = 0; i < 5000; ++i) deep_if += "{% if true %}";
  EXPECT_NE(parse_error(deep_if).find("nested too deeply"), std::string::npos);
  EXPECT_NE(parse_error("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}")
                .find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(parse_error("{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}")
                .find("nested too deeply"),
            std::string::npos);
  std::string nots = "{{ ";
  for (int i = 0; i < 100000; ++i) nots += "not ";
  EXPECT_NE(parse_error(nots + "1 }}").find("nested too deeply"), std::string::npos);
  std::string minus = "{{ " + std::string(100000, '-') + "1 }}";
  EXPECT_NE(parse_error(minus).find("nested too deeply"), std::string::npos);
  std::string filters = "{{ 'a'";
  for (int i = 0; i < 100000; ++i) filters += "|trim";
  EXPECT_NE(parse_error(filters + " }}").find("nested too deeply"), std::string::npos);
  std::string sum = "{{ 1";
  for (int i = 0; i < 100000; ++i) sum += "+1";
  EXPECT_NE(parse_error(sum + " }}").find("nested too deeply"), std::string::npos);
  std::string attrs = "{{ messages";
  for (int i = 0; i < 100000; ++i) attrs += ".x";
  EXPECT_NE(parse_error(attrs + " }}").find("nested too deeply"), std::string::npos);
  // Values built by a loop cannot nest without bound either.
  EXPECT_NE(render_error("{% set ns = namespace(x=1) %}{% for i in range(100000) %}"
                         "{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}")
                .find("nested deeper"),
            std::string::npos);
  EXPECT_NE(render_error("{% set ns = namespace() %}{% set ns.self = [ns] %}").find("namespace"),
            std::string::npos);
  EXPECT_NE(render_error("{{ namespace(_x=1) }}").find("underscore"), std::string::npos);
}

TEST(ChatTemplate, RunawayTemplatesHitLimits) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_NE(render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                         "{% endfor %}")
                .find("steps"),
            std::string::npos);
  EXPECT_NE(render_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}").find("output"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 'x' * 10000000000 }}").find("limit"), std::string::npos);
  EXPECT_NE(render_error("{{ range(10000000) | length }}").find("range too big"),
            std::string::npos);
  EXPECT_NE(render_error("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}").find("deep"),
            std::string::npos);
  EXPECT_NE(render_error("{% set ns = namespace(s='x') %}{% for i in range(100) %}"
                         "{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
                .find("limit"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
  EXPECT_NE(render_error("{{ 2 ** 64 }}").find("overflow"), std::string::npos);
  EXPECT_NE(render_error("{{ (-9223372036854775807 - 1) // -1 }}").find("overflow"),
            std::string::npos);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 60.0);
}

TEST(ChatTemplate, LoopsAndMessagesOfRealisticSize) {
  ChatTemplateInputs in;
  for (int i = 0; i < 2000; ++i) {
    in.messages.push_back({i % 2 ? "assistant" : "user", "message " + std::to_string(i)});
  }
  const std::string out = render(kChatMlTemplate, in);
  EXPECT_NE(out.find("message 1999<|im_end|>"), std::string::npos);
}

TEST(ChatTemplate, TemplateIsReusableAndCopyable) {
  const ChatTemplate a = ChatTemplate::parse("{% set x = messages|length %}{{ x }}");
  const ChatTemplate b = a;
  ChatTemplateInputs in = simple_inputs();
  EXPECT_EQ(a.render(in), "2");
  in.messages.pop_back();
  EXPECT_EQ(b.render(in), "1");
  EXPECT_EQ(a.render(simple_inputs()), "2");
}

// Random templates built from Jinja fragments, and real templates with random edits: parse and
// render must either succeed or throw infera::Error, never crash (run under ASan too).
TEST(ChatTemplate, RandomTemplatesNeverCrash) {
  static const char* kFragments[] = {
      "{{",
      "}}",
      "{%",
      "%}",
      "{#",
      "#}",
      "-",
      "+",
      " ",
      "\n",
      "if",
      "elif",
      "else",
      "endif",
      "for",
      "in",
      "endfor",
      "set",
      "=",
      "ns",
      ".",
      "x",
      "messages",
      "message",
      "loop",
      "[",
      "]",
      "(",
      ")",
      "{",
      "}",
      ",",
      ":",
      "'a'",
      "\"b\"",
      "1",
      "-1",
      "2.5",
      "|",
      "trim",
      "tojson",
      "length",
      "is",
      "not",
      "defined",
      "none",
      "and",
      "or",
      "~",
      "*",
      "**",
      "/",
      "//",
      "%",
      "==",
      "!=",
      "<",
      ">=",
      "namespace(",
      "range(",
      "raise_exception(",
      "macro",
      "endmacro",
      "break",
      "continue",
      "::-1",
      "items()",
      ".split(",
      "'\\",
      "true",
      "loop.index",
      "select",
      "map(attribute='role')",
      "selectattr(",
      "default(",
      "join",
      "content",
  };
  std::mt19937 rng(12345);
  ChatTemplateInputs in = simple_inputs();
  in.tools_json = R"([{"type": "function", "function": {"name": "f"}}])";
  int rendered = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string src;
    const int n = 1 + static_cast<int>(rng() % 24);
    for (int k = 0; k < n; ++k) src += kFragments[rng() % std::size(kFragments)];
    try {
      ChatTemplate::parse(src).render(in);
      ++rendered;
    } catch (const Error&) {
    }
  }
  EXPECT_GT(rendered, 100);  // the generator does produce valid templates too

  const std::string dir = std::string(INFERA_TEST_DATA_DIR) + "/chat/templates/";
  for (const char* name : {"qwen3", "llama3.1", "mistral-v0.3", "gemma3"}) {
    std::ifstream f(dir + name + ".jinja");
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string original = ss.str();
    ASSERT_FALSE(original.empty()) << name;
    for (int iter = 0; iter < 300; ++iter) {
      std::string src = original;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits && !src.empty(); ++k) {
        const size_t pos = rng() % src.size();
        switch (rng() % 3) {
          case 0:
            src.erase(pos, 1 + rng() % 8);
            break;
          case 1:
            src.insert(pos, kFragments[rng() % std::size(kFragments)]);
            break;
          default:
            src[pos] = static_cast<char>(rng() % 256);
        }
      }
      try {
        ChatTemplate::parse(src).render(in);
      } catch (const Error&) {
      }
    }
  }
}

TEST(ChatTemplate, ForModelUsesGgufTemplateOrChatMlFallback) {
  using testing::GgufBuilder;
  const std::vector<uint8_t> with = GgufBuilder()
                                        .kv_string("general.architecture", "llama")
                                        .kv_string("tokenizer.chat_template",
                                                   "{% for m in messages %}[{{ m.role }}]"
                                                   "{% endfor %}")
                                        .build();
  auto file = gguf::GgufFile::from_memory(with.data(), with.size());
  const ModelChatTemplate own = chat_template_for(*file);
  EXPECT_FALSE(own.is_fallback);
  EXPECT_EQ(own.tmpl.render(simple_inputs()), "[system][user]");

  const std::vector<uint8_t> without =
      GgufBuilder().kv_string("general.architecture", "gemma3").build();
  auto bare = gguf::GgufFile::from_memory(without.data(), without.size());
  const ModelChatTemplate fallback = chat_template_for(*bare);
  EXPECT_TRUE(fallback.is_fallback);
  EXPECT_EQ(fallback.tmpl.render(simple_inputs()), render(kChatMlTemplate));

  const std::vector<uint8_t> broken =
      GgufBuilder().kv_string("tokenizer.chat_template", "{% if %}").build();
  auto bad = gguf::GgufFile::from_memory(broken.data(), broken.size());
  EXPECT_NE(error_of([&] { chat_template_for(*bad); }).find("syntax error"), std::string::npos);
}

TEST(ChatTemplate, RealModelFiles) {
  const char* env = std::getenv("INFERA_MODELS_DIR");
  const char* home = std::getenv("HOME");
  const std::string dir =
      env && *env ? env : std::string(home ? home : "") + "/.cache/infera/models";
  const std::string smollm = dir + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  const std::string gemma = dir + "/gemma-3-270m-q4_k_m.gguf";
  if (!std::ifstream(smollm) || !std::ifstream(gemma)) {
    GTEST_SKIP() << "real models not in " << dir << " (tools/fetch_models.sh)";
  }
  auto smol = gguf::GgufFile::open(smollm);
  const ModelChatTemplate s = chat_template_for(*smol);
  EXPECT_FALSE(s.is_fallback);
  std::ifstream f(std::string(INFERA_TEST_DATA_DIR) + "/chat/templates/smollm2.jinja");
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(s.tmpl.source(), ss.str());
  ChatTemplateInputs in;
  in.messages = {{"user", "Hi"}};
  EXPECT_EQ(s.tmpl.render(in),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // The Gemma 3 270M file carries no chat template: ChatML with the fallback flag.
  auto gem = gguf::GgufFile::open(gemma);
  EXPECT_TRUE(chat_template_for(*gem).is_fallback);
}

TEST(ChatJson, ParsesAndDumpsLikePython) {
  const chat::Value v = chat::parse_json(
      R"({"b": [1, 2.0, -0.5, 1e300, 12345678901234567890, true, null], "a": "\u00e9\ud83e\udd99\n"})");
  chat::JsonDumpOptions o;
  EXPECT_EQ(chat::dump_json(v, o),
            "{\"b\": [1, 2.0, -0.5, 1e+300, 1.2345678901234567e+19, true, null], "
            "\"a\": \"\xC3\xA9\xF0\x9F\xA6\x99\\n\"}");
  o.ensure_ascii = true;
  o.sort_keys = true;
  EXPECT_EQ(chat::dump_json(v, o).substr(0, 25), "{\"a\": \"\\u00e9\\ud83e\\udd99");
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "tru", "\"\\x\"", "1 2", "[\"\x01\"]"}) {
    EXPECT_THROW(chat::parse_json(bad), Error) << bad;
  }
  EXPECT_EQ(chat::format_python_float(0.1), "0.1");
  EXPECT_EQ(chat::format_python_float(1e16), "1e+16");
  EXPECT_EQ(chat::format_python_float(123456789012345.6), "123456789012345.6");
  EXPECT_EQ(chat::format_python_float(0.0001), "0.0001");
  EXPECT_EQ(chat::format_python_float(0.00001), "1e-05");
  EXPECT_EQ(chat::format_python_float(-2.5e-10), "-2.5e-10");
}

}  // namespace
}  // namespace infera
