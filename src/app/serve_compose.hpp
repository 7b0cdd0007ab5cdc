// Composing for `etude serve`: a compose request validated field by field (400 naming the field
// and its range), run on the bounded worker pool (503 when full), its pieces kept in the piece
// cache with MIDI written at once and WAV and score rendered on first request; primer uploads;
// the request's numbers (ranges and defaults) in one table, served to the page.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "app/serve_pieces.hpp"
#include "app/serve_styles.hpp"
#include "compose/composer.hpp"
#include "generate/pitch_shape.hpp"
#include "music/sequence_ops.hpp"

namespace etude::app::serve {

struct ComposeLimits {
  int workers = 2;            // pieces composed at once (each on one thread)
  int queue = 8;              // compose requests that may wait; beyond: 503
  size_t pieces = 64;         // piece cache (oldest evicted, files deleted)
  size_t models = 4;          // loaded style models kept
  size_t primers = 64;        // uploaded primers kept
  size_t tokens = 4000;       // the most tokens of one piece: seconds mode stops there, a longer "length" gets 400
};

inline constexpr size_t kComposeBodyMax = 64 * 1024;
inline constexpr size_t kPrimerMax = 1024 * 1024;
inline constexpr double kPrimerSecondsMax = 120;  // the most of a primer that is continued

// One number of a compose request: its range and the value an absent field takes (none: the
// comment says what then). The one definition of the request's limits and defaults: compose()
// checks against these, and GET /api/compose serves them to the page for its controls.
struct RequestNumber {
  const char* name;
  double min, max;
  std::optional<double> absent;
  bool integer = false;
};
namespace request {
inline constexpr RequestNumber kLength{"length", 16, 2000, std::nullopt, true};  // tokens; absent: seconds
inline constexpr RequestNumber kSeconds{"seconds", 5, 300, kDefaultPieceSeconds};  // absent with length too
inline constexpr RequestNumber kTempo{"tempo", kMinTempo, kMaxTempo, std::nullopt};  // absent: the model's own
inline constexpr RequestNumber kTemperature{"temperature", 0.1, 2.0, nn::kDefaultSampling.temperature};
// absent: the style's calibrated one (as `etude compose`), else 1
inline constexpr RequestNumber kPitchTemperature{"pitch_temperature", kMinPitchTemperature, kMaxPitchTemperature,
                                                 std::nullopt};
inline constexpr RequestNumber kTopP{"top_p", 0, 1, nn::kDefaultSampling.top_p};  // 0 is refused: (0, 1]
inline constexpr RequestNumber kTopK{"top_k", 0, 512, nn::kDefaultSampling.top_k, true};
inline constexpr RequestNumber kStyleStrength{"style_strength", 0, kMaxStyleStrength, kDefaultStyleStrength};
inline constexpr RequestNumber kCount{"count", 1, 4, 1, true};
inline constexpr RequestNumber kSeed{"seed", 0, double((int64_t{1} << 53) - 1), std::nullopt, true};  // absent: random
// 0 (or absent): the primer's first kPrimerSecondsMax seconds, so a long primer stays cheap
inline constexpr RequestNumber kPrimerSeconds{"primer_seconds", 0, kPrimerSecondsMax, 0};
inline constexpr RequestNumber kNumbers[] = {kLength, kSeconds,      kTempo, kTemperature, kPitchTemperature, kTopP,
                                             kTopK,   kStyleStrength, kCount, kSeed,        kPrimerSeconds};
}  // namespace request
// GET /api/compose: {"fields": {NAME: {"min", "max", "default" (when there is one), "integer"}}};
// the length's max is the server's token bound where that is lower.
nlohmann::json request_numbers_json(size_t max_tokens);

class ComposeService {
 public:
  ComposeService(StyleCatalog& catalog, const std::filesystem::path& state, const ComposeLimits& limits);
  // {"pieces": [PIECE, ...]}; HttpError 400 (bad field), 404 (unknown style/run/checkpoint/primer), 503 (busy).
  nlohmann::json compose(const nlohmann::json& request);
  // POST /api/primers: multipart field "file"; {"id", "notes", "seconds"}; 400 / 413.
  nlohmann::json add_primer(const httplib::Request& req);
  std::shared_ptr<Piece> piece(const std::string& id);  // 404 when unknown or evicted
  size_t max_tokens() const { return max_tokens_; }     // ComposeLimits::tokens
  // A piece's file by its API name (piece.mid, piece.wav, score.pdf, score.svg), rendered on first
  // request on the render pool (503 when full); 404 for other names.
  std::filesystem::path file(Piece& piece, const std::string& name);

 private:
  std::shared_ptr<Piece> keep(const ComposedPiece& p, const StyleModel& model, const nlohmann::json& about);
  StyleCatalog& catalog_;
  WorkPool pool_, render_pool_;
  ModelCache models_;
  PrimerStore primers_;
  PieceStore pieces_;
  size_t max_tokens_;
};

}  // namespace etude::app::serve
