// Registers the midi subcommands of `etude`.
#include "app/commands.hpp"

namespace etude::app {

void add_midi_commands(CLI::App& app) { (void)app; }

}  // namespace etude::app
