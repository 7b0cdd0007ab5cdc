// Loading a style's human reference (see reference.hpp): the split root, parallel reading, the
// corpus's hash split, the training pieces' n-gram index, and excerpt planning and cutting.
#include "judge/reference.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <system_error>

#include "base/error.hpp"
#include "base/parallel.hpp"
#include "music/midi_convert.hpp"
#include "music/scan.hpp"

namespace etude::judge {
namespace fs = std::filesystem;
namespace {

bool is_midi_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".mid" || ext == ".midi" || ext == ".kar" || ext == ".rmi";
}

bool has_midi_directly(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && is_midi_name(e.path())) return true;
  return false;
}

bool has_midi_subfolder(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_directory(ec)) continue;
    for (auto it = fs::recursive_directory_iterator(e.path(), ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file(ec) && is_midi_name(it->path())) return true;
  }
  return false;
}

fs::path canonical_folder(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? p : c;
}

// dir relative to root ("." for root itself), or empty when dir is not inside root.
fs::path inside(const fs::path& root, const fs::path& dir) {
  const fs::path rel = dir.lexically_relative(root);
  return rel.empty() || *rel.begin() == ".." ? fs::path() : rel;
}

}  // namespace

fs::path default_split_root(const fs::path& folder, std::string* why) {
  const fs::path dir = canonical_folder(folder);
  const fs::path parent = dir.parent_path();
  if (!parent.empty() && parent != dir && has_midi_directly(dir) && !has_midi_subfolder(dir) && !has_midi_directly(parent)) {
    if (why) *why = "one style of the corpus " + parent.string() + " (as `etude train " + parent.string() + "` splits it)";
    return parent;
  }
  if (why) *why = "the folder itself (as `etude train " + dir.string() + "` splits it)";
  return dir;
}

StyleReference load_style_reference(const fs::path& folder, const ReferenceOptions& options) {
  if (!(options.validation_fraction > 0.0 && options.validation_fraction <= 0.5))
    throw InvalidArgument("judge: the validation fraction must be in (0, 0.5], got " + std::to_string(options.validation_fraction));
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw IoError(folder.string() + ": not a folder (give the folder of the style's MIDI files, e.g. "
                  "../shared/corpora/piano-midi/Chopin)");
  StyleReference ref;
  ref.folder = folder;
  ref.validation_fraction = options.validation_fraction;
  ref.ngrams = NgramIndex(options.ngram);
  const fs::path dir = canonical_folder(folder);
  if (options.split_root.empty()) {
    ref.split_root = default_split_root(dir, &ref.split_rule);
  } else {
    ref.split_root = canonical_folder(options.split_root);
    if (inside(ref.split_root, dir).empty())
      throw InvalidArgument("judge: the split root " + options.split_root.string() + " does not contain " + folder.string() +
                            " (give the folder that `etude train` was given, or leave it out)");
    ref.split_rule = ref.split_root == dir ? "given: the folder itself" : "given: " + ref.split_root.string();
  }
  // The split groups pieces by the root's first-level folder (the style): read that whole group
  // when the folder lies deeper, and keep the pieces below the folder.
  const fs::path rel_dir = inside(ref.split_root, dir);
  const fs::path read_dir = rel_dir == "." ? dir : ref.split_root / *rel_dir.begin();
  const std::string keep_prefix = rel_dir == "." ? "" : rel_dir.generic_string() + "/";

  const std::vector<fs::path> files = find_midi_files(read_dir);
  std::vector<NoteSequence> seqs(files.size());
  std::vector<std::string> reasons(files.size());
  parallel_for(files.size(), options.threads, [&](size_t i) {
    try {
      seqs[i] = load_note_sequence(files[i]);
      if (seqs[i].notes.empty()) reasons[i] = "no notes";
    } catch (const std::exception& e) {
      reasons[i] = e.what();
    }
  });

  // The split, exactly as build_corpus makes it over the split root: every readable file with notes
  // takes part (the style groups are those of the root), files without pitched notes leave after.
  const std::string root_name = ref.split_root.filename().string();
  std::vector<Piece> pieces;
  std::vector<size_t> source;
  std::map<std::string, int32_t> styles;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string rel = fs::relative(files[i], ref.split_root).generic_string();
    if (!reasons[i].empty()) {
      if (rel.starts_with(keep_prefix)) ref.skipped.push_back({rel, reasons[i]});
      continue;
    }
    Piece p;
    p.path = rel;
    p.style = styles.emplace(style_of_path(rel, root_name), int32_t(styles.size())).first->second;
    pieces.push_back(std::move(p));
    source.push_back(i);
  }
  assign_splits(pieces, styles.size(), options.validation_fraction);

  for (size_t k = 0; k < pieces.size(); ++k) {
    if (!pieces[k].path.starts_with(keep_prefix)) continue;
    NoteSequence& s = seqs[source[k]];
    std::erase_if(s.notes, [](const Note& n) { return n.is_drum; });
    if (s.notes.empty()) {
      ref.skipped.push_back({pieces[k].path, "no notes but drums"});
      continue;
    }
    s.control_changes.clear();
    s.control_changes.shrink_to_fit();
    auto& into = pieces[k].split == Split::train ? ref.training : ref.held_out;
    into.push_back({pieces[k].path, std::move(s)});
  }
  auto by_path = [](const ReferencePiece& a, const ReferencePiece& b) { return a.path < b.path; };
  std::sort(ref.training.begin(), ref.training.end(), by_path);
  std::sort(ref.held_out.begin(), ref.held_out.end(), by_path);
  std::sort(ref.skipped.begin(), ref.skipped.end(), [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });

  // As `etude train` does (train::split_pieces) when the hash held out no piece of the whole root
  // (every style a single piece): the last training piece is the validation piece.
  if (ref.held_out.empty() && ref.training.size() >= 2 && rel_dir == ".") {
    ref.held_out.push_back(std::move(ref.training.back()));
    ref.training.pop_back();
  }
  const size_t usable = ref.training.size() + ref.held_out.size();
  if (usable < 2 || ref.training.empty() || ref.held_out.empty())
    throw InvalidArgument(folder.string() + ": " + std::to_string(usable) + " usable MIDI piece(s) (" +
                          std::to_string(ref.skipped.size()) + " file(s) skipped as unreadable or empty); the judge needs at "
                          "least two, split into training and held-out pieces: give a folder of the style's MIDI files");
  for (const ReferencePiece& p : ref.training) ref.ngrams.add_piece(p.path, pitch_line(p.seq));
  ref.ngrams.finish();
  return ref;
}

std::vector<Excerpt> plan_excerpts(std::span<const ReferencePiece> pieces, size_t length, size_t target) {
  std::vector<Excerpt> out;
  if (pieces.empty() || length == 0) return out;
  const size_t per_piece = std::max<size_t>(1, (target + pieces.size() - 1) / pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    const size_t n = pieces[i].seq.notes.size();
    if (n <= length) {
      out.push_back({i, 0, n});
      continue;
    }
    const size_t room = n - length;
    const size_t fit = 2 * room / length + 1;  // offsets at least half an excerpt apart
    const size_t k = std::min(per_piece, fit);
    for (size_t j = 0; j < k; ++j) {
      const auto first = size_t(std::llround((double(j) + 0.5) / double(k) * double(room)));
      out.push_back({i, std::min(first, room), length});
    }
  }
  return out;
}

NoteSequence cut_excerpt(const NoteSequence& seq, size_t first_note, size_t notes) {
  NoteSequence out;
  out.ticks_per_beat = seq.ticks_per_beat;
  out.tempos = seq.tempos;
  out.time_signatures = seq.time_signatures;
  out.key_signatures = seq.key_signatures;
  out.source = seq.source;
  out.smpte_fps = seq.smpte_fps;
  out.ticks_per_frame = seq.ticks_per_frame;
  size_t seen = 0;
  for (const Note& n : seq.notes) {
    if (n.is_drum) continue;
    if (seen >= first_note && seen < first_note + notes) out.notes.push_back(n);
    if (++seen >= first_note + notes) break;
  }
  for (const Note& n : out.notes) {
    out.total_time = std::max(out.total_time, n.end);
    out.total_ticks = std::max(out.total_ticks, n.end_tick);
  }
  return out;
}

}  // namespace etude::judge
