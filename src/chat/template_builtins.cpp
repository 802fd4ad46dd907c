// Filters, tests and methods for the chat-template interpreter, each following jinja2's
// builtin of the same name (ref: jinja2/filters.py, jinja2/tests.py) and, for methods, Python's
// str/dict. `tojson` is transformers' override: json.dumps(x, ensure_ascii=False, indent=None,
// separators=None, sort_keys=False) — not jinja2's own HTML-escaping, key-sorting filter.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "chat/template_eval.h"
#include "chat/text_util.h"
#include "core/error.h"

namespace infera::chat {

const Value* Args::get(size_t index, std::string_view name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [k, v] : keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

void Limits::check_size(size_t bytes) const {
  if (bytes > max_string_bytes) {
    template_error("result exceeds the output limit of " + std::to_string(max_string_bytes) +
                   " bytes");
  }
}

namespace {

[[noreturn]] void undefined_error(const Value& v) {
  template_error(v.undefined_name().empty() ? "value is undefined" : v.undefined_name());
}

const std::string& need_string(const Value& v, const char* what) {
  if (v.is_undefined()) undefined_error(v);
  if (!v.is_string()) template_error(std::string(what) + " expects a string, got " + v.type_name());
  return v.as_string();
}

int64_t need_int(const Value& v, const char* what) {
  if (v.is_undefined()) undefined_error(v);
  if (!v.is_int() && !v.is_bool()) {
    template_error(std::string(what) + " expects an integer, got " + v.type_name());
  }
  return v.as_int();
}

bool arg_bool(const Args& args, size_t index, std::string_view name, bool fallback) {
  const Value* v = args.get(index, name);
  return v ? v->truthy() : fallback;
}

size_t py_len(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return 0;
    case Kind::kString:
      return code_point_count(v.as_string());
    case Kind::kArray:
      return v.as_array().size();
    case Kind::kObject:
      return v.as_object().items.size();
    default:
      template_error("object of type '" + v.type_name() + "' has no len()");
  }
}

Value string_chars(const std::string& s) {
  Array out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t b = i;
    decode_utf8(s, i);
    out.push_back(Value::string(s.substr(b, i - b)));
  }
  return Value::array(std::move(out));
}

// Python's lower() for case-insensitive comparisons (ASCII-only mapping).
Value fold_case(const Value& v) {
  return v.is_string() ? Value::string(ascii_lower(v.as_string())) : v;
}

Value do_tojson(const Value& v, const Args& args) {
  JsonDumpOptions o;
  o.ensure_ascii = arg_bool(args, 0, "ensure_ascii", false);
  if (const Value* indent = args.get(1, "indent"); indent && !indent->is_none()) {
    if (indent->is_string()) template_error("tojson: string indents are not supported");
    o.indent = static_cast<int>(std::clamp<int64_t>(need_int(*indent, "tojson indent"), 0, 64));
    o.item_separator = ",";
  }
  if (const Value* sep = args.get(2, "separators"); sep && !sep->is_none()) {
    if (!sep->is_array() || sep->as_array().size() != 2) {
      template_error("tojson: separators must be a pair of strings");
    }
    o.item_separator = need_string(sep->as_array()[0], "tojson separators");
    o.key_separator = need_string(sep->as_array()[1], "tojson separators");
  }
  o.sort_keys = arg_bool(args, 3, "sort_keys", false);
  try {
    return Value::string(dump_json(v, o));
  } catch (const Error& e) {
    template_error(e.what());
  }
}

Value do_int(const Value& v, const Args& args) {
  const Value* dflt = args.get(0, "default");
  const Value fallback = dflt ? *dflt : Value::integer(0);
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    const double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return fallback;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    const std::string s = python_strip(v.as_string(), true, true, nullptr);
    char* end = nullptr;
    errno = 0;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return Value::integer(i);
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) {
      return Value::integer(static_cast<int64_t>(d));
    }
  }
  return fallback;
}

Value do_float(const Value& v, const Args& args) {
  const Value* dflt = args.get(0, "default");
  const Value fallback = dflt ? *dflt : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    const std::string s = python_strip(v.as_string(), true, true, nullptr);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return Value::number(d);
  }
  return fallback;
}

std::string jinja_title(const std::string& s) {
  // jinja2's title: split before runs of [-\s({[<], then upper-case each piece's first
  // character and lower-case the rest.
  std::string out;
  bool at_start = true;
  for (char c : s) {
    const bool sep = c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
                     c == '\v' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      out.push_back(c);
      at_start = true;
      continue;
    }
    if (at_start) {
      out.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
    } else {
      out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
    }
    at_start = false;
  }
  return out;
}

std::string do_indent(const std::string& s, const Args& args) {
  std::string pad = "    ";
  if (const Value* w = args.get(0, "width")) {
    pad = w->is_string()
              ? w->as_string()
              : std::string(
                    static_cast<size_t>(std::clamp<int64_t>(need_int(*w, "indent width"), 0, 256)),
                    ' ');
  }
  const bool first = arg_bool(args, 1, "first", false);
  const bool blank = arg_bool(args, 2, "blank", false);
  std::vector<std::string> lines;
  std::string line;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      lines.push_back(line);
      line.clear();
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      line.push_back(s[i]);
    }
  }
  lines.push_back(line);  // s + "\n" then splitlines(): the last piece is always present
  std::string out = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    out += "\n";
    if (blank || !lines[i].empty()) out += pad;
    out += lines[i];
  }
  if (first) out = pad + out;
  return out;
}

Args shift_args(const Args& args, size_t n) {
  Args out;
  for (size_t i = n; i < args.positional.size(); ++i) out.positional.push_back(args.positional[i]);
  out.keyword = args.keyword;
  return out;
}

Value select_items(const Value& seq, const Args& args, bool by_attr, bool keep_matching) {
  Array out;
  std::string attr;
  size_t test_index = 0;
  if (by_attr) {
    const Value* a = args.get(0, "attribute");
    if (!a) template_error("selectattr/rejectattr need an attribute name");
    attr = need_string(*a, "attribute name");
    test_index = 1;
  }
  const Value* test = test_index < args.positional.size() ? &args.positional[test_index] : nullptr;
  const Args test_args = shift_args(args, test_index + 1);
  for (const Value& item : iterate(seq)) {
    const Value subject = by_attr ? get_attribute(item, attr) : item;
    const bool ok =
        test ? apply_test(need_string(*test, "test name"), subject, test_args) : subject.truthy();
    if (ok == keep_matching) out.push_back(item);
  }
  return Value::array(std::move(out));
}

Value do_map(const Value& seq, const Args& args, const Limits& limits) {
  Array out;
  if (const Value* attr = args.get(static_cast<size_t>(-1), "attribute")) {
    const std::string& name = need_string(*attr, "map attribute");
    const Value* dflt = args.get(static_cast<size_t>(-1), "default");
    for (const Value& item : iterate(seq)) {
      Value v = get_attribute(item, name);
      if (v.is_undefined() && dflt) v = *dflt;
      out.push_back(std::move(v));
    }
    return Value::array(std::move(out));
  }
  if (args.positional.empty()) template_error("map needs a filter name or attribute=");
  const std::string& filter = need_string(args.positional[0], "filter name");
  const Args rest = shift_args(args, 1);
  for (const Value& item : iterate(seq)) out.push_back(apply_filter(filter, item, rest, limits));
  return Value::array(std::move(out));
}

Value do_sort(const Value& seq, const Args& args, bool dict_items) {
  Array items = iterate(seq);
  if (dict_items) {
    if (!seq.is_object()) template_error("dictsort expects a dict, got " + seq.type_name());
    items.clear();
    for (const auto& [k, v] : seq.as_object().items) {
      items.push_back(Value::array({Value::string(k), v}, true));
    }
  }
  const bool reverse =
      dict_items ? arg_bool(args, 2, "reverse", false) : arg_bool(args, 0, "reverse", false);
  const bool case_sensitive = arg_bool(args, dict_items ? 0 : 1, "case_sensitive", false);
  std::string attr;
  if (!dict_items) {
    if (const Value* a = args.get(2, "attribute")) attr = need_string(*a, "sort attribute");
  }
  const bool by_value = dict_items && args.get(1, "by") && args.get(1, "by")->is_string() &&
                        args.get(1, "by")->as_string() == "value";
  auto key = [&](const Value& v) {
    Value k = v;
    if (dict_items) k = v.as_array()[by_value ? 1 : 0];
    if (!attr.empty()) k = get_attribute(v, attr);
    return case_sensitive ? k : fold_case(k);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const int c = compare_values(key(a), key(b), "<");
    return reverse ? c > 0 : c < 0;
  });
  return Value::array(std::move(items));
}

std::string do_format(const std::string& fmt, const Args& args) {
  // str.format with {} / {0} / {name} fields and {{ }} escapes (no format specs).
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out.push_back('}');
      ++i;
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) template_error("format: single '{' encountered");
    const std::string field = fmt.substr(i + 1, close - i - 1);
    const Value* v = nullptr;
    if (field.empty()) {
      v = args.get(auto_index++, "");
    } else if (std::all_of(field.begin(), field.end(),
                           [](char d) { return d >= '0' && d <= '9'; })) {
      v = args.get(static_cast<size_t>(std::stoul(field)), "");
    } else {
      v = args.get(static_cast<size_t>(-1), field);
    }
    if (!v) template_error("format: no argument for field '{" + field + "}'");
    out += to_python_str(*v);
    i = close;
  }
  return out;
}

bool starts_or_ends(const std::string& s, const Value& what, bool start) {
  auto one = [&](const Value& p) {
    const std::string& x = need_string(p, start ? "startswith" : "endswith");
    return start ? std::string_view(s).starts_with(x) : std::string_view(s).ends_with(x);
  };
  if (what.is_array()) {
    for (const Value& p : what.as_array()) {
      if (one(p)) return true;
    }
    return false;
  }
  return one(what);
}

}  // namespace

Array iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return {};
    case Kind::kArray:
      return v.as_array();
    case Kind::kObject: {
      Array keys;
      for (const auto& [k, val] : v.as_object().items) keys.push_back(Value::string(k));
      return keys;
    }
    case Kind::kString:
      return string_chars(v.as_string()).as_array();
    default:
      template_error("'" + v.type_name() + "' object is not iterable");
  }
}

Value get_attribute(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) undefined_error(obj);
  if (obj.is_object()) {
    if (const Value* v = obj.as_object().find(name)) return *v;
    return Value::undefined("'dict object' has no attribute '" + name + "'");
  }
  if (obj.is_namespace()) {
    if (const Value* v = obj.namespace_items().find(name)) return *v;
  }
  return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) undefined_error(obj);
  if (obj.is_object() || obj.is_namespace()) {
    if (key.is_string()) {
      const Object& o = obj.is_object() ? obj.as_object() : obj.namespace_items();
      if (const Value* v = o.find(key.as_string())) return *v;
    }
    return Value::undefined("'dict object' has no attribute '" + to_python_str(key) + "'");
  }
  if ((obj.is_array() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.as_int();
    if (obj.is_array()) {
      const Array& a = obj.as_array();
      const int64_t n = static_cast<int64_t>(a.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        return Value::undefined(obj.type_name() + " object has no element " +
                                std::to_string(key.as_int()));
      return a[static_cast<size_t>(i)];
    }
    const std::vector<size_t> offs = code_point_offsets(obj.as_string());
    const int64_t n = static_cast<int64_t>(offs.size()) - 1;
    if (i < 0) i += n;
    if (i < 0 || i >= n)
      return Value::undefined("str object has no element " + std::to_string(key.as_int()));
    const size_t b = offs[static_cast<size_t>(i)];
    return Value::string(obj.as_string().substr(b, offs[static_cast<size_t>(i) + 1] - b));
  }
  if (key.is_string()) return get_attribute(obj, key.as_string());
  return Value::undefined("'" + obj.type_name() + " object' has no element " + to_python_repr(key));
}

int compare_values(const Value& a, const Value& b, const char* op) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_double();
      const double y = b.as_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const int64_t x = a.as_int();
    const int64_t y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());  // byte order == code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_array() && b.is_array() && a.is_tuple() == b.is_tuple()) {
    const Array& x = a.as_array();
    const Array& y = b.as_array();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!values_equal(x[i], y[i])) return compare_values(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  template_error(std::string("'") + op + "' not supported between instances of '" + a.type_name() +
                 "' and '" + b.type_name() + "'");
}

Value apply_filter(const std::string& name, const Value& v, const Args& args,
                   const Limits& limits) {
  if (name == "trim") {
    const Value* chars = args.get(0, "chars");
    const std::string* c = chars && !chars->is_none() ? &need_string(*chars, "trim") : nullptr;
    return Value::string(python_strip(to_python_str(v), true, true, c));
  }
  if (name == "length" || name == "count") return Value::integer(static_cast<int64_t>(py_len(v)));
  if (name == "tojson") return do_tojson(v, args);
  if (name == "upper") return Value::string(ascii_upper(to_python_str(v)));
  if (name == "lower") return Value::string(ascii_lower(to_python_str(v)));
  if (name == "capitalize") return Value::string(python_capitalize(to_python_str(v)));
  if (name == "title") return Value::string(jinja_title(to_python_str(v)));
  if (name == "string" || name == "safe") {
    return v.is_string() ? v : Value::string(to_python_str(v));
  }
  if (name == "e" || name == "escape" || name == "forceescape") {
    std::string out;
    for (char c : to_python_str(v)) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&#34;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          out.push_back(c);
      }
    }
    return Value::string(std::move(out));
  }
  if (name == "first" || name == "last") {
    if (v.is_undefined()) return Value::undefined("first/last of an undefined value");
    const Array items = iterate(v);
    if (items.empty()) return Value::undefined("no " + name + " item, sequence was empty");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    std::string sep;
    if (const Value* d = args.get(0, "d")) sep = to_python_str(*d);
    const Value* attr = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first) out += sep;
      first = false;
      out += to_python_str(attr ? get_attribute(item, need_string(*attr, "join")) : item);
      limits.check_size(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "default" || name == "d") {
    const bool boolean = arg_bool(args, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) {
      const Value* d = args.get(0, "default_value");
      return d ? *d : Value::string("");
    }
    return v;
  }
  if (name == "replace") {
    const Value* from = args.get(0, "old");
    const Value* to = args.get(1, "new");
    if (!from || !to) template_error("replace needs two arguments");
    const Value* count = args.get(2, "count");
    const std::string out =
        python_replace(to_python_str(v), to_python_str(*from), to_python_str(*to),
                       count && !count->is_none() ? need_int(*count, "replace count") : -1);
    limits.check_size(out.size());
    return Value::string(out);
  }
  if (name == "int") return do_int(v, args);
  if (name == "float") return do_float(v, args);
  if (name == "abs") {
    if (v.is_float()) return Value::number(std::fabs(v.as_double()));
    const int64_t i = need_int(v, "abs");
    if (i == INT64_MIN) template_error("integer overflow");
    return Value::integer(i < 0 ? -i : i);
  }
  if (name == "round") {
    if (!v.is_number()) template_error("round expects a number, got " + v.type_name());
    const int64_t precision =
        args.get(0, "precision") ? need_int(*args.get(0, "precision"), "round precision") : 0;
    std::string method = "common";
    if (const Value* m = args.get(1, "method")) method = need_string(*m, "round method");
    const double scale =
        std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -20, 20)));
    const double x = v.as_double() * scale;
    double r = method == "ceil"    ? std::ceil(x)
               : method == "floor" ? std::floor(x)
                                   : std::nearbyint(x);
    return Value::number(r / scale);
  }
  if (name == "list") return Value::array(iterate(v));
  if (name == "items") {
    if (v.is_undefined()) return Value::array({});
    if (!v.is_object()) template_error("items expects a mapping, got " + v.type_name());
    Array out;
    for (const auto& [k, val] : v.as_object().items) {
      out.push_back(Value::array({Value::string(k), val}, true));
    }
    return Value::array(std::move(out));
  }
  if (name == "map") return do_map(v, args, limits);
  if (name == "select" || name == "reject") return select_items(v, args, false, name == "select");
  if (name == "selectattr" || name == "rejectattr") {
    return select_items(v, args, true, name == "selectattr");
  }
  if (name == "attr") {
    const Value* a = args.get(0, "name");
    if (!a) template_error("attr needs a name");
    return get_attribute(v, need_string(*a, "attr"));
  }
  if (name == "unique") {
    const bool case_sensitive = arg_bool(args, 0, "case_sensitive", false);
    const Value* attr = args.get(1, "attribute");
    Array out;
    std::vector<Value> seen;
    for (const Value& item : iterate(v)) {
      Value key = attr ? get_attribute(item, need_string(*attr, "unique")) : item;
      if (!case_sensitive) key = fold_case(key);
      if (std::none_of(seen.begin(), seen.end(),
                       [&](const Value& s) { return values_equal(s, key); })) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return Value::array(std::move(out));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      Array chars = iterate(v);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_string();
      return Value::string(std::move(out));
    }
    Array items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (name == "sort") return do_sort(v, args, false);
  if (name == "dictsort") return do_sort(v, args, true);
  if (name == "indent") return Value::string(do_indent(to_python_str(v), args));
  if (name == "sum") {
    Value total = args.get(1, "start") ? *args.get(1, "start") : Value::integer(0);
    for (const Value& item : iterate(v)) {
      if (!item.is_number() || !total.is_number()) template_error("sum expects numbers");
      if (item.is_float() || total.is_float()) {
        total = Value::number(total.as_double() + item.as_double());
      } else {
        int64_t r = 0;
        if (__builtin_add_overflow(total.as_int(), item.as_int(), &r)) {
          template_error("integer overflow");
        }
        total = Value::integer(r);
      }
    }
    return total;
  }
  if (name == "min" || name == "max") {
    const Array items = iterate(v);
    if (items.empty()) return Value::undefined("no " + name + " item, sequence was empty");
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
      const int c = compare_values(fold_case(items[i]), fold_case(items[best]), "<");
      if ((name == "min" && c < 0) || (name == "max" && c > 0)) best = i;
    }
    return items[best];
  }
  if (name == "wordcount") {
    return Value::integer(static_cast<int64_t>(python_split(to_python_str(v), nullptr, -1).size()));
  }
  template_error("no filter named '" + name + "'");
}

bool apply_test(const std::string& name, const Value& v, const Args& args) {
  const Value* arg = args.get(0, "other");
  auto need_arg = [&]() -> const Value& {
    if (!arg) template_error("test '" + name + "' needs an argument");
    return *arg;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_object();
  if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_array() || v.is_object();
  if (name == "sequence") return v.is_undefined() || v.is_string() || v.is_array() || v.is_object();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "callable") return v.is_function();
  if (name == "equalto" || name == "eq" || name == "==") return values_equal(v, need_arg());
  if (name == "ne" || name == "!=") return !values_equal(v, need_arg());
  if (name == "lt" || name == "lessthan" || name == "<")
    return compare_values(v, need_arg(), "<") < 0;
  if (name == "le" || name == "<=") return compare_values(v, need_arg(), "<=") <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") {
    return compare_values(v, need_arg(), ">") > 0;
  }
  if (name == "ge" || name == ">=") return compare_values(v, need_arg(), ">=") >= 0;
  if (name == "sameas") {
    const Value& o = need_arg();
    if (v.is_array() || v.is_object() || v.is_namespace()) return false;  // identity unknown
    return v.kind() == o.kind() && values_equal(v, o);
  }
  if (name == "in") {
    const Value& container = need_arg();
    if (container.is_string()) {
      return container.as_string().find(need_string(v, "'in <string>'")) != std::string::npos;
    }
    for (const Value& item : iterate(container)) {
      if (values_equal(item, v)) return true;
    }
    return false;
  }
  if (name == "odd" || name == "even") {
    const int64_t i = need_int(v, name.c_str());
    return (((i % 2) + 2) % 2 == 1) == (name == "odd");
  }
  if (name == "divisibleby") {
    const int64_t d = need_int(need_arg(), "divisibleby");
    if (d == 0) template_error("integer division or modulo by zero");
    return need_int(v, "divisibleby") % d == 0;
  }
  if (name == "lower") return v.is_string() && ascii_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && ascii_upper(v.as_string()) == v.as_string();
  if (name == "escaped") return false;
  template_error("no test named '" + name + "'");
}

Value call_method(const Value& obj, const std::string& name, const Args& args, bool& found,
                  const Limits& limits) {
  found = true;
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    auto opt_string = [&](size_t i, const char* n) -> const std::string* {
      const Value* a = args.get(i, n);
      return a && !a->is_none() ? &need_string(*a, n) : nullptr;
    };
    if (name == "strip") return Value::string(python_strip(s, true, true, opt_string(0, "chars")));
    if (name == "lstrip") {
      return Value::string(python_strip(s, true, false, opt_string(0, "chars")));
    }
    if (name == "rstrip") {
      return Value::string(python_strip(s, false, true, opt_string(0, "chars")));
    }
    if (name == "startswith" || name == "endswith") {
      const Value* p = args.get(0, "prefix");
      if (!p) template_error(name + "() takes at least 1 argument");
      return Value::boolean(starts_or_ends(s, *p, name == "startswith"));
    }
    if (name == "split" || name == "rsplit") {
      const std::string* sep = opt_string(0, "sep");
      if (sep && sep->empty()) template_error("empty separator");
      const Value* m = args.get(1, "maxsplit");
      const int64_t maxsplit = m ? need_int(*m, "maxsplit") : -1;
      if (name == "rsplit" && maxsplit >= 0)
        template_error("rsplit with maxsplit is not supported");
      Array out;
      for (auto& piece : python_split(s, sep, maxsplit)) out.push_back(Value::string(piece));
      return Value::array(std::move(out));
    }
    if (name == "splitlines") {
      Array out;
      std::string line;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' || s[i] == '\r') {
          out.push_back(Value::string(line));
          line.clear();
          if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        } else {
          line.push_back(s[i]);
        }
      }
      if (!line.empty()) out.push_back(Value::string(line));
      return Value::array(std::move(out));
    }
    if (name == "upper") return Value::string(ascii_upper(s));
    if (name == "lower") return Value::string(ascii_lower(s));
    if (name == "title") return Value::string(python_title(s));
    if (name == "capitalize") return Value::string(python_capitalize(s));
    if (name == "replace") {
      const Value* from = args.get(0, "old");
      const Value* to = args.get(1, "new");
      if (!from || !to) template_error("replace() takes at least 2 arguments");
      const Value* count = args.get(2, "count");
      std::string out =
          python_replace(s, need_string(*from, "replace"), need_string(*to, "replace"),
                         count ? need_int(*count, "replace count") : -1);
      limits.check_size(out.size());
      return Value::string(std::move(out));
    }
    if (name == "find" || name == "rfind" || name == "count" || name == "index") {
      const Value* sub = args.get(0, "sub");
      if (!sub) template_error(name + "() takes at least 1 argument");
      const std::string& needle = need_string(*sub, name.c_str());
      if (name == "count") {
        if (needle.empty()) return Value::integer(static_cast<int64_t>(code_point_count(s)) + 1);
        int64_t n = 0;
        for (size_t p = s.find(needle); p != std::string::npos;
             p = s.find(needle, p + needle.size())) {
          ++n;
        }
        return Value::integer(n);
      }
      const size_t p = name == "rfind" ? s.rfind(needle) : s.find(needle);
      if (p == std::string::npos) {
        if (name == "index") template_error("substring not found");
        return Value::integer(-1);
      }
      return Value::integer(
          static_cast<int64_t>(code_point_count(std::string_view(s).substr(0, p))));
    }
    if (name == "join") {
      const Value* items = args.get(0, "iterable");
      if (!items) template_error("join() takes exactly one argument");
      std::string out;
      bool first = true;
      for (const Value& item : iterate(*items)) {
        if (!first) out += s;
        first = false;
        out += need_string(item, "join");
        limits.check_size(out.size());
      }
      return Value::string(std::move(out));
    }
    if (name == "format") {
      std::string out = do_format(s, args);
      limits.check_size(out.size());
      return Value::string(std::move(out));
    }
    if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
        name == "islower" || name == "isupper") {
      if (s.empty()) return Value::boolean(false);
      bool ok = true;
      bool cased = false;
      for (char c : s) {
        const bool digit = c >= '0' && c <= '9';
        const bool lower = c >= 'a' && c <= 'z';
        const bool upper = c >= 'A' && c <= 'Z';
        cased = cased || lower || upper;
        if (name == "isdigit") ok = ok && digit;
        if (name == "isalpha") ok = ok && (lower || upper);
        if (name == "isalnum") ok = ok && (lower || upper || digit);
        if (name == "isspace") ok = ok && (c == ' ' || (c >= '\t' && c <= '\r'));
        if (name == "islower") ok = ok && !upper;
        if (name == "isupper") ok = ok && !lower;
      }
      if (name == "islower" || name == "isupper") ok = ok && cased;
      return Value::boolean(ok);
    }
  } else if (obj.is_object()) {
    const Object& o = obj.as_object();
    if (name == "items") {
      Array out;
      for (const auto& [k, v] : o.items) out.push_back(Value::array({Value::string(k), v}, true));
      return Value::array(std::move(out));
    }
    if (name == "keys") {
      Array out;
      for (const auto& [k, v] : o.items) out.push_back(Value::string(k));
      return Value::array(std::move(out));
    }
    if (name == "values") {
      Array out;
      for (const auto& [k, v] : o.items) out.push_back(v);
      return Value::array(std::move(out));
    }
    if (name == "get") {
      const Value* key = args.get(0, "key");
      if (!key) template_error("get expected at least 1 argument");
      if (key->is_string()) {
        if (const Value* v = o.find(key->as_string())) return *v;
      }
      const Value* dflt = args.get(1, "default");
      return dflt ? *dflt : Value::none();
    }
  } else if (obj.is_array()) {
    if (name == "index" || name == "count") {
      const Value* x = args.get(0, "value");
      if (!x) template_error(name + "() takes exactly one argument");
      int64_t n = 0;
      const Array& a = obj.as_array();
      for (size_t i = 0; i < a.size(); ++i) {
        if (values_equal(a[i], *x)) {
          if (name == "index") return Value::integer(static_cast<int64_t>(i));
          ++n;
        }
      }
      if (name == "index") template_error("value is not in list");
      return Value::integer(n);
    }
    if (name == "append" || name == "extend" || name == "pop" || name == "insert" ||
        name == "remove" || name == "clear" || name == "sort" || name == "reverse") {
      template_error("access to '" + name + "' of a list is unsafe (immutable sandbox)");
    }
  }
  found = false;
  return Value();
}

}  // namespace infera::chat
