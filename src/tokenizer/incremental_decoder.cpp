#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace infera {

namespace {
constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";
}

std::string IncrementalDecoder::drain(bool final) {
  std::string out;
  std::string_view rest = pending_;
  while (!rest.empty()) {
    const unicode::Utf8Scan scan = unicode::scan_utf8(rest);
    out.append(rest.substr(0, scan.valid));
    rest.remove_prefix(scan.valid);
    if (scan.bad > 0) {
      out.append(kReplacementUtf8);
      rest.remove_prefix(scan.bad);
      continue;
    }
    if (scan.incomplete && !final) break;  // keep the start of a character for the next token
    if (scan.incomplete) {
      out.append(kReplacementUtf8);
      rest = {};
    }
  }
  pending_ = std::string(rest);
  return out;
}

std::string IncrementalDecoder::push(int32_t id) {
  try {
    pending_ += tokenizer_->token_to_piece(id);
    return drain(false);
  } catch (...) {  // allocation failure: never let streaming throw
    pending_.clear();
    return {};
  }
}

std::string IncrementalDecoder::flush() {
  try {
    std::string out = drain(true);
    pending_.clear();
    return out;
  } catch (...) {
    pending_.clear();
    return {};
  }
}

}  // namespace infera
