#include "server/stop_strings.h"

#include <algorithm>

namespace infera::server {

StopStringMatcher::Result StopStringMatcher::push(std::string_view text) {
  Result r;
  held_.append(text);
  if (stops_.empty()) {
    r.emit.swap(held_);
    return r;
  }
  // The earliest full match ends the text.
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    r.emit = held_.substr(0, first);
    r.stopped = true;
    held_.clear();
    return r;
  }
  // Hold back the longest tail of the text that is a proper prefix of some stop string. Stop
  // strings are valid UTF-8, so such a tail never starts inside a character.
  size_t keep = 0;
  for (const std::string& s : stops_) {
    const size_t max_len = std::min(s.size() - 1, held_.size());
    for (size_t len = max_len; len > keep; --len) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
    }
  }
  r.emit = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return r;
}

std::string StopStringMatcher::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace infera::server
