#pragma once
// Stop strings over streamed text: generation ends where the first stop string begins, and the
// stop string itself is never sent. Text that could be the start of a stop string is held back
// until the next piece shows whether it is one.
#include <string>
#include <string_view>
#include <vector>

namespace infera::server {

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  struct Result {
    std::string emit;      // text that is safe to send now
    bool stopped = false;  // a stop string was found: emit is everything before it
  };
  // Appends `text` (complete UTF-8) to what is held back and returns what may be sent.
  Result push(std::string_view text);
  // The text held back, at the end of generation (no stop string followed).
  std::string flush();
  const std::string& held() const { return held_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace infera::server
