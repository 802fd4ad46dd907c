#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace infera::cli {

std::string default_model_path() {
  std::string data_dir;
  if (const char* env = std::getenv("INFERA_DATA_DIR"); env && *env) {
    data_dir = env;
  } else {
    const char* home = std::getenv("HOME");
    data_dir = std::string(home ? home : ".") + "/.cache/infera";
  }
  const std::string path = data_dir + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) {
    throw Error(ErrorKind::kInvalidArgument,
                "no model given (-m) and the default model is not at " + path +
                    "; fetch it with tools/fetch_models.sh smollm2");
  }
  return path;
}

}  // namespace infera::cli
