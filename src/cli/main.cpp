// `infera`: the command-line front end. Thin: parse flags, call the library.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"infera: run GGUF language models on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "infera 0.1.0");
  infera::cli::add_inspect_command(app);
  infera::cli::add_run_command(app);
  infera::cli::add_chat_command(app);
  infera::cli::add_bench_command(app);
  infera::cli::add_kernel_bench_command(app);
  infera::cli::add_serve_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const infera::Error& e) {
    std::fprintf(stderr, "infera: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infera: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
