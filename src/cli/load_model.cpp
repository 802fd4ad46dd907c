#include "cli/load_model.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

namespace infera::cli {

std::unique_ptr<Model> load_model_with_progress(const std::string& path,
                                                const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  bool show_progress = false;
  int last_percent = -1;
  auto report = [&](uint64_t done, uint64_t total) {
    if (last_percent < 0) show_progress = total > (256ull << 20) && isatty(STDERR_FILENO);
    const int percent =
        static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
    if (show_progress && percent != last_percent)
      std::fprintf(stderr, "\rinfera: loading %s %3d%%", path.c_str(), percent);
    last_percent = percent;
  };
  LoadOptions with_progress = options;
  with_progress.read_progress = report;
  auto model = Model::load(path, with_progress);
  const auto& file = model->file();
  const uint64_t size = file.file_size();

  if (options.storage == gguf::FileStorage::kMapped) {
    // Touch one byte per page of the tensor data, in order: the kernel reads the file ahead.
    uint64_t done = 0;
    volatile uint8_t sink = 0;
    const long page = sysconf(_SC_PAGESIZE);
    for (const auto& t : file.tensors()) {
      for (uint64_t off = 0; off < t.n_bytes; off += static_cast<uint64_t>(page))
        sink = sink + t.data[off];
      done += t.n_bytes;
      report(done, size);
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
  cmd->add_flag_callback(
      "--mmap", [options] { options->storage = gguf::FileStorage::kMapped; },
      "Map the model file instead of reading it into memory: starts at once and shares the "
      "pages with other processes, but generation is slower (4 KiB pages instead of 2 MiB)");
}

}  // namespace infera::cli
