// Composing for `etude serve`: a compose request validated field by field (400 naming the field
// and its range), run on the bounded worker pool (503 when full), its pieces kept in the piece
// cache with MIDI written at once and WAV and score rendered on first request; primer uploads.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "app/serve_pieces.hpp"
#include "compose/composer.hpp"
#include "app/serve_styles.hpp"

namespace etude::app::serve {

struct ComposeLimits {
  int workers = 2;            // pieces composed at once (each on one thread)
  int queue = 8;              // compose requests that may wait; beyond: 503
  size_t pieces = 64;         // piece cache (oldest evicted, files deleted)
  size_t models = 4;          // loaded style models kept
  size_t primers = 64;        // uploaded primers kept
};

inline constexpr size_t kComposeBodyMax = 64 * 1024;
inline constexpr size_t kPrimerMax = 1024 * 1024;
inline constexpr double kPrimerSecondsMax = 120;  // the most of a primer that is continued

class ComposeService {
 public:
  ComposeService(StyleCatalog& catalog, const std::filesystem::path& state, const ComposeLimits& limits);
  // {"pieces": [PIECE, ...]}; HttpError 400 (bad field), 404 (unknown style/run/checkpoint/primer), 503 (busy).
  nlohmann::json compose(const nlohmann::json& request);
  // POST /api/primers: multipart field "file"; {"id", "notes", "seconds"}; 400 / 413.
  nlohmann::json add_primer(const httplib::Request& req);
  std::shared_ptr<Piece> piece(const std::string& id);  // 404 when unknown or evicted
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
};

}  // namespace etude::app::serve
