// Pitch-temperature calibration (see temperature_calibration.hpp): a grid of pitch temperatures,
// each a batch of pieces composed in the style and measured by the judge's pitch-class entropy,
// and a least-squares line through them solved for the training pieces' entropy.
#include "judge/temperature_calibration.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "compose/composer.hpp"
#include "judge/judge.hpp"

namespace etude::judge {
namespace {

// Pieces composed at pitch temperature t, judged against the reference (whose training excerpts,
// cut at the pieces' median note count, give the target).
Judgement judge_at(const StyleModel& model, size_t row, float t, const StyleReference& ref, const CalibrationOptions& o) {
  ComposeOptions c;
  c.pitch_temperature = t;
  c.length = o.tokens;
  c.count = o.pieces;
  c.seed = o.seed;
  c.style_weights.assign(model.styles.size(), 0.0f);
  c.style_weights[row] = 1.0f;
  std::vector<NoteSequence> seqs;
  std::vector<std::string> names;
  for (ComposedPiece& p : compose(model, c)) {
    names.push_back("seed " + std::to_string(p.seed));
    seqs.push_back(std::move(p.seq));
  }
  JudgeOptions jo;
  jo.threads = o.threads;
  return judge_pieces(seqs, names, ref, jo);
}

}  // namespace

StyleCalibration calibrate_temperature(const StyleModel& model, size_t row, const StyleReference& reference,
                                       const CalibrationOptions& o) {
  if (row >= model.styles.size())
    throw InvalidArgument("calibrate: style row " + std::to_string(row) + " of a model with " +
                          std::to_string(model.styles.size()) + " style rows");
  if (o.pieces < 1 || o.tokens < 16 || o.points < 2 || !(o.low > 0 && o.low < o.high && o.high <= 4))
    throw InvalidArgument("calibrate: pieces >= 1, tokens >= 16, points >= 2 and 0 < low < high <= 4");
  StyleCalibration out;
  out.style = model.styles[row];
  double targets = 0;
  for (int i = 0; i < o.points; ++i) {
    const float t = o.low + (o.high - o.low) * float(i) / float(o.points - 1);
    const Judgement j = judge_at(model, row, t, reference, o);
    double mean = 0;
    for (const JudgedPiece& p : j.pieces) mean += p.values[size_t(Feature::pitch_class_entropy)];
    out.tries.push_back({t, mean / double(j.pieces.size())});
    targets += j.features[size_t(Feature::pitch_class_entropy)].training.median;
    out.excerpt_notes = j.excerpt_notes;
  }
  // The excerpt length follows the pieces' median note count, which barely moves between points.
  out.target_entropy = targets / double(o.points);
  double mt = 0, me = 0;
  for (const TemperatureTry& t : out.tries) mt += t.temperature, me += t.entropy;
  mt /= double(out.tries.size()), me /= double(out.tries.size());
  double stt = 0, ste = 0;
  for (const TemperatureTry& t : out.tries) stt += (t.temperature - mt) * (t.temperature - mt), ste += (t.temperature - mt) * (t.entropy - me);
  out.slope = ste / stt;
  if (out.slope > 0) {
    out.temperature = float(std::clamp(mt + (out.target_entropy - me) / out.slope, double(o.low), double(o.high)));
  } else {  // entropy does not rise with the temperature here: the nearest point
    const auto nearest = std::min_element(out.tries.begin(), out.tries.end(), [&](const TemperatureTry& a, const TemperatureTry& b) {
      return std::abs(a.entropy - out.target_entropy) < std::abs(b.entropy - out.target_entropy);
    });
    out.temperature = nearest->temperature;
  }
  return out;
}

std::string temperatures_text(const std::vector<StyleCalibration>& calibrations) {
  nlohmann::json j = nlohmann::json::object();
  for (const StyleCalibration& c : calibrations) j[c.style] = std::round(double(c.temperature) * 1000) / 1000;
  return j.dump();
}

}  // namespace etude::judge
