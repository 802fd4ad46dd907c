#pragma once
// The value model of the chat-template engine: the Python objects a Jinja template sees when
// transformers renders it (None, bool, int, float, str, list, tuple, dict, namespace, function)
// plus jinja2's Undefined. Lists and dicts are shared, immutable after construction (the sandbox
// forbids mutation); a namespace is the one mutable container (`set ns.x = ...`).
//
// Dicts keep insertion order, as Python dicts do, so iteration and tojson match the reference.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infera::chat {

class Value;
using Array = std::vector<Value>;

// An insertion-ordered dict with string keys (JSON and template dicts only use string keys).
struct Object {
  std::vector<std::pair<std::string, Value>> items;

  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(std::string key, Value value);  // replaces in place or appends
};

// A callable: a builtin global or a macro. The interpreter knows the concrete types.
class Function {
 public:
  virtual ~Function() = default;
  virtual const std::string& name() const = 0;
};

// Lists and dicts nest at most this deep (bounds every recursive walk and destructor).
inline constexpr int kMaxValueDepth = 256;

enum class Kind {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kArray,
  kObject,
  kNamespace,
  kFunction
};

class Value {
 public:
  Value() = default;  // Undefined
  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value array(Array items, bool is_tuple = false);
  static Value object(Object obj);
  static Value namespace_object(Object obj);
  static Value function(std::shared_ptr<const Function> fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // Python's numbers.Number: bool, int and float.
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_tuple() const { return kind_ == Kind::kArray && tuple_; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_function() const { return kind_ == Kind::kFunction; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }
  double as_double() const;  // any number
  const std::string& as_string() const { return s_; }
  const std::string& undefined_name() const { return s_; }
  const Array& as_array() const { return *arr_; }
  const Object& as_object() const { return *obj_; }
  Object& namespace_items() const { return *obj_; }  // the namespace is shared and mutable
  const std::shared_ptr<const Function>& as_function() const { return fn_; }

  // Nesting depth of lists/dicts (0 for scalars); construction past kMaxValueDepth throws.
  int depth() const { return depth_; }

  // Python truthiness (Undefined is falsy).
  bool truthy() const;
  // Python's type name, used in error messages ("str", "NoneType", "dict", ...).
  std::string type_name() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  bool tuple_ = false;
  uint16_t depth_ = 0;
  int64_t i_ = 0;
  double f_ = 0.0;
  std::string s_;  // the string, or the name of an undefined variable
  std::shared_ptr<const Array> arr_;
  std::shared_ptr<Object> obj_;
  std::shared_ptr<const Function> fn_;
};

// Python's == between two values (deep for lists and dicts; 1 == 1.0 == True).
bool values_equal(const Value& a, const Value& b);

// str() and repr() as Python prints them ("None", "True", "1.0", "['a', 1]", "{'k': 'v'}").
std::string to_python_str(const Value& v);
std::string to_python_repr(const Value& v);
// Python's repr of a float: the shortest round-trip digits, scientific outside [1e-4, 1e16).
std::string format_python_float(double d);

// JSON (RFC 8259) to Value: objects keep key order, integers that fit int64 stay integers.
// Throws infera::Error (kInvalidArgument) naming the offset on malformed input.
Value parse_json(std::string_view text);

struct JsonDumpOptions {
  int indent = -1;  // -1: one line
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// Python's json.dumps with the given options; throws infera::Error for values JSON cannot hold
// (Undefined, namespaces, functions).
std::string dump_json(const Value& v, const JsonDumpOptions& options);

}  // namespace infera::chat
