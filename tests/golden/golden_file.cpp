#include "golden_file.h"

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace infera::testing {
namespace {

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw std::runtime_error("cannot open golden file " + path);
  }
  void bytes(void* dst, size_t n) {
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (!in_) throw std::runtime_error("golden file " + path_ + " is truncated");
  }
  uint32_t u32() {
    uint32_t v;
    bytes(&v, sizeof v);
    return v;
  }
  template <typename T>
  std::vector<T> array(size_t n) {
    if (n > (1u << 28)) throw std::runtime_error("golden file " + path_ + " has an absurd count");
    std::vector<T> v(n);
    if (n) bytes(v.data(), n * sizeof(T));
    return v;
  }

 private:
  std::string path_;
  std::ifstream in_;
};

}  // namespace

GoldenFile read_golden_file(const std::string& path) {
  Reader r(path);
  char magic[8];
  r.bytes(magic, sizeof magic);
  if (std::memcmp(magic, "INFGLD01", 8) != 0)
    throw std::runtime_error(path + " is not a golden file");
  const uint32_t version = r.u32();
  if (version != 1)
    throw std::runtime_error(path + ": unsupported golden version " + std::to_string(version));
  GoldenFile g;
  g.n_vocab = r.u32();
  const uint32_t n_seq = r.u32();
  for (uint32_t s = 0; s < n_seq; ++s) {
    GoldenSequence seq;
    seq.tokens = r.array<int32_t>(r.u32());
    seq.top_k = r.u32();
    const size_t n = seq.tokens.size();
    seq.ids.resize(n * seq.top_k);
    seq.logprobs.resize(n * seq.top_k);
    for (size_t p = 0; p < n; ++p) {
      r.bytes(seq.ids.data() + p * seq.top_k, seq.top_k * sizeof(int32_t));
      r.bytes(seq.logprobs.data() + p * seq.top_k, seq.top_k * sizeof(float));
    }
    g.sequences.push_back(std::move(seq));
  }
  const uint32_t n_greedy = r.u32();
  for (uint32_t i = 0; i < n_greedy; ++i) {
    GoldenGreedy gr;
    gr.prompt = r.array<int32_t>(r.u32());
    gr.generated = r.array<int32_t>(r.u32());
    g.greedy.push_back(std::move(gr));
  }
  return g;
}

}  // namespace infera::testing
