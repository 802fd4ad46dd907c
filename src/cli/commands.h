#pragma once
// Each `infera` subcommand lives in its own file and registers itself on the app here.
// A command's callback throws infera::Error for anything the user controls; main() turns that
// into a message on stderr and a non-zero exit code.
#include <CLI/CLI.hpp>

namespace infera::cli {

void add_bench_command(CLI::App& app);
void add_kernel_bench_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace infera::cli
