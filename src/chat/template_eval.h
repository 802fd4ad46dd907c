#pragma once
// The interpreter for parsed chat templates and the builtins it offers (filters, tests, the
// methods of str/dict/list, and the globals transformers defines). Internal to src/chat/.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "chat/template_ast.h"
#include "chat/value.h"

namespace infera::chat {

struct RenderOptions {
  int64_t now_unix_seconds = -1;        // strftime_now's clock; < 0: the current time
  size_t max_output_bytes = 16u << 20;  // rendered text (and any one string built) beyond: error
  uint64_t max_steps = 1'000'000;       // statements + loop iterations + calls beyond: error
  int max_call_depth = 64;              // nested macro calls
};

// Renders `program` with `context` as its variables. Throws infera::Error (kInvalidArgument)
// "chat template error at L:C: ..." for anything the template does wrong.
std::string render_program(const Program& program, const Object& context,
                           const RenderOptions& options);

// ---- shared with template_builtins.cpp ----

struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument at `index` or named `name`; nullptr when absent.
  const Value* get(size_t index, std::string_view name) const;
};

// Thrown inside the interpreter; caught and given a position where the node is known.
[[noreturn]] void template_error(const std::string& message);

// Budget checks shared by the builtins.
struct Limits {
  size_t max_string_bytes = 16u << 20;
  void check_size(size_t bytes) const;
};

// jinja2's environment.getattr / getitem: a missing key, index or attribute is Undefined.
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);

// Iteration as the `for` statement and list-producing filters see it: list items, dict keys,
// string characters; Undefined iterates as empty; anything else is an error.
Array iterate(const Value& v);

Value apply_filter(const std::string& name, const Value& v, const Args& args, const Limits& limits);
bool apply_test(const std::string& name, const Value& v, const Args& args);
// A method call obj.name(args) on a str, dict or list; sets found=false when there is none.
Value call_method(const Value& obj, const std::string& name, const Args& args, bool& found,
                  const Limits& limits);

// Python comparison for <, <=, >, >= (numbers with numbers, strings with strings, lists
// element-wise); raises a template error for other pairs.
int compare_values(const Value& a, const Value& b, const char* op);

}  // namespace infera::chat
