#pragma once
// One error type for the whole library. Anything a file, a flag or a request controls throws
// infera::Error; internal invariants may assert. The CLI and (later) the server catch it at the
// boundary and turn it into a message and an exit code or an HTTP error body.
#include <stdexcept>
#include <string>

namespace infera {

enum class ErrorKind {
  kInvalidArgument,  // a flag, a parameter or a request field is wrong
  kInvalidFile,      // a GGUF file is malformed or inconsistent
  kUnsupported,      // well-formed, but a type/architecture infera does not run
  kIo,               // open/read/mmap failed
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace infera
