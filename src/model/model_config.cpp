#include "model/model_config.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/architecture.h"

namespace infera {
namespace {

// Upper bounds far above any real model; they keep products of hyper-parameters (buffer sizes)
// well inside 64 bits and turn absurd values from a hostile file into a clear error.
constexpr uint64_t kMaxDim = 1u << 20;
constexpr uint64_t kMaxLayers = 4096;
constexpr uint64_t kMaxHeads = 4096;
constexpr uint64_t kMaxContext = 1u << 24;
constexpr uint64_t kMaxVocab = 1u << 22;

[[noreturn]] void fail(const std::string& key, const std::string& why) {
  throw Error(ErrorKind::kInvalidFile, "metadata '" + key + "': " + why);
}

int64_t require_count(const gguf::GgufFile& f, const std::string& key, uint64_t max) {
  const auto v = f.get_u64(key);
  if (!v) fail(key, "required key is missing");
  if (*v == 0 || *v > max)
    fail(key, "value " + std::to_string(*v) + " is out of range [1, " + std::to_string(max) + "]");
  return static_cast<int64_t>(*v);
}

int64_t optional_count(const gguf::GgufFile& f, const std::string& key, int64_t fallback,
                       uint64_t max) {
  if (!f.find(key)) return fallback;
  return require_count(f, key, max);
}

float positive_float(const gguf::GgufFile& f, const std::string& key, double fallback) {
  const double v = f.get_f64_or(key, fallback);
  if (!std::isfinite(v) || v <= 0)
    fail(key, "must be a positive finite number, got " + std::to_string(v));
  return static_cast<float>(v);
}

}  // namespace

ModelConfig read_model_config(const gguf::GgufFile& f) {
  ModelConfig c;
  const auto arch = f.get_string("general.architecture");
  if (!arch) fail("general.architecture", "required key is missing");
  c.architecture = *arch;
  const ArchitectureSpec* spec = find_architecture(c.architecture);
  if (!spec) {
    throw Error(ErrorKind::kUnsupported,
                "architecture '" + c.architecture +
                    "' is not supported (supported: " + supported_architectures() + ")");
  }
  const std::string p = c.architecture + ".";

  c.n_embd = require_count(f, p + "embedding_length", kMaxDim);
  c.n_layer = require_count(f, p + "block_count", kMaxLayers);
  c.n_ff = require_count(f, p + "feed_forward_length", kMaxDim);
  c.n_head = require_count(f, p + "attention.head_count", kMaxHeads);
  c.n_head_kv = optional_count(f, p + "attention.head_count_kv", c.n_head, kMaxHeads);
  c.n_ctx_train = optional_count(f, p + "context_length", 2048, kMaxContext);
  if (c.n_head % c.n_head_kv != 0) {
    fail(p + "attention.head_count_kv", "head_count " + std::to_string(c.n_head) +
                                            " is not a multiple of head_count_kv " +
                                            std::to_string(c.n_head_kv));
  }
  if (c.n_embd % c.n_head != 0 && !f.find(p + "attention.key_length")) {
    fail(p + "attention.head_count",
         "embedding_length is not a multiple of head_count and key_length is absent");
  }
  c.head_dim_k = optional_count(f, p + "attention.key_length", c.n_embd / c.n_head, kMaxDim);
  c.head_dim_v = optional_count(f, p + "attention.value_length", c.head_dim_k, kMaxDim);
  c.rms_eps = positive_float(f, p + "attention.layer_norm_rms_epsilon", 1e-5);
  c.rope_freq_base = positive_float(f, p + "rope.freq_base", 10000.0);
  c.rope_dims = optional_count(f, p + "rope.dimension_count", c.head_dim_k, kMaxDim);
  if (c.rope_dims > c.head_dim_k || c.rope_dims % 2 != 0) {
    fail(p + "rope.dimension_count",
         "must be even and at most the head size " + std::to_string(c.head_dim_k));
  }
  const std::string scaling = f.get_string_or(p + "rope.scaling.type", "none");
  if (scaling == "linear") {
    c.rope_freq_scale = 1.0f / positive_float(f, p + "rope.scaling.factor", 1.0);
  } else if (scaling != "none" && !(scaling == "yarn" && !f.find(p + "rope.scaling.factor"))) {
    throw Error(ErrorKind::kUnsupported, "metadata '" + p + "rope.scaling.type': rope scaling '" +
                                             scaling +
                                             "' is not supported (supported: none, linear)");
  }
  c.sliding_window = static_cast<int64_t>(f.get_u64_or(p + "attention.sliding_window", 0));
  if (static_cast<uint64_t>(c.sliding_window) > kMaxContext)
    fail(p + "attention.sliding_window", "out of range");
  c.layer_is_swa.assign(static_cast<size_t>(c.n_layer), 0);
  c.attention_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim_k));

  const auto* embd = f.find_tensor("token_embd.weight");
  if (!embd) throw Error(ErrorKind::kInvalidFile, "tensor 'token_embd.weight' is missing");
  if (embd->n_dims != 2 || embd->ne[1] == 0 || embd->ne[1] > kMaxVocab) {
    throw Error(ErrorKind::kInvalidFile,
                "tensor 'token_embd.weight': expected shape [n_embd, n_vocab] with n_vocab <= " +
                    std::to_string(kMaxVocab));
  }
  c.n_vocab = static_cast<int64_t>(embd->ne[1]);
  if (const auto* tokens = f.find("tokenizer.ggml.tokens")) {
    if (tokens->array.size() != static_cast<size_t>(c.n_vocab)) {
      fail("tokenizer.ggml.tokens", std::to_string(tokens->array.size()) +
                                        " tokens but token_embd.weight has " +
                                        std::to_string(c.n_vocab) + " rows");
    }
  }

  spec->configure(f, c);
  return c;
}

}  // namespace infera
