// Lexer and parser for the Jinja subset chat templates use.
//
// Whitespace follows jinja2 with transformers' settings (trim_blocks=True, lstrip_blocks=True,
// keep_trailing_newline=False): newlines are normalised to "\n"; one trailing newline of the
// source is dropped; `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`/`-}}`/`-#}`
// all whitespace after it; without a sign, a block or comment tag that only has spaces or tabs
// before it on its line takes those with it (lstrip_blocks) and eats the newline right after
// its end (trim_blocks). `{%+` / `+%}` turn the two off for one tag.
// Expression grammar and precedence follow jinja2's parser (ref: jinja2/parser.py):
//   condexpr: or ['if' or ['else' condexpr]]
//   or > and > not > compare (chained; in, not in) > + - > ~ > * / // % > ** > unary -/+
//   unary operand: primary, then postfix (.attr [sub] (call)), then filters `|f` and tests `is t`
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "chat/template_ast.h"
#include "chat/template_lexer.h"
#include "core/error.h"

namespace infera::chat {
namespace {

constexpr int kMaxNesting = 200;    // statements and expressions nested deeper are an error
constexpr int kMaxExprDepth = 256;  // depth of one expression tree

class Parser {
 public:
  Parser(std::vector<Token> tokens, const Positions& pos)
      : toks_(std::move(tokens)), pos_info_(pos) {}

  std::shared_ptr<const Program> run() {
    auto program = std::make_shared<Program>();
    std::string end_tag;
    program->body = parse_body({}, end_tag);
    return program;
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  void advance() {
    if (i_ + 1 < toks_.size()) ++i_;
  }
  bool is_op(const char* op) const { return cur().type == Tok::kOp && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == Tok::kName && cur().text == name; }
  [[noreturn]] void fail(const std::string& what) const {
    syntax_error(pos_info_, cur().offset, what);
  }
  [[noreturn]] void fail_at(const Token& t, const std::string& what) const {
    syntax_error(pos_info_, t.offset, what);
  }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected '") + op + "', got " + describe(cur()));
    advance();
  }
  std::string expect_name() {
    if (cur().type != Tok::kName) fail("expected a name, got " + describe(cur()));
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().type != Tok::kBlockEnd)
      fail("expected end of statement '%}', got " + describe(cur()));
    advance();
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::kEof:
        return "end of template";
      case Tok::kBlockEnd:
        return "'%}'";
      case Tok::kVarEnd:
        return "'}}'";
      case Tok::kName:
        return "'" + t.text + "'";
      case Tok::kOp:
        return "'" + t.text + "'";
      case Tok::kString:
        return "a string";
      case Tok::kInt:
      case Tok::kFloat:
        return "a number";
      default:
        return "template text";
    }
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxNesting) parser.fail("template nested too deeply");
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  template <typename T>
  std::unique_ptr<T> node_at(const Token& t) {
    auto n = std::make_unique<T>();
    const auto [line, col] = pos_info_.at(t.offset);
    n->line = line;
    n->column = col;
    return n;
  }

  // ---- statements ----

  // Parses statements until `{% <one of end_names>`; the matched name is left in end_tag and
  // the token stream is positioned after it (at the rest of that tag).
  Body parse_body(const std::vector<std::string>& end_names, std::string& end_tag) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::kEof) {
        if (end_names.empty()) return body;
        std::string expected;
        for (const auto& n : end_names) expected += (expected.empty() ? "'" : " or '") + n + "'";
        fail("unexpected end of template, expected " + expected);
      }
      if (t.type == Tok::kText) {
        auto s = node_at<Stmt>(t);
        s->kind = StmtKind::kText;
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
        continue;
      }
      if (t.type == Tok::kVarBegin) {
        auto s = node_at<Stmt>(t);
        advance();
        s->kind = StmtKind::kOutput;
        s->expr = parse_tuple(true);
        if (cur().type != Tok::kVarEnd) fail("expected '}}', got " + describe(cur()));
        advance();
        body.push_back(std::move(s));
        continue;
      }
      if (t.type != Tok::kBlockBegin) fail("unexpected " + describe(t));
      const Token& begin = t;
      advance();
      if (cur().type != Tok::kName) fail("expected a statement name, got " + describe(cur()));
      const std::string keyword = cur().text;
      for (const auto& n : end_names) {
        if (keyword == n) {
          advance();
          end_tag = keyword;
          return body;
        }
      }
      body.push_back(parse_statement(begin, keyword));
    }
  }

  StmtPtr parse_statement(const Token& begin, const std::string& keyword) {
    const Token& kw = cur();
    advance();
    if (keyword == "if") return parse_if(begin);
    if (keyword == "for") return parse_for(begin);
    if (keyword == "set") return parse_set(begin);
    if (keyword == "macro") return parse_macro(begin);
    if (keyword == "break" || keyword == "continue") {
      auto s = node_at<Stmt>(begin);
      s->kind = keyword == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      expect_block_end();
      return s;
    }
    if (keyword == "generation") {
      // transformers' AssistantTracker tag: renders its body unchanged.
      expect_block_end();
      std::string end_tag;
      auto s = node_at<Stmt>(begin);
      s->kind = StmtKind::kIf;
      auto always = node_at<Expr>(begin);
      always->kind = ExprKind::kLiteral;
      always->value = Value::boolean(true);
      s->conditions.push_back(std::move(always));
      s->bodies.push_back(parse_body({"endgeneration"}, end_tag));
      expect_block_end();
      return s;
    }
    fail_at(kw, "unknown statement '" + keyword + "'");
  }

  StmtPtr parse_if(const Token& begin) {
    auto s = node_at<Stmt>(begin);
    s->kind = StmtKind::kIf;
    s->conditions.push_back(parse_tuple(true));
    expect_block_end();
    while (true) {
      std::string end_tag;
      s->bodies.push_back(parse_body({"elif", "else", "endif"}, end_tag));
      if (end_tag == "elif") {
        s->conditions.push_back(parse_tuple(true));
        expect_block_end();
        continue;
      }
      if (end_tag == "else") {
        expect_block_end();
        s->else_body = parse_body({"endif"}, end_tag);
      }
      expect_block_end();
      return s;
    }
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    const bool paren = is_op("(");
    if (paren) advance();
    names.push_back(expect_name());
    while (is_op(",")) {
      advance();
      if (cur().type != Tok::kName) break;
      names.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return names;
  }

  StmtPtr parse_for(const Token& begin) {
    auto s = node_at<Stmt>(begin);
    s->kind = StmtKind::kFor;
    s->targets = parse_targets();
    if (!is_name("in")) fail("expected 'in' in for loop, got " + describe(cur()));
    advance();
    s->expr = parse_tuple(false);
    if (is_name("if")) {
      advance();
      s->condition = parse_tuple(true);
    }
    if (is_name("recursive")) fail("recursive loops are not supported");
    expect_block_end();
    std::string end_tag;
    s->body = parse_body({"else", "endfor"}, end_tag);
    if (end_tag == "else") {
      expect_block_end();
      s->else_body = parse_body({"endfor"}, end_tag);
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(const Token& begin) {
    auto s = node_at<Stmt>(begin);
    const std::string first = expect_name();
    if (is_op(".")) {
      advance();
      s->kind = StmtKind::kSet;
      s->targets.push_back(first);
      s->attr = expect_name();
      expect_op("=");
      s->expr = parse_tuple(true);
      expect_block_end();
      return s;
    }
    s->targets.push_back(first);
    while (is_op(",")) {
      advance();
      s->targets.push_back(expect_name());
    }
    if (is_op("=")) {
      advance();
      s->kind = StmtKind::kSet;
      s->expr = parse_tuple(true);
      expect_block_end();
      return s;
    }
    if (s->targets.size() != 1) fail("expected '='");
    s->kind = StmtKind::kSetBlock;
    expect_block_end();
    std::string end_tag;
    s->body = parse_body({"endset"}, end_tag);
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro(const Token& begin) {
    auto s = node_at<Stmt>(begin);
    s->kind = StmtKind::kMacro;
    s->targets.push_back(expect_name());
    expect_op("(");
    while (!is_op(")")) {
      MacroParam p;
      p.name = expect_name();
      if (is_op("=")) {
        advance();
        p.default_value = parse_expression(true);
      }
      s->params.push_back(std::move(p));
      if (!is_op(",")) break;
      advance();
    }
    expect_op(")");
    expect_block_end();
    std::string end_tag;
    s->body = parse_body({"endmacro"}, end_tag);
    if (cur().type == Tok::kName) advance();  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  // ---- expressions ----

  // Attaches a child and tracks the tree's depth, so that no chain (a+a+a..., x|f|f|f...,
  // a.b.c...) builds a tree deeper than the interpreter and the destructors may recurse.
  void add_child(Expr& parent, ExprPtr child) {
    if (child) {
      parent.depth = std::max(parent.depth, child->depth + 1);
      if (parent.depth > kMaxExprDepth) fail("expression nested too deeply");
    }
    parent.children.push_back(std::move(child));
  }

  ExprPtr make(ExprKind kind, const Token& at) {
    auto e = node_at<Expr>(at);
    e->kind = kind;
    return e;
  }

  ExprPtr parse_tuple(bool with_condexpr) {
    const Token& start = cur();
    ExprPtr first = parse_expression(with_condexpr);
    if (!is_op(",")) return first;
    auto t = make(ExprKind::kTuple, start);
    add_child(*t, std::move(first));
    while (is_op(",")) {
      advance();
      if (cur().type == Tok::kBlockEnd || cur().type == Tok::kVarEnd || is_op(")")) break;
      add_child(*t, parse_expression(with_condexpr));
    }
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    if (!with_condexpr) return parse_or();
    const Token& start = cur();
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      advance();
      auto cond = make(ExprKind::kCondition, start);
      ExprPtr test = parse_or();
      ExprPtr otherwise;
      if (is_name("else")) {
        advance();
        otherwise = parse_expression(true);
      }
      add_child(*cond, std::move(expr));
      add_child(*cond, std::move(test));
      add_child(*cond, std::move(otherwise));
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr binary(ExprKind kind, std::string op, const Token& at, ExprPtr l, ExprPtr r) {
    auto e = make(kind, at);
    e->name = std::move(op);
    add_child(*e, std::move(l));
    add_child(*e, std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const Token& at = cur();
      advance();
      left = binary(ExprKind::kOr, "or", at, std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const Token& at = cur();
      advance();
      left = binary(ExprKind::kAnd, "and", at, std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make(ExprKind::kNot, cur());
      advance();
      add_child(*e, parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token& start = cur();
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == Tok::kOp &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().type == Tok::kName && peek().text == "in") {
        op = "not in";
        advance();
        advance();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::kCompare, start);
        add_child(*cmp, std::move(first));
      }
      cmp->ops.push_back(op);
      add_child(*cmp, parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& at = cur();
      const std::string op = at.text;
      advance();
      left = binary(ExprKind::kBinary, op, at, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const Token& at = cur();
      advance();
      left = binary(ExprKind::kBinary, "~", at, std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& at = cur();
      const std::string op = at.text;
      advance();
      left = binary(ExprKind::kBinary, op, at, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token& at = cur();
      advance();
      left = binary(ExprKind::kBinary, "**", at, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      node = make(is_op("-") ? ExprKind::kNeg : ExprKind::kPos, cur());
      advance();
      add_child(*node, parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case Tok::kName: {
        advance();
        if (t.text == "true" || t.text == "True") return literal(t, Value::boolean(true));
        if (t.text == "false" || t.text == "False") return literal(t, Value::boolean(false));
        if (t.text == "none" || t.text == "None") return literal(t, Value::none());
        auto e = make(ExprKind::kName, t);
        e->name = t.text;
        return e;
      }
      case Tok::kString: {
        std::string s = t.text;
        advance();
        while (cur().type == Tok::kString) {
          s += cur().text;
          advance();
        }
        return literal(t, Value::string(std::move(s)));
      }
      case Tok::kInt: {
        advance();
        int64_t v = 0;
        auto res = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        if (res.ec != std::errc()) fail_at(t, "integer literal out of range");
        return literal(t, Value::integer(v));
      }
      case Tok::kFloat: {
        advance();
        return literal(t, Value::number(std::strtod(t.text.c_str(), nullptr)));
      }
      case Tok::kOp:
        if (t.text == "(") {
          advance();
          if (is_op(")")) {
            advance();
            return make(ExprKind::kTuple, t);
          }
          ExprPtr inner = parse_tuple(true);
          expect_op(")");
          return inner;
        }
        if (t.text == "[") {
          advance();
          auto list = make(ExprKind::kList, t);
          while (!is_op("]")) {
            add_child(*list, parse_expression(true));
            if (!is_op(",")) break;
            advance();
          }
          expect_op("]");
          return list;
        }
        if (t.text == "{") {
          advance();
          auto dict = make(ExprKind::kDict, t);
          while (!is_op("}")) {
            add_child(*dict, parse_expression(true));
            expect_op(":");
            add_child(*dict, parse_expression(true));
            if (!is_op(",")) break;
            advance();
          }
          expect_op("}");
          return dict;
        }
        break;
      default:
        break;
    }
    fail("unexpected " + describe(t));
  }

  ExprPtr literal(const Token& t, Value v) {
    auto e = make(ExprKind::kLiteral, t);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      const Token& t = cur();
      if (is_op(".")) {
        advance();
        if (cur().type == Tok::kName) {
          auto e = make(ExprKind::kGetAttr, t);
          e->name = cur().text;
          advance();
          add_child(*e, std::move(node));
          node = std::move(e);
        } else if (cur().type == Tok::kInt) {
          auto e = make(ExprKind::kGetItem, t);
          add_child(*e, std::move(node));
          add_child(*e, parse_primary());
          node = std::move(e);
        } else {
          fail("expected an attribute name after '.'");
        }
      } else if (is_op("[")) {
        advance();
        node = parse_subscript(std::move(node), t);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr target, const Token& at) {
    ExprPtr parts[3];
    bool is_slice = false;
    int part = 0;
    while (!is_op("]")) {
      if (is_op(":")) {
        is_slice = true;
        if (++part > 2) fail("too many ':' in slice");
        advance();
        continue;
      }
      if (parts[part]) fail("expected ':' or ']'");
      parts[part] = parse_expression(true);
    }
    advance();  // ]
    if (!is_slice) {
      if (!parts[0]) fail_at(at, "empty subscript");
      auto e = make(ExprKind::kGetItem, at);
      add_child(*e, std::move(target));
      add_child(*e, std::move(parts[0]));
      return e;
    }
    auto e = make(ExprKind::kSlice, at);
    add_child(*e, std::move(target));
    for (auto& p : parts) add_child(*e, std::move(p));
    return e;
  }

  // Parses `( args )` into e->children (after any already there) and e->kwarg_names.
  void parse_call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (cur().type == Tok::kName && peek().type == Tok::kOp && peek().text == "=") {
        e.kwarg_names.push_back(cur().text);
        advance();
        advance();
        add_child(e, parse_expression(true));
      } else {
        if (!e.kwarg_names.empty()) fail("positional argument after keyword argument");
        add_child(e, parse_expression(true));
      }
      if (!is_op(",")) break;
      advance();
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(ExprKind::kCall, cur());
    add_child(*e, std::move(callee));
    parse_call_args(*e);
    return e;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (is_op(".") && peek().type == Tok::kName) {
      advance();
      name.push_back('.');
      name += expect_name();
    }
    return name;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        const Token& at = cur();
        advance();
        auto e = make(ExprKind::kFilter, at);
        e->name = parse_dotted_name();
        add_child(*e, std::move(node));
        if (is_op("(")) parse_call_args(*e);
        node = std::move(e);
      } else if (is_name("is")) {
        const Token& at = cur();
        advance();
        auto e = make(ExprKind::kTest, at);
        if (is_name("not")) {
          e->negated = true;
          advance();
        }
        e->name = parse_dotted_name();
        add_child(*e, std::move(node));
        if (is_op("(")) {
          parse_call_args(*e);
        } else if ((cur().type == Tok::kName || cur().type == Tok::kString ||
                    cur().type == Tok::kInt || cur().type == Tok::kFloat || is_op("[") ||
                    is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail("you cannot chain multiple tests with is");
          add_child(*e, parse_postfix(parse_primary()));
        }
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> toks_;
  size_t i_ = 0;
  int depth_ = 0;
  const Positions& pos_info_;
};

}  // namespace

std::shared_ptr<const Program> parse_template(std::string_view raw) {
  // Newlines become "\n" and one trailing newline goes (jinja2's keep_trailing_newline=False).
  std::string src;
  src.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      src.push_back('\n');
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else {
      src.push_back(raw[i]);
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  const Positions positions(src);
  Parser parser(tokenize_template(src, positions), positions);
  return parser.run();
}

}  // namespace infera::chat
