#pragma once
// The parsed form of a chat template: a tree of statements whose leaves are expressions.
// Produced by parse_template() (template_parser.cpp), walked by the interpreter
// (template_eval.cpp). Every node records its line and column for error messages.
#include <memory>
#include <string>
#include <vector>

#include "chat/value.h"

namespace infera::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kLiteral,    // value
  kName,       // name
  kList,       // children
  kTuple,      // children
  kDict,       // children: key, value, key, value, ...
  kGetAttr,    // children[0] . name
  kGetItem,    // children[0] [ children[1] ]
  kSlice,      // children[0] [ children[1] : children[2] : children[3] ] (null = omitted)
  kCall,       // children[0] ( children[1..] ), kwarg_names for the trailing keyword args
  kFilter,     // children[0] | name ( children[1..] )
  kTest,       // children[0] is [not] name ( children[1..] ); negated
  kNot,        // not children[0]
  kNeg,        // - children[0]
  kPos,        // + children[0]
  kBinary,     // children[0] op children[1]  (+ - * / // % ** ~)
  kAnd,        // children[0] and children[1]
  kOr,         // children[0] or children[1]
  kCompare,    // children[0] ops[0] children[1] ops[1] children[2] ... (chained)
  kCondition,  // children[0] if children[1] else children[2] (children[2] may be null)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  int column = 0;
  Value value;                           // kLiteral
  std::string name;                      // kName, kGetAttr, kFilter, kTest; op for kBinary
  std::vector<ExprPtr> children;         // see ExprKind
  std::vector<std::string> kwarg_names;  // kCall/kFilter/kTest: names of the last N args
  std::vector<std::string> ops;          // kCompare: "==", "!=", "<", "<=", ">", ">=", "in",
                                         // "not in"
  bool negated = false;                  // kTest
  int depth = 1;                         // height of this subtree (bounded by the parser)
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
  kText,      // text
  kOutput,    // {{ expr }}
  kIf,        // conditions[i] -> bodies[i]; else_body
  kFor,       // for targets in expr [if condition]: body; else_body
  kSet,       // set targets = expr, or set name.attr = expr (attr non-empty)
  kSetBlock,  // set target %}body{% endset
  kMacro,     // macro name(params, defaults): body
  kBreak,
  kContinue,
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  int line = 0;
  int column = 0;
  std::string text;                  // kText
  ExprPtr expr;                      // kOutput, kFor (iterable), kSet (value)
  ExprPtr condition;                 // kFor filter (may be null)
  std::vector<ExprPtr> conditions;   // kIf
  std::vector<Body> bodies;          // kIf
  Body body;                         // kFor, kSetBlock, kMacro
  Body else_body;                    // kIf, kFor
  std::vector<std::string> targets;  // kFor, kSet, kSetBlock, kMacro (name in targets[0])
  std::string attr;                  // kSet on a namespace attribute
  std::vector<MacroParam> params;    // kMacro
};

struct Program {
  Body body;
};

// Parses a template with transformers' settings (trim_blocks, lstrip_blocks, loop controls).
// Throws infera::Error (kInvalidArgument) "chat template syntax error at L:C: ...".
std::shared_ptr<const Program> parse_template(std::string_view source);

}  // namespace infera::chat
