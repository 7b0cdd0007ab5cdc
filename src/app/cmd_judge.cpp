// `etude judge PIECES... --against STYLE_FOLDER`: composed pieces against human music of a style
// (judge/): a compact table of the features' medians, overlaps and the human ceiling, or --json.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "judge/judge.hpp"

namespace etude::app {
namespace {

struct JudgeArgs {
  std::vector<std::string> pieces;
  std::string against, split_root;
  bool same_folder = false, json = false;
  double fraction = 0.1;
  int threads = 0;
};

std::string fmt(double x, int digits) {
  if (!std::isfinite(x)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

int digits_of(judge::Feature f) {
  using judge::Feature;
  return f == Feature::pitch_range || f == Feature::copied_run ? 0 : f == Feature::key_clarity || f == Feature::local_key_clarity || f == Feature::scale_share ? 3 : 2;
}

void print_table(const judge::Judgement& j) {
  std::printf("judge:     %zu piece(s), median %zu notes, against %s\n", j.pieces.size(), j.excerpt_notes, j.folder.string().c_str());
  std::printf("split:     %s\n", j.split_rule.c_str());
  std::printf("reference: %zu excerpts of %zu notes from %zu held-out pieces; ceiling: %zu group(s) of %zu excerpts "
              "from %zu training pieces\n",
              j.held_out.size(), j.excerpt_notes, j.held_out_pieces.size(), j.ceiling_groups, j.ceiling_group_size,
              j.training_pieces.size());
  std::printf("\n%-21s %8s %9s %17s %8s %8s\n", "feature", "pieces", "held-out", "held-out 10-90%", "overlap", "ceiling");
  for (const judge::FeatureJudgement& f : j.features) {
    const auto& info = judge::feature_info(f.feature);
    const int d = digits_of(f.feature);
    const std::string range = fmt(f.held_out.p10, d) + "-" + fmt(f.held_out.p90, d);
    std::printf("%-21s %8s %9s %17s %8s %8s%s\n", info.name, fmt(f.pieces.median, d).c_str(), fmt(f.held_out.median, d).c_str(),
                range.c_str(), fmt(f.overlap, 2).c_str(), fmt(f.ceiling_overlap, 2).c_str(), info.in_mean ? "" : "  (not in the mean)");
  }
  std::printf("\nmean overlap %.2f, human ceiling %.2f: %.2f of the ceiling\n", j.mean_overlap, j.ceiling_mean, j.ratio);
}

}  // namespace

void add_judge_commands(CLI::App& app) {
  auto a = std::make_shared<JudgeArgs>();
  CLI::App* c = app.add_subcommand("judge", "Compare composed MIDI pieces with human music of a style (no listening needed)");
  c->add_option("PIECES", a->pieces, "composed MIDI files")->required();
  c->add_option("--against", a->against, "the style's folder of MIDI files, e.g. ../shared/corpora/piano-midi/Chopin")->required();
  CLI::Option* same = c->add_flag("--train-folder-is-the-same", a->same_folder,
                                  "split the folder as `etude train STYLE_FOLDER` would (default: as its corpus root when "
                                  "it is one style folder of one)");
  c->add_option("--split-root", a->split_root, "the folder `etude train` was given, when it is another one above STYLE_FOLDER")
      ->excludes(same);
  c->add_option("--val-fraction", a->fraction, "the training run's --val-fraction")->capture_default_str()->check(CLI::Range(0.001, 0.5));
  c->add_option("--threads", a->threads, "threads (0 = every core)")->capture_default_str()->check(CLI::Range(0, 1024));
  c->add_flag("--json", a->json, "print everything as JSON: the reference, every piece's and excerpt's values, each feature");
  c->footer("Reference: excerpts of the pieces' median note count cut from the style's held-out pieces (the hash split "
            "of `etude train`); human ceiling: excerpts of its training pieces judged the same way. Overlap: area shared "
            "by the two kernel density estimates, 1 = the same. Exit codes: 0 judged, 1 usage error, 2 a piece that is "
            "not MIDI, a folder with fewer than two usable pieces.");
  c->callback([a] {
    judge::ReferenceOptions ro;
    ro.validation_fraction = a->fraction;
    ro.threads = unsigned(a->threads);
    ro.split_root = a->same_folder ? std::filesystem::path(a->against) : std::filesystem::path(a->split_root);
    const judge::StyleReference ref = judge::load_style_reference(a->against, ro);
    judge::JudgeOptions jo;
    jo.threads = unsigned(a->threads);
    const std::vector<std::filesystem::path> files(a->pieces.begin(), a->pieces.end());
    const judge::Judgement j = judge::judge_files(files, ref, jo);
    if (a->json)
      std::printf("%s\n", judge::judgement_to_json(j).dump(2).c_str());
    else
      print_table(j);
  });
}

}  // namespace etude::app
