// Entry point of the `etude` binary: builds the command line and maps failures to exit codes
// (0 success, 1 usage error, 2 bad input or failed operation), always with one line on stderr.
#include <cstdio>
#include <exception>
#include <string_view>

#include "app/commands.hpp"
#include "base/error.hpp"
#include "base/input_text.hpp"
#include "nn/collective.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Etude: learns a composer's style from MIDI files and composes new pieces.", "etude"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "etude 0.1.0");
  etude::app::add_midi_commands(app);
  etude::app::add_corpus_commands(app);
  etude::app::add_nn_commands(app);
  etude::app::add_train_commands(app);
  etude::app::add_compose_commands(app);
  etude::app::add_model_commands(app);
  etude::app::add_judge_commands(app);
  etude::app::add_serve_commands(app);
  // Under mpirun every rank runs this same command line: only the commands that share their work
  // over the ranks may run so (the others would each do it all and write the same files).
  const int rank = etude::nn::launched_as_rank() ? etude::nn::launcher_rank() : -1;
  if (etude::nn::launched_as_rank() && argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "train" &&
      std::string_view(argv[1]) != "bench") {
    std::fprintf(stderr, "etude: parallel error: `etude %s` does not run as ranks of an mpirun job (only `etude train` "
                 "and `etude bench train` do): run it without mpirun\n", argv[1]);
    return 2;
  }
  // Each rank's failure names the rank (mpirun then ends the job).
  const std::string who = rank >= 0 ? "etude (rank " + std::to_string(rank) + ")" : "etude";
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "etude: %s (see etude --help)\n", e.what());
    return 1;
  } catch (const etude::Error& e) {  // escaped: one line whatever the message quotes
    std::fprintf(stderr, "%s: %s: %s\n", who.c_str(), e.kind(), etude::one_line(e.what(), 1000).c_str());
    return 2;
  } catch (const std::exception& e) {  // not ours (a library's): bounded as well
    std::fprintf(stderr, "%s: error: %s\n", who.c_str(), etude::one_line(e.what(), etude::kMaxQuoted).c_str());
    return 2;
  }
  return 0;
}
