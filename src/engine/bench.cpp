#include "engine/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string_view>

#include "core/error.h"
#include "model/session.h"
#include "quant/tensor_type.h"

namespace infera {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t matrix_bytes(const WeightMatrix& w) {
  return static_cast<uint64_t>(std::max<int64_t>(w.rows, 0)) * w.row_bytes;
}

// llama.cpp's names for general.file_type (llama_ftype), for the common ones; nullptr otherwise.
const char* file_type_name(uint64_t ftype) {
  switch (ftype) {
    case 0:
      return "F32";
    case 1:
      return "F16";
    case 2:
      return "Q4_0";
    case 3:
      return "Q4_1";
    case 7:
      return "Q8_0";
    case 8:
      return "Q5_0";
    case 9:
      return "Q5_1";
    case 10:
      return "Q2_K - Medium";
    case 11:
      return "Q3_K - Small";
    case 12:
      return "Q3_K - Medium";
    case 13:
      return "Q3_K - Large";
    case 14:
      return "Q4_K - Small";
    case 15:
      return "Q4_K - Medium";
    case 16:
      return "Q5_K - Small";
    case 17:
      return "Q5_K - Medium";
    case 18:
      return "Q6_K";
    case 32:
      return "BF16";
    default:
      return nullptr;
  }
}

std::string format(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

std::string format(const char* fmt, double a, double b) {
  char buf[96];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

// ---- a minimal JSON writer: strings escaped per RFC 8259, non-finite numbers as null ---------

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;  // UTF-8 bytes pass through
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  return format("%.17g", v);
}

std::string json_number(uint64_t v) { return std::to_string(v); }
std::string json_number(int64_t v) { return std::to_string(v); }

}  // namespace

SampleStats sample_stats(std::span<const double> samples) {
  SampleStats s;
  s.n = static_cast<int64_t>(samples.size());
  if (s.n == 0) return s;
  double sum = 0.0;
  for (const double x : samples) sum += x;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n < 2) return s;
  double sq = 0.0;
  for (const double x : samples) sq += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(sq / static_cast<double>(s.n - 1));
  return s;
}

ModelFootprint model_footprint(const Model& model) {
  ModelFootprint f;
  std::map<TensorType, uint64_t> bytes_by_type;  // of the layer tensors, for the fallback name
  for (const gguf::TensorInfo& t : model.file().tensors()) {
    f.tensor_bytes += t.n_bytes;
    f.n_params += t.n_elements;
    if (t.name.starts_with("blk.") && t.n_dims >= 2) bytes_by_type[t.type] += t.n_bytes;
  }
  const std::optional<uint64_t> ftype = model.file().get_u64("general.file_type");
  if (const char* name = ftype ? file_type_name(*ftype) : nullptr) {
    f.main_type = name;
  } else if (!bytes_by_type.empty()) {
    const auto top =
        std::max_element(bytes_by_type.begin(), bytes_by_type.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    f.main_type = std::string(tensor_type_name(top->first));
  }
  for (const LayerWeights& l : model.layers) {
    for (const WeightMatrix* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      f.layer_matrix_bytes += matrix_bytes(*w);
  }
  f.output_bytes = matrix_bytes(model.output);
  f.embedding_row_bytes = model.token_embd.row_bytes;
  return f;
}

std::string model_description(const Model& model, const ModelFootprint& footprint) {
  std::string size = model.file().get_string_or("general.size_label", "");
  if (size.empty()) {
    const double p = static_cast<double>(footprint.n_params);
    size = p >= 1e9 ? format("%.1fB", p * 1e-9) : format("%.0fM", p * 1e-6);
  }
  std::string desc = model.config().architecture + " " + size;
  if (!footprint.main_type.empty()) desc += " " + footprint.main_type;
  return desc;
}

std::string bench_test_name(const BenchTest& test) {
  std::string name = test.kind == BenchKind::kPrompt ? "pp" : "tg";
  name += std::to_string(test.n_tokens);
  if (test.depth > 0) name += " @ d" + std::to_string(test.depth);
  return name;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (auto& t : tokens) t = pick(rng);
  return tokens;
}

BenchResult run_bench(const Model& model, ThreadPool& pool, const BenchTest& test, int reps,
                      uint64_t seed) {
  if (test.n_tokens <= 0)
    throw Error(ErrorKind::kInvalidArgument,
                bench_test_name(test) + ": the token count must be positive");
  if (test.depth < 0)
    throw Error(ErrorKind::kInvalidArgument,
                bench_test_name(test) + ": the depth must not be negative");
  if (reps < 1)
    throw Error(ErrorKind::kInvalidArgument,
                "repetitions must be at least 1, got " + std::to_string(reps));
  const int64_t n_vocab = model.config().n_vocab;
  std::mt19937_64 rng(seed);
  std::vector<float> logits;
  int64_t timed_from = 0;

  // Evaluates, untimed, `context` and then the test's depth of random tokens.
  auto fill = [&](Session& session, std::vector<int32_t> context) {
    const std::vector<int32_t> more = random_tokens(test.depth, n_vocab, rng);
    context.insert(context.end(), more.begin(), more.end());
    if (!context.empty()) session.eval(context, LogitsFor::kNone, &logits);
  };
  // One repetition on a fresh session; returns tokens/s.
  auto once = [&]() -> double {
    if (test.kind == BenchKind::kPrompt) {
      const std::vector<int32_t> prompt = random_tokens(test.n_tokens, n_vocab, rng);
      Session session(model, test.depth + test.n_tokens, pool);
      fill(session, {});
      timed_from = session.n_past();
      const auto t0 = std::chrono::steady_clock::now();
      session.eval(prompt, LogitsFor::kLastToken, &logits);
      return static_cast<double>(test.n_tokens) / std::max(seconds_since(t0), 1e-12);
    }
    const std::vector<int32_t> steps = random_tokens(test.n_tokens, n_vocab, rng);
    Session session(model, 1 + test.depth + test.n_tokens, pool);
    const uint64_t bos = model.file().get_u64_or("tokenizer.ggml.bos_token_id", UINT64_MAX);
    const int32_t first = bos < static_cast<uint64_t>(n_vocab) ? static_cast<int32_t>(bos)
                                                               : random_tokens(1, n_vocab, rng)[0];
    fill(session, {first});
    timed_from = session.n_past();
    const auto t0 = std::chrono::steady_clock::now();
    for (const int32_t& token : steps)
      session.eval(std::span<const int32_t>(&token, 1), LogitsFor::kLastToken, &logits);
    return static_cast<double>(test.n_tokens) / std::max(seconds_since(t0), 1e-12);
  };

  BenchResult result;
  result.test = test;
  once();  // warm-up
  for (int r = 0; r < reps; ++r) result.tokens_per_s.push_back(once());
  result.stats = sample_stats(result.tokens_per_s);
  result.timed_from_position = timed_from;
  return result;
}

double BenchReport::roofline_tokens_per_s() const {
  const uint64_t bytes = footprint.decode_bytes();
  if (!membw || bytes == 0) return 0.0;
  return membw->gb_per_s * 1e9 / static_cast<double>(bytes);
}

std::string format_bench_table(const BenchReport& report) {
  const std::string size =
      format("%.2f MiB", static_cast<double>(report.footprint.tensor_bytes) / (1024.0 * 1024.0));
  const double params = static_cast<double>(report.footprint.n_params);
  const std::string n_params =
      params >= 1e9 ? format("%.2f B", params * 1e-9) : format("%.2f M", params * 1e-6);
  const std::string backend = "CPU " + report.isa;
  const std::string threads = std::to_string(report.threads);

  // Column widths: the wider of the header and every cell.
  struct Row {
    std::string test, tps;
  };
  std::vector<Row> rows;
  for (const BenchResult& r : report.results)
    rows.push_back({bench_test_name(r.test), format("%.2f ± %.2f", r.stats.mean, r.stats.stddev)});
  size_t w_model = std::max<size_t>(5, report.model_desc.size());
  size_t w_test = 4, w_tps = 3;
  for (const Row& r : rows) {
    w_test = std::max(w_test, r.test.size());
    // "±" is two bytes in UTF-8 but one column on screen.
    w_tps = std::max(w_tps, r.tps.size() - 1);
  }
  const size_t w_size = std::max<size_t>(4, size.size());
  const size_t w_params = std::max<size_t>(6, n_params.size());
  const size_t w_backend = std::max<size_t>(7, backend.size());
  const size_t w_threads = 7;

  auto pad = [](const std::string& s, size_t width, bool right, size_t extra = 0) {
    const size_t len = s.size() - extra;
    const std::string fill(width > len ? width - len : 0, ' ');
    return right ? fill + s : s + fill;
  };
  auto dashes = [](size_t width, bool right) {
    return std::string(width - (right ? 1 : 0), '-') + (right ? ":" : "");
  };
  std::string out;
  out += "| " + pad("model", w_model, false) + " | " + pad("size", w_size, true) + " | " +
         pad("params", w_params, true) + " | " + pad("backend", w_backend, false) + " | " +
         pad("threads", w_threads, true) + " | " + pad("test", w_test, true) + " | " +
         pad("t/s", w_tps, true) + " |\n";
  out += "| " + dashes(w_model, false) + " | " + dashes(w_size, true) + " | " +
         dashes(w_params, true) + " | " + dashes(w_backend, false) + " | " +
         dashes(w_threads, true) + " | " + dashes(w_test, true) + " | " + dashes(w_tps, true) +
         " |\n";
  for (const Row& r : rows) {
    out += "| " + pad(report.model_desc, w_model, false) + " | " + pad(size, w_size, true) + " | " +
           pad(n_params, w_params, true) + " | " + pad(backend, w_backend, false) + " | " +
           pad(threads, w_threads, true) + " | " + pad(r.test, w_test, true) + " | " +
           pad(r.tps, w_tps, true, 1) + " |\n";
  }

  const ModelFootprint& f = report.footprint;
  out += "\nweights read per generated token: " +
         format("%.2f MB", static_cast<double>(f.decode_bytes()) * 1e-6) + " (layer matrices " +
         format("%.2f MB", static_cast<double>(f.layer_matrix_bytes) * 1e-6) + ", output " +
         format("%.2f MB", static_cast<double>(f.output_bytes) * 1e-6) + ", one embedding row " +
         format("%.0f B", static_cast<double>(f.embedding_row_bytes)) + ")\n";
  if (!report.membw) {
    out += "read bandwidth: not measured (--no-probe)\n";
    return out;
  }
  const MemBwResult& bw = *report.membw;
  out += "read bandwidth: " + format("%.2f GB/s", bw.gb_per_s) + " (best of " +
         std::to_string(bw.runs) + ", slowest " + format("%.2f", bw.worst_gb_per_s) + "; " +
         std::to_string(bw.threads) + " threads, " +
         format("%.0f MiB", static_cast<double>(bw.buffer_bytes) / (1024.0 * 1024.0)) + ", " +
         std::string(bw.loop) + " loop)\n";
  const double roof = report.roofline_tokens_per_s();
  out +=
      "generation roofline: " + format("%.1f tokens/s", roof) + " (bandwidth / bytes per token)\n";
  for (const BenchResult& r : report.results) {
    if (r.test.kind != BenchKind::kGenerate || r.test.depth > 0 || roof <= 0.0) continue;
    out += bench_test_name(r.test) + ": " + format("%.2f tokens/s", r.stats.mean) + " = " +
           format("%.1f%% of the roofline", 100.0 * r.stats.mean / roof) + "\n";
  }
  return out;
}

// Keys: model (path), model_desc, model_size (bytes), model_n_params, main_type, isa, n_threads,
// decode_weight_bytes {total, layer_matrices, output, embedding_row}, membw (null, or
// {gb_per_s, worst_gb_per_s, buffer_bytes, runs, threads, loop}), roofline_tokens_per_s (null
// without a probe), tests: [{name, kind ("pp"/"tg"), n_tokens, n_depth, avg_ts, stddev_ts,
// samples_ts, roofline_fraction (tg at depth 0 with a probe, else null)}].
std::string format_bench_json(const BenchReport& report) {
  const ModelFootprint& f = report.footprint;
  const double roof = report.roofline_tokens_per_s();
  std::string o = "{";
  o += "\"model\":" + json_string(report.model_path);
  o += ",\"model_desc\":" + json_string(report.model_desc);
  o += ",\"model_size\":" + json_number(f.tensor_bytes);
  o += ",\"model_n_params\":" + json_number(f.n_params);
  o += ",\"main_type\":" + json_string(f.main_type);
  o += ",\"isa\":" + json_string(report.isa);
  o += ",\"n_threads\":" + json_number(static_cast<int64_t>(report.threads));
  o += ",\"decode_weight_bytes\":{\"total\":" + json_number(f.decode_bytes()) +
       ",\"layer_matrices\":" + json_number(f.layer_matrix_bytes) +
       ",\"output\":" + json_number(f.output_bytes) +
       ",\"embedding_row\":" + json_number(f.embedding_row_bytes) + "}";
  if (report.membw) {
    const MemBwResult& bw = *report.membw;
    o += ",\"membw\":{\"gb_per_s\":" + json_number(bw.gb_per_s) +
         ",\"worst_gb_per_s\":" + json_number(bw.worst_gb_per_s) +
         ",\"buffer_bytes\":" + json_number(bw.buffer_bytes) +
         ",\"runs\":" + json_number(static_cast<int64_t>(bw.runs)) +
         ",\"threads\":" + json_number(static_cast<int64_t>(bw.threads)) +
         ",\"loop\":" + json_string(bw.loop) + "}";
    o += ",\"roofline_tokens_per_s\":" + json_number(roof);
  } else {
    o += ",\"membw\":null,\"roofline_tokens_per_s\":null";
  }
  o += ",\"tests\":[";
  for (size_t i = 0; i < report.results.size(); ++i) {
    const BenchResult& r = report.results[i];
    const bool tg = r.test.kind == BenchKind::kGenerate;
    if (i > 0) o += ",";
    o += "{\"name\":" + json_string(bench_test_name(r.test));
    o += ",\"kind\":" + json_string(tg ? "tg" : "pp");
    o += ",\"n_tokens\":" + json_number(r.test.n_tokens);
    o += ",\"n_depth\":" + json_number(r.test.depth);
    o += ",\"avg_ts\":" + json_number(r.stats.mean);
    o += ",\"stddev_ts\":" + json_number(r.stats.stddev);
    o += ",\"samples_ts\":[";
    for (size_t k = 0; k < r.tokens_per_s.size(); ++k) {
      if (k > 0) o += ",";
      o += json_number(r.tokens_per_s[k]);
    }
    o += "]";
    o += ",\"roofline_fraction\":" + (tg && r.test.depth == 0 && roof > 0.0
                                          ? json_number(r.stats.mean / roof)
                                          : std::string("null"));
    o += "}";
  }
  o += "]}";
  return o;
}

}  // namespace infera
