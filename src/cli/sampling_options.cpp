#include "cli/sampling_options.h"

namespace infera::cli {

void add_sampling_options(CLI::App* cmd, SamplingParams* sp) {
  sp->seed = SamplingParams::kRandomSeed;
  cmd->add_option("--temp", sp->temperature, "Temperature; 0 = greedy");
  cmd->add_option("--top-k", sp->top_k, "Top-k (0 = off)");
  cmd->add_option("--top-p", sp->top_p, "Top-p (1 = off)");
  cmd->add_option("--min-p", sp->min_p, "Min-p (0 = off)");
  cmd->add_option("--repeat-penalty", sp->repeat_penalty, "Repetition penalty (1 = off)");
  cmd->add_option("--repeat-last-n", sp->repeat_last_n,
                  "Tokens the penalties look back over (-1 = all)");
  cmd->add_option("--presence-penalty", sp->presence_penalty, "Presence penalty");
  cmd->add_option("--frequency-penalty", sp->frequency_penalty, "Frequency penalty");
  cmd->add_option("-s,--seed", sp->seed, "Random seed (default: random)");
  cmd->add_flag_callback(
      "--greedy", [sp] { sp->temperature = 0.0f; },
      "Always take the most likely token (same as --temp 0)");
}

}  // namespace infera::cli
