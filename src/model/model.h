#pragma once
// A loaded model: its validated hyper-parameters and views of its weights inside the GGUF file's
// image (read into memory or mapped, as LoadOptions::storage says). Matrices are not copied unless
// LoadOptions::f32_weights asks for it; 1-D tensors (norm weights, biases: a few KB each) are
// converted to f32 vectors at load.
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "kernels/weight_matrix.h"
#include "model/model_config.h"

namespace infera {

struct LayerWeights {
  std::vector<float> attn_norm;       // (n_embd)
  WeightMatrix wq;                    // (n_embd -> n_head * head_dim_k)
  WeightMatrix wk;                    // (n_embd -> n_head_kv * head_dim_k)
  WeightMatrix wv;                    // (n_embd -> n_head_kv * head_dim_v)
  WeightMatrix wo;                    // (n_head * head_dim_v -> n_embd)
  std::vector<float> bq, bk, bv;      // qwen2 biases, sized as the projections' outputs
  std::vector<float> q_norm, k_norm;  // (head_dim_k) qwen3/gemma3 per-head norms
  std::vector<float> post_attn_norm;  // (n_embd) gemma3
  std::vector<float> ffn_norm;        // (n_embd)
  WeightMatrix w_gate;                // (n_embd -> n_ff)
  WeightMatrix w_up;                  // (n_embd -> n_ff)
  WeightMatrix w_down;                // (n_ff -> n_embd)
  std::vector<float> post_ffn_norm;   // (n_embd) gemma3
};

struct LoadOptions {
  // Dequantize every weight matrix to f32 at load. Matrix products then take the f32 activations
  // as they are instead of rounding them to 8-bit blocks: the file's model computed without
  // activation rounding, for accuracy checks, at 4-8x a 4-bit file's memory and lower speed.
  bool f32_weights = false;
  // Regroup weight rows in place where the kernels of this CPU multiply them faster so
  // (kernels/weight_regroup.h; the same results either way). Needs an image this process owns:
  // not for a GgufFile made from_memory(). The file's tensor data then holds the regrouped bytes
  // too: read those tensors through the model's WeightMatrix, which knows their layout.
  bool regroup_weights = true;
  // How the file's bytes are kept (gguf_file.h): read into huge pages by default, for the speed
  // of generation; kMapped starts faster and shares the pages with other processes.
  gguf::FileStorage storage = gguf::FileStorage::kHugePages;
  // Called while a kHugePages file is read (bytes done, file size); may be empty.
  gguf::GgufFile::ReadProgress read_progress;
};

class Model {
 public:
  // Reads (or maps), validates and binds `path`. Throws infera::Error naming the file and the
  // problem.
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& options = {});
  static std::unique_ptr<Model> from_gguf(std::unique_ptr<gguf::GgufFile> file,
                                          const LoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const gguf::GgufFile& file() const { return *file_; }

  WeightMatrix token_embd;               // (n_embd, n_vocab): row t is token t's embedding
  WeightMatrix output;                   // (n_embd -> n_vocab); token_embd when tied
  std::vector<float> output_norm;        // (n_embd)
  std::vector<float> rope_freq_factors;  // (rope_dims / 2) or empty
  std::vector<LayerWeights> layers;

 private:
  Model() = default;
  void bind_weights(const LoadOptions& options);

  std::unique_ptr<gguf::GgufFile> file_;
  ModelConfig config_;
  std::vector<std::vector<float>> dequantized_;  // storage of the matrices when f32_weights
};

}  // namespace infera
