#pragma once
#include <memory>
#include <string>

#include "model/model.h"

namespace CLI {
class App;
}

namespace infera::cli {

// Loads a model for a terminal command with its weights in memory up front (read, or for a mapped
// file touched page by page), reporting progress on stderr: a percentage line for files over
// 256 MiB when stderr is a terminal, and a one-line summary (size, time) always. Reading ahead
// makes the first answer as fast as the rest instead of paying for page faults on the way.
std::unique_ptr<Model> load_model_with_progress(const std::string& path,
                                                const LoadOptions& options);

// The options of how a model is loaded, shared by every command that loads one.
void add_load_options(CLI::App* cmd, LoadOptions* options);

}  // namespace infera::cli
