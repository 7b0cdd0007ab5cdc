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
#include "render/musicxml.hpp"
#include "render/mxl.hpp"
#include "render/score_grid.hpp"

extern char** environ;

namespace etude {
namespace fs = std::filesystem;
namespace {

// One hand as LilyPond: its values in order, a bar line after each bar.
std::string staff_music(const std::vector<WrittenValue>& values, int64_t bar, const KeyName& key) {
  std::ostringstream out;
  for (const WrittenValue& v : values) {
    const std::string value = std::to_string(v.denominator) + (v.dotted ? "." : "");
    if (v.notes.empty()) {
      out << 'r' << value << ' ';
    } else {
      out << '<';
      for (const WrittenNote& n : v.notes) out << lilypond_name(spell(n.pitch, key)) << (n.tie_out ? "~ " : " ");
      out << '>' << value << ' ';
    }
    if ((v.start + v.steps) % bar == 0) out << "|\n";
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
  // The key: the given one, else the file's own signature, else the estimate of its notes.
  const KeyName key = o.key ? *o.key : score_key(seq);
  const ScoreGrid g = make_score_grid(seq, o.grid, o.split_pitch, key);
  SpelledPitch tonic;
  tonic.letter = key.tonic_letter(), tonic.alter = key.tonic_alter(), tonic.octave = 3;
  const std::string key_cmd = "\\key " + lilypond_name(tonic) + (key.minor ? " \\minor" : " \\major");
  std::ostringstream ly;
  ly << "\\version \"2.24.0\"\n\\header { " << (o.title.empty() ? "" : "title = \"" + escape(o.title) + "\" ")
     << (o.composer.empty() ? "" : "composer = \"" + escape(o.composer) + "\" ") << "tagline = ##f }\n\\score {\n  \\new PianoStaff <<\n";
  const char* clefs[2] = {"treble", "bass"};
  for (int h = 0; h < 2; ++h)
    ly << "    \\new Staff { \\clef " << clefs[h] << " " << key_cmd << " \\time " << g.numerator << "/" << g.denominator
       << (h == 0 ? " \\tempo 4 = " + std::to_string(int(std::lround(g.qpm))) : std::string()) << "\n"
       << staff_music(g.hands[h], g.bar, key) << "    \\bar \"|.\" }\n";
  ly << "  >>\n  \\layout { }\n}\n";
  return ly.str();
}

void check_score_path(const fs::path& out) {
  const std::string ext = out.extension().string();
  if (ext != ".pdf" && ext != ".svg" && ext != ".png" && ext != ".musicxml" && ext != ".mxl")
    throw InvalidArgument(out.string() + ": a score is written as .pdf, .svg, .png, .musicxml or .mxl");
}

void render_score(const NoteSequence& seq, const fs::path& out, const ScoreOptions& o) {
  check_score_path(out);
  const std::string ext = out.extension().string();
  if (ext == ".musicxml") return write_file_atomic(out, musicxml_source(seq, o));  // for editing; no LilyPond
  if (ext == ".mxl") return write_file_atomic(out, mxl_archive(musicxml_source(seq, o)));
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
