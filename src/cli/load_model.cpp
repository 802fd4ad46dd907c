#include "cli/load_model.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

namespace infera::cli {

std::unique_ptr<Model> load_model_with_progress(const std::string& path,
                                                const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto model = Model::load(path, options);
  const auto& file = model->file();
  const uint64_t size = file.file_size();
  const bool show_progress = size > (256ull << 20) && isatty(STDERR_FILENO);

  // Touch one byte per page of the tensor data, in order: the kernel reads the file ahead.
  const auto& tensors = file.tensors();
  uint64_t done = 0;
  int last_percent = -1;
  volatile uint8_t sink = 0;
  const long page = sysconf(_SC_PAGESIZE);
  for (const auto& t : tensors) {
    for (uint64_t off = 0; off < t.n_bytes; off += static_cast<uint64_t>(page))
      sink = sink + t.data[off];
    done += t.n_bytes;
    const int percent =
        static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(size));
    if (show_progress && percent != last_percent) {
      std::fprintf(stderr, "\rinfera: loading %s %3d%%", path.c_str(), percent);
      last_percent = percent;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%sinfera: loaded %s (%s, %.0f MiB) in %.2f s\n", show_progress ? "\r" : "",
               path.c_str(), model->config().architecture.c_str(),
               static_cast<double>(size) / (1 << 20), seconds);
  return model;
}

void add_load_options(CLI::App* cmd, LoadOptions* options) {
  cmd->add_flag("--f32-weights", options->f32_weights,
                "Dequantize the weights to f32 at load and compute without rounding activations "
                "to 8 bits (accuracy checks; 4-8x the memory of a 4-bit file, slower)");
}

}  // namespace infera::cli
