// TrainConfig <-> JSON (the run's stored settings); see train_config.hpp.
#include "train/train_config.hpp"

#include "base/error.hpp"
#include "nn/collective.hpp"

namespace etude::train {
using nlohmann::json;

bool writes_run(const TrainConfig& c) { return !c.collective || c.collective->rank() == 0; }
int run_ranks(const TrainConfig& c) { return c.collective ? c.collective->size() : 1; }

json config_to_json(const TrainConfig& c) {
  json extra = json::array();
  for (const auto& d : c.extra_dirs) extra.push_back(d.string());
  return {{"corpus_dir", c.corpus_dir.string()}, {"tokenizer", c.tokenizer},
          {"tokenizer_config", c.tokenizer_config}, {"preset", c.preset},
          {"model_json", c.model_json},         {"epochs", c.epochs},
          {"checkpoint_every", c.checkpoint_every}, {"batch", c.batch},
          {"seq", c.seq},                       {"lr", c.lr},
          {"seed", c.seed},                     {"val_fraction", c.val_fraction},
          {"transpose", {c.transpose_min, c.transpose_max}}, {"patience", c.patience},
          {"sample_tokens", c.sample_tokens},   {"max_rollbacks", c.max_rollbacks},
          {"lr_cut", c.lr_cut}, {"extra_dirs", extra},
          {"style_table", c.style_table == StyleTable::on ? "on" : c.style_table == StyleTable::off ? "off" : "auto"},
          {"from", c.from.string()}, {"tune", c.tune == FineTune::styles ? "styles" : "all"}};
}

void config_from_json(const json& j, TrainConfig& c) {
  c.corpus_dir = j.at("corpus_dir").get<std::string>();
  c.tokenizer = j.at("tokenizer");
  c.tokenizer_config = j.at("tokenizer_config");
  c.preset = j.at("preset");
  c.model_json = j.at("model_json");
  c.epochs = j.at("epochs");
  c.checkpoint_every = j.at("checkpoint_every");
  c.batch = j.at("batch");
  c.seq = j.at("seq");
  c.lr = j.at("lr");
  c.seed = j.at("seed");
  c.val_fraction = j.at("val_fraction");
  c.transpose_min = j.at("transpose").at(0);
  c.transpose_max = j.at("transpose").at(1);
  c.patience = j.at("patience");
  c.sample_tokens = j.at("sample_tokens");
  c.max_rollbacks = j.at("max_rollbacks");
  c.lr_cut = j.at("lr_cut");
  // Added with style conditioning: absent in older runs, which had none of them.
  c.extra_dirs.clear();
  for (const auto& d : j.value("extra_dirs", json::array())) c.extra_dirs.push_back(d.get<std::string>());
  const std::string table = j.value("style_table", "auto");
  c.style_table = table == "on" ? StyleTable::on : table == "off" ? StyleTable::off : StyleTable::automatic;
  c.from = j.value("from", std::string());
  c.tune = j.value("tune", "all") == "styles" ? FineTune::styles : FineTune::all;
  // The same ranges as the command line: a damaged or hand-edited state must not divide by zero.
  auto check = [](bool ok, const char* what) {
    if (!ok) throw InvalidArgument(std::string("the run's stored settings (state.safetensors): ") + what +
                            " is out of range; start a new run with another --out");
  };
  check(c.epochs >= 1, "epochs");
  check(c.checkpoint_every >= 1, "checkpoint_every");
  check(c.batch >= 0 && c.seq >= 0 && c.lr >= 0, "batch, seq or lr");
  check(c.val_fraction >= 0 && c.val_fraction < 1, "val_fraction");
  check(c.transpose_min <= c.transpose_max, "transpose");
  check(c.patience >= 0 && c.sample_tokens >= 0 && c.max_rollbacks >= 0, "patience, sample_tokens or max_rollbacks");
  check(c.lr_cut > 0 && c.lr_cut <= 1, "lr_cut");
}

}  // namespace etude::train
