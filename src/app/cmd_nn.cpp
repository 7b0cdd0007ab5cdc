// Registers the nn subcommands of `etude`.
#include "app/commands.hpp"

namespace etude::app {

void add_nn_commands(CLI::App& app) { (void)app; }

}  // namespace etude::app
