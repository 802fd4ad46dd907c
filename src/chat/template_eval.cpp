// The tree-walking interpreter for chat templates.
//
// Scoping follows jinja2: a `for` body runs in a fresh scope each iteration (a `set` inside a
// loop is gone after it, which is why templates use namespace()); `if` opens no scope; a macro
// runs in its own scope above the template's top level. Every render is bounded: output size,
// number of steps (statements, loop iterations, calls) and nesting depth are capped, and going
// past a cap is a template error, never a crash or a hang.
#include "chat/template_eval.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>

#include "chat/text_util.h"
#include "core/error.h"

namespace infera::chat {
namespace {

// Internal exception: a template error not yet tagged with a position.
struct RenderFailure {
  std::string message;
  bool positioned = false;
};

constexpr int kMaxEvalDepth = 400;     // C++ recursion through eval/exec, macros included
constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox MAX_RANGE

enum class BuiltinId { kRaiseException, kNamespace, kRange, kStrftimeNow, kDict };

class Builtin : public Function {
 public:
  Builtin(std::string name, BuiltinId id) : name_(std::move(name)), id_(id) {}
  const std::string& name() const override { return name_; }
  BuiltinId id() const { return id_; }

 private:
  std::string name_;
  BuiltinId id_;
};

class Macro : public Function {
 public:
  explicit Macro(const Stmt* def) : def_(def) {}
  const std::string& name() const override { return def_->targets[0]; }
  const Stmt* def() const { return def_; }

 private:
  const Stmt* def_;
};

// One scope. Scopes hold a handful of names, so a flat vector beats a hash map here.
struct Frame {
  Frame* parent = nullptr;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* lookup(const std::string& name) const {
    for (const Frame* f = this; f; f = f->parent) {
      for (const auto& [k, v] : f->vars) {
        if (k == name) return &v;
      }
    }
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    for (auto& [k, existing] : vars) {
      if (k == name) {
        existing = std::move(v);
        return;
      }
    }
    vars.emplace_back(name, std::move(v));
  }
};

enum class Flow { kNormal, kBreak, kContinue };

class Interpreter {
 public:
  Interpreter(const RenderOptions& options) : options_(options) {
    limits_.max_string_bytes = options.max_output_bytes;
  }

  std::string run(const Program& program, const Object& context) {
    Frame globals;
    auto add_builtin = [&](const char* name, BuiltinId id) {
      globals.set(name, Value::function(std::make_shared<Builtin>(name, id)));
    };
    add_builtin("raise_exception", BuiltinId::kRaiseException);
    add_builtin("namespace", BuiltinId::kNamespace);
    add_builtin("range", BuiltinId::kRange);
    add_builtin("strftime_now", BuiltinId::kStrftimeNow);
    add_builtin("dict", BuiltinId::kDict);
    Frame root;
    root.parent = &globals;
    for (const auto& [k, v] : context.items) root.set(k, v);
    root_ = &root;
    try {
      const Flow flow = exec_body(program.body, root);
      if (flow != Flow::kNormal) fail_plain("'break'/'continue' outside of a loop");
    } catch (const RenderFailure& f) {
      throw Error(ErrorKind::kInvalidArgument,
                  f.positioned ? f.message : "chat template error: " + f.message);
    }
    return std::move(out_);
  }

 private:
  [[noreturn]] static void fail_plain(const std::string& message) {
    throw RenderFailure{message, false};
  }

  template <typename Node>
  [[noreturn]] static void rethrow_at(const Node& node, const RenderFailure& f) {
    if (f.positioned) throw f;
    throw RenderFailure{"chat template error at " + std::to_string(node.line) + ":" +
                            std::to_string(node.column) + ": " + f.message,
                        true};
  }

  struct DepthGuard {
    explicit DepthGuard(Interpreter& in) : interp(in) {
      if (++interp.depth_ > kMaxEvalDepth) fail_plain("template nesting/recursion too deep");
    }
    ~DepthGuard() { --interp.depth_; }
    Interpreter& interp;
  };

  void step() {
    if (++steps_ > options_.max_steps) {
      fail_plain("template exceeded the limit of " + std::to_string(options_.max_steps) + " steps");
    }
  }

  void emit(std::string_view s) {
    if (out_.size() + s.size() > options_.max_output_bytes) {
      fail_plain("rendered output exceeds the limit of " +
                 std::to_string(options_.max_output_bytes) + " bytes");
    }
    out_.append(s);
  }

  // ---- statements ----

  Flow exec_body(const Body& body, Frame& frame) {
    for (const StmtPtr& s : body) {
      const Flow flow = exec(*s, frame);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Flow exec(const Stmt& s, Frame& frame) {
    DepthGuard guard(*this);
    step();
    try {
      switch (s.kind) {
        case StmtKind::kText:
          emit(s.text);
          return Flow::kNormal;
        case StmtKind::kOutput: {
          const Value v = eval(*s.expr, frame);
          emit(to_python_str(v));
          return Flow::kNormal;
        }
        case StmtKind::kIf:
          for (size_t i = 0; i < s.conditions.size(); ++i) {
            if (eval(*s.conditions[i], frame).truthy()) return exec_body(s.bodies[i], frame);
          }
          return exec_body(s.else_body, frame);
        case StmtKind::kFor:
          return exec_for(s, frame);
        case StmtKind::kSet:
          exec_set(s, frame);
          return Flow::kNormal;
        case StmtKind::kSetBlock: {
          std::string saved;
          saved.swap(out_);
          const Flow flow = exec_body(s.body, frame);
          std::string captured;
          captured.swap(out_);
          out_.swap(saved);
          frame.set(s.targets[0], Value::string(std::move(captured)));
          return flow;
        }
        case StmtKind::kMacro:
          frame.set(s.targets[0], Value::function(std::make_shared<Macro>(&s)));
          return Flow::kNormal;
        case StmtKind::kBreak:
          return Flow::kBreak;
        case StmtKind::kContinue:
          return Flow::kContinue;
      }
    } catch (const RenderFailure& f) {
      rethrow_at(s, f);
    }
    return Flow::kNormal;
  }

  void bind_targets(const std::vector<std::string>& targets, const Value& v, Frame& frame) {
    if (targets.size() == 1) {
      frame.set(targets[0], v);
      return;
    }
    const Array items = iterate(v);
    if (items.size() != targets.size()) {
      fail_plain("cannot unpack " + std::to_string(items.size()) + " values into " +
                 std::to_string(targets.size()) + " names");
    }
    for (size_t i = 0; i < targets.size(); ++i) frame.set(targets[i], items[i]);
  }

  Flow exec_for(const Stmt& s, Frame& frame) {
    const Value iterable = eval(*s.expr, frame);
    Array items = iterate(iterable);
    if (s.condition) {
      Array kept;
      for (const Value& item : items) {
        step();
        Frame scope;
        scope.parent = &frame;
        bind_targets(s.targets, item, scope);
        if (eval(*s.condition, scope).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec_body(s.else_body, frame);
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      step();
      Frame scope;
      scope.parent = &frame;
      bind_targets(s.targets, items[static_cast<size_t>(i)], scope);
      Object loop;
      loop.items.reserve(11);
      loop.items.emplace_back("index", Value::integer(i + 1));
      loop.items.emplace_back("index0", Value::integer(i));
      loop.items.emplace_back("revindex", Value::integer(n - i));
      loop.items.emplace_back("revindex0", Value::integer(n - i - 1));
      loop.items.emplace_back("first", Value::boolean(i == 0));
      loop.items.emplace_back("last", Value::boolean(i == n - 1));
      loop.items.emplace_back("length", Value::integer(n));
      loop.items.emplace_back("depth", Value::integer(1));
      loop.items.emplace_back("depth0", Value::integer(0));
      loop.items.emplace_back("previtem", i > 0 ? items[static_cast<size_t>(i - 1)]
                                                : Value::undefined("there is no previous item"));
      loop.items.emplace_back("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)]
                                                    : Value::undefined("there is no next item"));
      scope.set("loop", Value::object(std::move(loop)));
      const Flow flow = exec_body(s.body, scope);
      if (flow == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  void exec_set(const Stmt& s, Frame& frame) {
    Value v = eval(*s.expr, frame);
    if (!s.attr.empty()) {
      const Value* target = frame.lookup(s.targets[0]);
      if (!target || !target->is_namespace()) {
        fail_plain("cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
      }
      // A namespace inside a namespace could close a reference cycle; no real template needs it.
      if (contains_namespace(v)) fail_plain("cannot store a namespace in a namespace attribute");
      check_namespace_name(s.attr);
      target->namespace_items().set(s.attr, std::move(v));
      return;
    }
    bind_targets(s.targets, v, frame);
  }

  // transformers' TemplateNamespace refuses underscore-prefixed attributes.
  static void check_namespace_name(const std::string& name) {
    if (!name.empty() && name[0] == '_') {
      fail_plain(
          "Chat templates cannot store underscore-prefixed attributes on a namespace, but "
          "got '" +
          name + "'");
    }
  }

  static bool contains_namespace(const Value& v) {
    if (v.is_namespace()) return true;
    if (v.is_array()) {
      for (const Value& item : v.as_array()) {
        if (contains_namespace(item)) return true;
      }
    }
    if (v.is_object()) {
      for (const auto& [k, item] : v.as_object().items) {
        if (contains_namespace(item)) return true;
      }
    }
    return false;
  }

  // ---- expressions ----

  Value eval(const Expr& e, Frame& frame) {
    DepthGuard guard(*this);
    try {
      return eval_inner(e, frame);
    } catch (const RenderFailure& f) {
      rethrow_at(e, f);
    }
  }

  Args eval_args(const Expr& e, size_t first, Frame& frame) {
    Args args;
    const size_t n_kw = e.kwarg_names.size();
    const size_t n_pos = e.children.size() - first - n_kw;
    for (size_t i = 0; i < n_pos; ++i)
      args.positional.push_back(eval(*e.children[first + i], frame));
    for (size_t i = 0; i < n_kw; ++i) {
      args.keyword.emplace_back(e.kwarg_names[i], eval(*e.children[first + n_pos + i], frame));
    }
    return args;
  }

  [[noreturn]] static void undefined_error(const Value& v) {
    fail_plain(v.undefined_name().empty() ? "value is undefined" : v.undefined_name());
  }

  Value eval_inner(const Expr& e, Frame& frame) {
    switch (e.kind) {
      case ExprKind::kLiteral:
        return e.value;
      case ExprKind::kName: {
        if (const Value* v = frame.lookup(e.name)) return *v;
        return Value::undefined("'" + e.name + "' is undefined");
      }
      case ExprKind::kList:
      case ExprKind::kTuple: {
        Array items;
        for (const auto& c : e.children) items.push_back(eval(*c, frame));
        return Value::array(std::move(items), e.kind == ExprKind::kTuple);
      }
      case ExprKind::kDict: {
        Object obj;
        for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
          const Value k = eval(*e.children[i], frame);
          if (!k.is_string()) fail_plain("dict keys must be strings in chat templates");
          obj.set(k.as_string(), eval(*e.children[i + 1], frame));
        }
        return Value::object(std::move(obj));
      }
      case ExprKind::kGetAttr:
        return get_attribute(eval(*e.children[0], frame), e.name);
      case ExprKind::kGetItem:
        return get_item(eval(*e.children[0], frame), eval(*e.children[1], frame));
      case ExprKind::kSlice:
        return eval_slice(e, frame);
      case ExprKind::kCall:
        return eval_call(e, frame);
      case ExprKind::kFilter: {
        const Value v = eval(*e.children[0], frame);
        const Args args = eval_args(e, 1, frame);
        return apply_filter(e.name, v, args, limits_);
      }
      case ExprKind::kTest: {
        if (e.name == "defined" || e.name == "undefined") {
          const bool defined = !eval(*e.children[0], frame).is_undefined();
          return Value::boolean((e.name == "defined") == defined ? !e.negated : e.negated);
        }
        const Value v = eval(*e.children[0], frame);
        const Args args = eval_args(e, 1, frame);
        return Value::boolean(apply_test(e.name, v, args) != e.negated);
      }
      case ExprKind::kNot:
        return Value::boolean(!eval(*e.children[0], frame).truthy());
      case ExprKind::kNeg:
      case ExprKind::kPos: {
        const Value v = eval(*e.children[0], frame);
        if (v.is_undefined()) undefined_error(v);
        if (!v.is_number())
          fail_plain("bad operand type for unary " +
                     std::string(e.kind == ExprKind::kNeg ? "-" : "+") + ": '" + v.type_name() +
                     "'");
        if (e.kind == ExprKind::kPos) return v.is_float() ? v : Value::integer(v.as_int());
        if (v.is_float()) return Value::number(-v.as_double());
        if (v.as_int() == INT64_MIN) fail_plain("integer overflow");
        return Value::integer(-v.as_int());
      }
      case ExprKind::kAnd: {
        Value l = eval(*e.children[0], frame);
        if (!l.truthy()) return l;
        return eval(*e.children[1], frame);
      }
      case ExprKind::kOr: {
        Value l = eval(*e.children[0], frame);
        if (l.truthy()) return l;
        return eval(*e.children[1], frame);
      }
      case ExprKind::kBinary:
        return binary(e.name, eval(*e.children[0], frame), eval(*e.children[1], frame));
      case ExprKind::kCompare: {
        Value left = eval(*e.children[0], frame);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.children[i + 1], frame);
          if (!compare(e.ops[i], left, right)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case ExprKind::kCondition: {
        if (eval(*e.children[1], frame).truthy()) return eval(*e.children[0], frame);
        if (e.children[2]) return eval(*e.children[2], frame);
        return Value::undefined(
            "the inline if-expression evaluated to false and no else "
            "section was defined");
      }
    }
    return Value();
  }

  bool compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return values_equal(a, b);
    if (op == "!=") return !values_equal(a, b);
    if (op == "in" || op == "not in") {
      bool found = false;
      if (b.is_string()) {
        if (a.is_undefined()) undefined_error(a);
        if (!a.is_string()) {
          fail_plain("'in <string>' requires string as left operand, not " + a.type_name());
        }
        found = b.as_string().find(a.as_string()) != std::string::npos;
      } else if (b.is_object()) {
        found = a.is_string() && b.as_object().find(a.as_string()) != nullptr;
      } else if (b.is_array()) {
        for (const Value& item : b.as_array()) {
          if (values_equal(item, a)) {
            found = true;
            break;
          }
        }
      } else if (!b.is_undefined()) {
        fail_plain("argument of type '" + b.type_name() + "' is not iterable");
      }
      return op == "in" ? found : !found;
    }
    const int c = compare_values(a, b, op.c_str());
    if (op == "<") return c < 0;
    if (op == "<=") return c <= 0;
    if (op == ">") return c > 0;
    return c >= 0;
  }

  Value binary(const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
      std::string s = to_python_str(a);
      s += to_python_str(b);
      limits_.check_size(s.size());
      return Value::string(std::move(s));
    }
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    auto type_error = [&]() -> Value {
      fail_plain("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
                 b.type_name() + "'");
    };
    if (a.is_number() && b.is_number()) {
      const bool flt = a.is_float() || b.is_float();
      const double x = a.as_double();
      const double y = b.as_double();
      const int64_t i = a.as_int();
      const int64_t j = b.as_int();
      int64_t r = 0;
      if (op == "+") {
        if (flt) return Value::number(x + y);
        if (__builtin_add_overflow(i, j, &r)) fail_plain("integer overflow");
        return Value::integer(r);
      }
      if (op == "-") {
        if (flt) return Value::number(x - y);
        if (__builtin_sub_overflow(i, j, &r)) fail_plain("integer overflow");
        return Value::integer(r);
      }
      if (op == "*") {
        if (flt) return Value::number(x * y);
        if (__builtin_mul_overflow(i, j, &r)) fail_plain("integer overflow");
        return Value::integer(r);
      }
      if (op == "/") {
        if (y == 0.0) fail_plain("division by zero");
        return Value::number(x / y);
      }
      if (op == "//" || op == "%") {
        if ((flt && y == 0.0) || (!flt && j == 0)) fail_plain("integer division or modulo by zero");
        if (flt) {
          const double q = std::floor(x / y);
          return op == "//" ? Value::number(q) : Value::number(x - q * y);
        }
        if (i == INT64_MIN && j == -1) fail_plain("integer overflow");
        int64_t q = i / j;
        int64_t m = i % j;
        if (m != 0 && ((m < 0) != (j < 0))) {
          --q;
          m += j;
        }
        return Value::integer(op == "//" ? q : m);
      }
      if (op == "**") {
        if (!flt && j >= 0) {
          int64_t result = 1;
          int64_t base = i;
          int64_t exp = j;
          while (exp > 0) {
            if (exp & 1) {
              if (__builtin_mul_overflow(result, base, &result)) fail_plain("integer overflow");
            }
            exp >>= 1;
            if (exp > 0 && __builtin_mul_overflow(base, base, &base))
              fail_plain("integer overflow");
          }
          return Value::integer(result);
        }
        return Value::number(std::pow(x, y));
      }
      return type_error();
    }
    if (op == "+") {
      if (a.is_string() && b.is_string()) {
        limits_.check_size(a.as_string().size() + b.as_string().size());
        return Value::string(a.as_string() + b.as_string());
      }
      if (a.is_array() && b.is_array() && a.is_tuple() == b.is_tuple()) {
        Array items = a.as_array();
        items.insert(items.end(), b.as_array().begin(), b.as_array().end());
        limits_.check_size(items.size());
        return Value::array(std::move(items), a.is_tuple());
      }
      return type_error();
    }
    if (op == "*") {
      const Value* seq = (a.is_string() || a.is_array()) ? &a : &b;
      const Value* count = seq == &a ? &b : &a;
      if (!(seq->is_string() || seq->is_array()) || !(count->is_int() || count->is_bool())) {
        return type_error();
      }
      const int64_t n = std::max<int64_t>(0, count->as_int());
      if (seq->is_string()) {
        const size_t len = seq->as_string().size();
        if (len != 0 && static_cast<uint64_t>(n) > limits_.max_string_bytes / len) {
          limits_.check_size(limits_.max_string_bytes + 1);
        }
        std::string out;
        for (int64_t k = 0; k < n; ++k) out += seq->as_string();
        return Value::string(std::move(out));
      }
      const size_t len = seq->as_array().size();
      if (len != 0 && static_cast<uint64_t>(n) > (limits_.max_string_bytes / 16) / len) {
        fail_plain("list repetition too large");
      }
      Array items;
      for (int64_t k = 0; k < n; ++k) {
        items.insert(items.end(), seq->as_array().begin(), seq->as_array().end());
      }
      return Value::array(std::move(items), seq->is_tuple());
    }
    if (op == "%" && a.is_string())
      fail_plain("printf-style '%' string formatting is not supported");
    return type_error();
  }

  Value eval_slice(const Expr& e, Frame& frame) {
    const Value target = eval(*e.children[0], frame);
    auto bound = [&](int k) -> std::optional<int64_t> {
      if (!e.children[k]) return std::nullopt;
      const Value v = eval(*e.children[k], frame);
      if (v.is_none()) return std::nullopt;
      if (!v.is_int() && !v.is_bool()) fail_plain("slice indices must be integers or None");
      return v.as_int();
    };
    const auto start = bound(1);
    const auto stop = bound(2);
    const auto step_opt = bound(3);
    const int64_t stride = step_opt.value_or(1);
    if (stride == 0) fail_plain("slice step cannot be zero");
    if (target.is_undefined()) undefined_error(target);
    std::vector<size_t> offs;
    int64_t n = 0;
    if (target.is_string()) {
      offs = code_point_offsets(target.as_string());
      n = static_cast<int64_t>(offs.size()) - 1;
    } else if (target.is_array()) {
      n = static_cast<int64_t>(target.as_array().size());
    } else {
      fail_plain("'" + target.type_name() + "' object is not subscriptable");
    }
    // Python's slice.indices().
    auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
      if (!v) return dflt;
      int64_t x = *v;
      if (x < 0) {
        x += n;
        if (x < 0) x = stride < 0 ? -1 : 0;
      } else if (x >= n) {
        x = stride < 0 ? n - 1 : n;
      }
      return x;
    };
    const int64_t lo = clamp(start, stride < 0 ? n - 1 : 0);
    const int64_t hi = clamp(stop, stride < 0 ? -1 : n);
    std::vector<int64_t> idx;
    if (stride > 0) {
      for (int64_t k = lo; k < hi; k += stride) idx.push_back(k);
    } else {
      for (int64_t k = lo; k > hi; k += stride) idx.push_back(k);
    }
    if (target.is_string()) {
      std::string out;
      for (int64_t k : idx) {
        const size_t b = offs[static_cast<size_t>(k)];
        out.append(target.as_string(), b, offs[static_cast<size_t>(k) + 1] - b);
      }
      return Value::string(std::move(out));
    }
    Array out;
    for (int64_t k : idx) out.push_back(target.as_array()[static_cast<size_t>(k)]);
    return Value::array(std::move(out), target.is_tuple());
  }

  Value eval_call(const Expr& e, Frame& frame) {
    step();
    const Expr& callee = *e.children[0];
    if (callee.kind == ExprKind::kGetAttr) {
      const Value obj = eval(*callee.children[0], frame);
      if (obj.is_string() || obj.is_object() || obj.is_array()) {
        const Args args = eval_args(e, 1, frame);
        bool found = false;
        Value r = call_method(obj, callee.name, args, found, limits_);
        if (found) return r;
      }
      const Value fn = get_attribute(obj, callee.name);
      return call_value(fn, eval_args(e, 1, frame));
    }
    const Value fn = eval(callee, frame);
    return call_value(fn, eval_args(e, 1, frame));
  }

  Value call_value(const Value& fn, const Args& args) {
    if (fn.is_undefined()) undefined_error(fn);
    if (!fn.is_function()) fail_plain("'" + fn.type_name() + "' object is not callable");
    if (auto* b = dynamic_cast<const Builtin*>(fn.as_function().get()))
      return call_builtin(*b, args);
    if (auto* m = dynamic_cast<const Macro*>(fn.as_function().get())) return call_macro(*m, args);
    fail_plain("object is not callable");
  }

  Value call_builtin(const Builtin& b, const Args& args) {
    switch (b.id()) {
      case BuiltinId::kRaiseException: {
        const Value* msg = args.get(0, "message");
        fail_plain(msg ? to_python_str(*msg) : std::string("raise_exception called"));
      }
      case BuiltinId::kNamespace:
      case BuiltinId::kDict: {
        Object obj;
        for (const Value& p : args.positional) {
          if (!p.is_object()) fail_plain(b.name() + "() positional arguments must be dicts");
          for (const auto& [k, v] : p.as_object().items) obj.set(k, v);
        }
        for (const auto& [k, v] : args.keyword) obj.set(k, v);
        if (b.id() == BuiltinId::kNamespace) {
          for (const auto& [k, v] : obj.items) check_namespace_name(k);
        }
        return b.id() == BuiltinId::kDict ? Value::object(std::move(obj))
                                          : Value::namespace_object(std::move(obj));
      }
      case BuiltinId::kRange: {
        int64_t start = 0;
        int64_t stop = 0;
        int64_t stride = 1;
        auto as_int = [&](const Value& v) {
          if (!v.is_int() && !v.is_bool()) fail_plain("range() arguments must be integers");
          return v.as_int();
        };
        const auto& p = args.positional;
        if (p.size() == 1) {
          stop = as_int(p[0]);
        } else if (p.size() == 2 || p.size() == 3) {
          start = as_int(p[0]);
          stop = as_int(p[1]);
          if (p.size() == 3) stride = as_int(p[2]);
        } else {
          fail_plain("range expected 1 to 3 arguments");
        }
        if (stride == 0) fail_plain("range() arg 3 must not be zero");
        Array items;
        for (int64_t k = start; stride > 0 ? k < stop : k > stop; k += stride) {
          if (static_cast<int64_t>(items.size()) >= kMaxRange) {
            fail_plain("range too big, maximum size for range is " + std::to_string(kMaxRange));
          }
          items.push_back(Value::integer(k));
          if ((stride > 0 && k > INT64_MAX - stride) || (stride < 0 && k < INT64_MIN - stride)) {
            break;
          }
        }
        return Value::array(std::move(items));
      }
      case BuiltinId::kStrftimeNow: {
        const Value* fmt = args.get(0, "format");
        if (!fmt || !fmt->is_string()) fail_plain("strftime_now expects a format string");
        const std::time_t t = options_.now_unix_seconds >= 0
                                  ? static_cast<std::time_t>(options_.now_unix_seconds)
                                  : std::time(nullptr);
        std::tm tm{};
        localtime_r(&t, &tm);
        char buf[512];
        const size_t n = std::strftime(buf, sizeof(buf), fmt->as_string().c_str(), &tm);
        return Value::string(std::string(buf, n));
      }
    }
    return Value();
  }

  Value call_macro(const Macro& m, const Args& args) {
    const Stmt& def = *m.def();
    if (args.positional.size() > def.params.size()) {
      fail_plain("macro '" + def.targets[0] + "' takes not more than " +
                 std::to_string(def.params.size()) + " argument(s)");
    }
    if (++call_depth_ > options_.max_call_depth) {
      --call_depth_;
      fail_plain("macro calls nested too deeply (limit " + std::to_string(options_.max_call_depth) +
                 ")");
    }
    struct CallDepth {
      int& d;
      ~CallDepth() { --d; }
    } release{call_depth_};
    Frame scope;
    scope.parent = root_;
    for (size_t i = 0; i < def.params.size(); ++i) {
      const MacroParam& p = def.params[i];
      if (i < args.positional.size()) {
        scope.set(p.name, args.positional[i]);
        continue;
      }
      const Value* kw = args.get(static_cast<size_t>(-1), p.name);
      if (kw) {
        scope.set(p.name, *kw);
      } else if (p.default_value) {
        scope.set(p.name, eval(*p.default_value, scope));
      } else {
        scope.set(p.name, Value::undefined("parameter '" + p.name + "' was not provided"));
      }
    }
    for (const auto& [k, v] : args.keyword) {
      bool known = false;
      for (const MacroParam& p : def.params) known = known || p.name == k;
      if (!known) fail_plain("macro '" + def.targets[0] + "' has no argument named '" + k + "'");
    }
    std::string saved;
    saved.swap(out_);
    exec_body(def.body, scope);
    std::string result;
    result.swap(out_);
    out_.swap(saved);
    return Value::string(std::move(result));
  }

  const RenderOptions& options_;
  Limits limits_;
  std::string out_;
  uint64_t steps_ = 0;
  int depth_ = 0;
  int call_depth_ = 0;
  Frame* root_ = nullptr;
};

}  // namespace

[[noreturn]] void template_error(const std::string& message) {
  throw RenderFailure{message, false};
}

std::string render_program(const Program& program, const Object& context,
                           const RenderOptions& options) {
  Interpreter interp(options);
  return interp.run(program, context);
}

}  // namespace infera::chat
