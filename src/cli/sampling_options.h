#pragma once
#include <CLI/CLI.hpp>

#include "sample/sampler.h"

namespace infera::cli {

// The sampling flags shared by the commands that generate text: --temp --top-k --top-p --min-p
// --repeat-penalty --repeat-last-n --presence-penalty --frequency-penalty --seed --greedy.
// The seed defaults to a random one (reported in the command's summary line).
void add_sampling_options(CLI::App* cmd, SamplingParams* sp);

}  // namespace infera::cli
