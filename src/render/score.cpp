// LilyPond output (see score.hpp): per hand, the grid is cut at every onset, release and bar line;
// each segment is a chord (or a rest) whose notes tie into the next segment while they sound.
#include "render/score.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "music/spelling.hpp"

extern char** environ;

namespace etude {
namespace fs = std::filesystem;
namespace {

struct GridNote {
  int64_t start, end;  // grid steps, end > start
  int pitch;
};

// Splits `steps` grid steps into note values (whole note = whole_steps), largest first, plain
// or dotted: returns LilyPond durations ("2.", "8") with their lengths.
std::vector<std::pair<int64_t, std::string>> durations(int64_t steps, int64_t whole_steps) {
  std::vector<std::pair<int64_t, std::string>> out;
  while (steps > 0) {
    for (int64_t value = 1, len = whole_steps; len >= 1; value *= 2, len /= 2) {
      if (len % 2 == 0 && len + len / 2 <= steps) {
        out.push_back({len + len / 2, std::to_string(value) + "."});
        break;
      }
      if (len <= steps) {
        out.push_back({len, std::to_string(value)});
        break;
      }
    }
    steps -= out.back().first;
  }
  return out;
}

// One hand's music: segments between onsets, releases and bar lines, tied across cuts.
std::string staff_music(const std::vector<GridNote>& notes, int64_t end, int64_t bar, int64_t whole, const KeyName& key) {
  std::set<int64_t> cuts{0, end};
  for (int64_t b = bar; b < end; b += bar) cuts.insert(b);
  for (const GridNote& n : notes) cuts.insert(n.start), cuts.insert(n.end);
  std::ostringstream out;
  for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
    const int64_t a = *it, b = *std::next(it);
    std::vector<const GridNote*> sounding;
    for (const GridNote& n : notes)
      if (n.start <= a && a < n.end) sounding.push_back(&n);
    const auto parts = durations(b - a, whole);
    for (size_t k = 0; k < parts.size(); ++k) {
      if (sounding.empty()) {
        out << 'r' << parts[k].second << ' ';
        continue;
      }
      out << '<';
      for (const GridNote* n : sounding) out << lilypond_name(spell(n->pitch, key)) << (k + 1 < parts.size() || n->end > b ? "~ " : " ");
      out << '>' << parts[k].second << ' ';
    }
    if (b % bar == 0) out << "|\n";
  }
  return out.str();
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string lilypond_source(const NoteSequence& seq, const ScoreOptions& o) {
  if (o.grid != 1 && o.grid != 2 && o.grid != 4 && o.grid != 8) throw InvalidArgument("score: grid must be 1, 2, 4 or 8 steps per beat");
  const int tpb = seq.ticks_per_beat > 0 ? seq.ticks_per_beat : 480;
  const double qpm = seq.tempos.empty() ? 120.0 : seq.tempos.front().qpm();
  auto grid_of = [&](const Note& n, bool end) {
    if (seq.ticks_per_beat > 0) return int64_t(std::llround(double(end ? n.end_tick : n.start_tick) * o.grid / tpb));
    return int64_t(std::llround((end ? n.end : n.start) * qpm / 60.0 * o.grid));  // SMPTE: seconds at the first tempo
  };
  int num = 4, den = 4;
  if (!seq.time_signatures.empty() && seq.time_signatures.front().denominator <= 16)
    num = seq.time_signatures.front().numerator, den = seq.time_signatures.front().denominator;
  const int64_t whole = 4 * o.grid, bar = std::max<int64_t>(1, whole * num / den);
  std::vector<GridNote> hands[2];
  int64_t end = 0;
  for (const Note& n : seq.notes) {
    if (n.is_drum) continue;
    const int64_t s = grid_of(n, false), e = std::max(s + 1, grid_of(n, true));
    hands[n.pitch < o.split_pitch ? 1 : 0].push_back({s, e, n.pitch});
    end = std::max(end, e);
  }
  end = std::max<int64_t>(bar, (end + bar - 1) / bar * bar);
  // The key: the file's own signature, else the estimate of its notes; notes are spelled in it.
  const KeyName key = o.key ? *o.key : score_key(seq);
  SpelledPitch tonic;
  tonic.letter = key.tonic_letter(), tonic.alter = key.tonic_alter(), tonic.octave = 3;
  const std::string key_cmd = "\\key " + lilypond_name(tonic) + (key.minor ? " \\minor" : " \\major");
  std::ostringstream ly;
  ly << "\\version \"2.24.0\"\n\\header { " << (o.title.empty() ? "" : "title = \"" + escape(o.title) + "\" ")
     << (o.composer.empty() ? "" : "composer = \"" + escape(o.composer) + "\" ") << "tagline = ##f }\n\\score {\n  \\new PianoStaff <<\n";
  const char* clefs[2] = {"treble", "bass"};
  for (int h = 0; h < 2; ++h)
    ly << "    \\new Staff { \\clef " << clefs[h] << " " << key_cmd << " \\time " << num << "/" << den
       << (h == 0 ? " \\tempo 4 = " + std::to_string(int(std::lround(qpm))) : std::string()) << "\n"
       << staff_music(hands[h], end, bar, whole, key) << "    \\bar \"|.\" }\n";
  ly << "  >>\n  \\layout { }\n}\n";
  return ly.str();
}

void check_score_path(const fs::path& out) {
  const std::string ext = out.extension().string();
  if (ext != ".pdf" && ext != ".svg" && ext != ".png")
    throw InvalidArgument(out.string() + ": a score is written as .pdf, .svg or .png");
}

void render_score(const NoteSequence& seq, const fs::path& out, const ScoreOptions& o) {
  check_score_path(out);
  const std::string ext = out.extension().string();
  const fs::path dir = fs::temp_directory_path() / ("etude-score-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() { std::error_code ec; fs::remove_all(dir, ec); }
  } cleanup{dir};
  // SVG and PNG hold the whole piece on one page as tall as it needs (LilyPond would otherwise
  // write score-1.svg, score-2.svg ...); the PDF keeps its A4 pages.
  const std::string one_page = ext == ".pdf" ? "" : "\\paper { page-breaking = #ly:one-page-breaking }\n";
  write_file_atomic(dir / "score.ly", lilypond_source(seq, o) + one_page);
  const std::string format = "--" + ext.substr(1), base = (dir / "score").string(), ly = (dir / "score.ly").string(),
                    log = (dir / "lilypond.log").string();
  std::vector<std::string> args = {o.lilypond, format, "-dno-point-and-click", "-o", base, ly};
  if (ext == ".png") args.insert(args.begin() + 2, "-dresolution=110");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, o.lilypond.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw IoError("score: cannot run " + o.lilypond + " (" + std::strerror(rc) + "); install Debian's lilypond package (apt-get install lilypond)");
  int status = 0;
  waitpid(pid, &status, 0);
  std::string first_error;
  {
    std::istringstream lines(fs::exists(log) ? read_file_text(log) : "");
    for (std::string line; std::getline(lines, line);)
      if (line.find("error") != std::string::npos) {
        first_error = line;
        break;
      }
  }
  fs::path made = dir / ("score" + ext);
  if (!fs::exists(made)) made = dir / ("score-page1" + ext);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !first_error.empty() || !fs::exists(made))
    throw FormatError("score: lilypond failed (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                      ")" + (first_error.empty() ? "" : ": " + first_error));
  write_file_atomic(out, read_file_bytes(made));
}

}  // namespace etude
