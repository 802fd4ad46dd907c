#include "model/model.h"

#include <map>
#include <string>

#include "core/error.h"
#include "kernels/weight_regroup.h"
#include "quant/dequantize.h"

namespace infera {
namespace {

std::string shape_string(const gguf::TensorInfo& t) {
  std::string s = "[";
  for (uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

std::string expected_string(int64_t ne0, int64_t ne1) {
  return ne1 ? "[" + std::to_string(ne0) + ", " + std::to_string(ne1) + "]"
             : "[" + std::to_string(ne0) + "]";
}

// Binds the tensors of one file to the model, checking each name, shape and type.
class Binder {
 public:
  // With `dequantized` set, matrices of other types than f32 are converted into storage there;
  // with `regroup`, matrices whose products run faster regrouped are regrouped in place (the
  // file's image must then be writable).
  Binder(const gguf::GgufFile& f, std::vector<std::vector<float>>* dequantized, bool regroup)
      : f_(f), dequantized_(dequantized), regroup_(regroup) {}

  const gguf::TensorInfo* find(const std::string& name, bool required) const {
    const auto* t = f_.find_tensor(name);
    if (!t && required) throw Error(ErrorKind::kInvalidFile, "tensor '" + name + "' is missing");
    return t;
  }

  static void check_supported(const gguf::TensorInfo& t) {
    if (!traits_of(t.type).supported) {
      throw Error(ErrorKind::kUnsupported, "tensor '" + t.name + "' has type " +
                                               std::string(tensor_type_name(t.type)) +
                                               ", which infera does not support");
    }
  }

  // A matrix with ne = [cols, rows].
  WeightMatrix matrix(const std::string& name, int64_t cols, int64_t rows, bool required = true) {
    const auto* t = find(name, required);
    if (!t) return {};
    if (t->n_dims != 2 || t->ne[0] != static_cast<uint64_t>(cols) ||
        t->ne[1] != static_cast<uint64_t>(rows)) {
      throw Error(ErrorKind::kInvalidFile, "tensor '" + name + "' has shape " + shape_string(*t) +
                                               ", expected " + expected_string(cols, rows));
    }
    check_supported(*t);
    WeightMatrix w;
    w.type = t->type;
    w.cols = cols;
    w.rows = rows;
    w.row_bytes = t->n_bytes / static_cast<uint64_t>(rows);
    w.data = t->data;
    if (dequantized_ && w.type != TensorType::F32) return to_f32(w);
    if (!regroup_) return w;
    // A tensor bound twice is rewritten once.
    if (const auto done = regrouped_.find(w.data); done != regrouped_.end()) {
      w.layout = done->second;
      return w;
    }
    const WeightLayout layout = layout_that_pays(w);
    if (layout != WeightLayout::kAsStored) {
      regroup_in_place(w, const_cast<uint8_t*>(t->data), layout);
      regrouped_.emplace(w.data, layout);
    }
    return w;
  }

  // A 1-D tensor of n elements, converted to f32; empty when absent and not required.
  std::vector<float> vector(const std::string& name, int64_t n, bool required = true) const {
    const auto* t = find(name, required);
    if (!t) return {};
    if (t->n_dims != 1 || t->ne[0] != static_cast<uint64_t>(n)) {
      throw Error(ErrorKind::kInvalidFile, "tensor '" + name + "' has shape " + shape_string(*t) +
                                               ", expected " + expected_string(n, 0));
    }
    check_supported(*t);
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_row(t->type, t->data, out.data(), n);
    return out;
  }

 private:
  WeightMatrix to_f32(const WeightMatrix& w) const {
    auto& out = dequantized_->emplace_back(static_cast<size_t>(w.cols * w.rows));
    for (int64_t r = 0; r < w.rows; ++r) dequantize_row(w.type, w.row(r), &out[r * w.cols], w.cols);
    WeightMatrix f = w;
    f.type = TensorType::F32;
    f.row_bytes = static_cast<uint64_t>(w.cols) * sizeof(float);
    f.data = reinterpret_cast<const uint8_t*>(out.data());
    return f;
  }

  const gguf::GgufFile& f_;
  std::vector<std::vector<float>>* dequantized_;
  bool regroup_;
  std::map<const uint8_t*, WeightLayout> regrouped_;
};

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  return from_gguf(gguf::GgufFile::open(path, options.storage, options.read_progress), options);
}

std::unique_ptr<Model> Model::from_gguf(std::unique_ptr<gguf::GgufFile> file,
                                        const LoadOptions& options) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  m->config_ = read_model_config(*m->file_);
  m->bind_weights(options);
  return m;
}

void Model::bind_weights(const LoadOptions& options) {
  const ModelConfig& c = config_;
  const bool regroup =
      options.regroup_weights && !options.f32_weights && file_->set_image_writable(true);
  Binder b(*file_, options.f32_weights ? &dequantized_ : nullptr, regroup);
  const int64_t q_dim = c.n_head * c.head_dim_k;
  const int64_t k_dim = c.n_head_kv * c.head_dim_k;
  const int64_t v_dim = c.n_head_kv * c.head_dim_v;

  token_embd = b.matrix("token_embd.weight", c.n_embd, c.n_vocab);
  output_norm = b.vector("output_norm.weight", c.n_embd);
  output = b.matrix("output.weight", c.n_embd, c.n_vocab, /*required=*/false);
  if (!output.data) output = token_embd;  // tied embeddings
  rope_freq_factors = b.vector("rope_freqs.weight", c.rope_dims / 2, /*required=*/false);

  layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights& L = layers[static_cast<size_t>(l)];
    L.attn_norm = b.vector(p + "attn_norm.weight", c.n_embd);
    L.wq = b.matrix(p + "attn_q.weight", c.n_embd, q_dim);
    L.wk = b.matrix(p + "attn_k.weight", c.n_embd, k_dim);
    L.wv = b.matrix(p + "attn_v.weight", c.n_embd, v_dim);
    L.wo = b.matrix(p + "attn_output.weight", c.n_head * c.head_dim_v, c.n_embd);
    if (c.qkv_bias) {
      L.bq = b.vector(p + "attn_q.bias", q_dim);
      L.bk = b.vector(p + "attn_k.bias", k_dim);
      L.bv = b.vector(p + "attn_v.bias", v_dim);
    }
    if (c.qk_norm) {
      L.q_norm = b.vector(p + "attn_q_norm.weight", c.head_dim_k);
      L.k_norm = b.vector(p + "attn_k_norm.weight", c.head_dim_k);
    }
    L.ffn_norm = b.vector(p + "ffn_norm.weight", c.n_embd);
    L.w_gate = b.matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff);
    L.w_up = b.matrix(p + "ffn_up.weight", c.n_embd, c.n_ff);
    L.w_down = b.matrix(p + "ffn_down.weight", c.n_ff, c.n_embd);
    if (c.post_norms) {
      L.post_attn_norm = b.vector(p + "post_attention_norm.weight", c.n_embd);
      L.post_ffn_norm = b.vector(p + "post_ffw_norm.weight", c.n_embd);
    }
  }
  if (regroup) file_->set_image_writable(false);
}

}  // namespace infera
