#pragma once
#include <string>

namespace infera::cli {

// The model used when no -m is given: SmolLM2-135M-Instruct (Q4_1) in the data folder
// ($INFERA_DATA_DIR, default ~/.cache/infera), where tools/fetch_models.sh puts it.
// Throws infera::Error telling how to fetch it when it is not there.
std::string default_model_path();

}  // namespace infera::cli
