// Registers the corpus subcommands of `etude`.
#include "app/commands.hpp"

namespace etude::app {

void add_corpus_commands(CLI::App& app) { (void)app; }

}  // namespace etude::app
