// The `etude` subcommands, one registration function per group, each in its own cmd_*.cpp.
// Callbacks throw etude::Error on bad input; main.cpp maps that to one stderr line and exit 2.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace etude::app {

// The models folder: --models FLAG, else $ETUDE_MODELS, else the project's models/ (beside the
// binary's build folder), else ./models. Shared by compose, styles and serve (cmd_compose.cpp).
std::filesystem::path models_dir(const std::string& flag);

// Warnings from opening a file (a model without checksums): one stderr line each.
inline void print_warnings(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) std::fprintf(stderr, "etude: warning: %s\n", w.c_str());
}

void add_midi_commands(CLI::App& app);    // inspect, scan, convert        (cmd_midi.cpp)
void add_corpus_commands(CLI::App& app);  // corpus, tokenize              (cmd_corpus.cpp)
void add_nn_commands(CLI::App& app);      // forward, bench train|generate, devices (cmd_nn.cpp)
void add_train_commands(CLI::App& app);   // train                        (cmd_train.cpp)
void add_compose_commands(CLI::App& app); // compose, styles              (cmd_compose.cpp)
void add_model_commands(CLI::App& app);   // export, evaluate             (cmd_models.cpp)
void add_judge_commands(CLI::App& app);   // judge                        (cmd_judge.cpp)
void add_serve_commands(CLI::App& app);   // serve                        (cmd_serve.cpp)

}  // namespace etude::app
