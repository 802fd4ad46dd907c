#include "cli/load_model.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace infera::cli {

std::unique_ptr<Model> load_model_with_progress(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  auto model = Model::load(path);
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

}  // namespace infera::cli
