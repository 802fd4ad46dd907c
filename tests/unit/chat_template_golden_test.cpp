// Chat templates rendered by infera against Python jinja2 as transformers configures it.
// Golden file: tests/data/chat/golden.json, written by tools/gen_chat_template_golden.py (its
// docstring says how to regenerate). Templates: tests/data/chat/templates/*.jinja.
//
// "cases" are real model templates over conversations; "snippets" are small templates that pin
// one language feature each (whitespace control, filters, tests, methods, scoping). A case with
// "error" must throw infera::Error whose message contains that text.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "chat/value.h"
#include "core/error.h"

namespace infera {
namespace {

const std::string kDataDir = std::string(INFERA_TEST_DATA_DIR) + "/chat";
constexpr int64_t kGoldenVersion = 1;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const chat::Value& field(const chat::Value& obj, const char* key) {
  const chat::Value* v = obj.as_object().find(key);
  if (!v) throw std::runtime_error(std::string("golden.json: missing field ") + key);
  return *v;
}

std::string str_field(const chat::Value& obj, const char* key) {
  const chat::Value* v = obj.as_object().find(key);
  return v && v->is_string() ? v->as_string() : std::string();
}

const chat::Value& golden() {
  static const chat::Value g = chat::parse_json(read_file(kDataDir + "/golden.json"));
  return g;
}

ChatTemplateInputs inputs_from(const chat::Value& in) {
  ChatTemplateInputs inputs;
  for (const chat::Value& m : field(in, "messages").as_array()) {
    ChatMessage msg;
    msg.role = str_field(m, "role");
    msg.content = str_field(m, "content");
    msg.name = str_field(m, "name");
    msg.tool_call_id = str_field(m, "tool_call_id");
    msg.tool_calls_json = str_field(m, "tool_calls_json");
    inputs.messages.push_back(std::move(msg));
  }
  inputs.add_generation_prompt = field(in, "add_generation_prompt").truthy();
  inputs.bos_token = str_field(in, "bos_token");
  inputs.eos_token = str_field(in, "eos_token");
  inputs.tools_json = str_field(in, "tools_json");
  inputs.date_string = str_field(in, "date_string");
  inputs.extra_context_json = str_field(in, "extra_context_json");
  inputs.now_unix_seconds = field(in, "now_unix_seconds").as_int();
  return inputs;
}

// Where two renders first differ, with some context, for a readable failure.
std::string first_difference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) + "\n  want: ..." +
         want.substr(from, 100) + "\n  got:  ..." + got.substr(from, 100);
}

// Renders one golden entry; returns "" when it matches, else what went wrong.
std::string check_entry(const ChatTemplate& tmpl, const ChatTemplateInputs& inputs,
                        const chat::Value& entry) {
  const chat::Value* expected = entry.as_object().find("expected");
  const chat::Value* error = entry.as_object().find("error");
  try {
    const std::string got = tmpl.render(inputs);
    if (error) return "expected error '" + error->as_string() + "', rendered:\n" + got;
    if (got != expected->as_string()) return first_difference(expected->as_string(), got);
    return "";
  } catch (const Error& e) {
    if (!error) return std::string("unexpected error: ") + e.what();
    if (std::string(e.what()).find(error->as_string()) == std::string::npos) {
      return "error '" + std::string(e.what()) + "' lacks '" + error->as_string() + "'";
    }
    return "";
  }
}

TEST(ChatTemplateGolden, VersionAndCoverage) {
  EXPECT_EQ(field(golden(), "version").as_int(), kGoldenVersion)
      << "golden.json is from another generator version: run tools/gen_chat_template_golden.py";
  std::map<std::string, int> per_template;
  for (const chat::Value& c : field(golden(), "cases").as_array()) {
    ++per_template[str_field(c, "template")];
  }
  EXPECT_GE(per_template.size(), 8u);
  for (const auto& [name, n] : per_template) EXPECT_GE(n, 10) << name;
}

TEST(ChatTemplateGolden, RealTemplatesMatchJinja2) {
  std::map<std::string, ChatTemplate> templates;
  std::map<std::string, std::pair<int, int>> tally;  // template -> (passed, total)
  for (const chat::Value& c : field(golden(), "cases").as_array()) {
    const std::string name = str_field(c, "template");
    if (!templates.count(name)) {
      templates.emplace(name,
                        ChatTemplate::parse(read_file(kDataDir + "/templates/" + name + ".jinja")));
    }
    const std::string problem = check_entry(templates.at(name), inputs_from(field(c, "inputs")), c);
    auto& [passed, total] = tally[name];
    ++total;
    if (problem.empty()) {
      ++passed;
    } else {
      ADD_FAILURE() << name << " / " << str_field(c, "name") << ": " << problem;
    }
  }
  for (const auto& [name, t] : tally) {
    std::printf("[ chat     ] %-14s %d/%d cases match jinja2\n", name.c_str(), t.first, t.second);
  }
}

TEST(ChatTemplateGolden, SnippetsMatchJinja2) {
  int passed = 0;
  int total = 0;
  for (const chat::Value& s : field(golden(), "snippets").as_array()) {
    ++total;
    const std::string name = str_field(s, "name");
    std::string problem;
    try {
      const ChatTemplate tmpl = ChatTemplate::parse(str_field(s, "source"));
      problem = check_entry(tmpl, inputs_from(field(s, "inputs")), s);
    } catch (const Error& e) {
      const chat::Value* error = s.as_object().find("error");
      if (!error || std::string(e.what()).find(error->as_string()) == std::string::npos) {
        problem = std::string("parse error: ") + e.what();
      }
    }
    if (problem.empty()) {
      ++passed;
    } else {
      ADD_FAILURE() << "snippet " << name << " `" << str_field(s, "source") << "`: " << problem;
    }
  }
  std::printf("[ chat     ] snippets       %d/%d match jinja2\n", passed, total);
}

}  // namespace
}  // namespace infera
