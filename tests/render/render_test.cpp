// Tests for render/: a real FluidSynth render of a corpus excerpt (not silent, as long as the
// piece, sound until its end), the WAV framing, LilyPond source structure, and one real engraving.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "music/midi_convert.hpp"
#include "music/sequence_ops.hpp"
#include "render/score.hpp"
#include "render/wav.hpp"

namespace etude {
namespace {
namespace fs = std::filesystem;

fs::path corpus_file(const char* rel) {
  const char* env = std::getenv("ETUDE_CORPUS");
  return env && *env && fs::exists(fs::path(env) / rel) ? fs::path(env) / rel : fs::path();
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("etude-render-test-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

// The first `seconds` of a corpus piece (notes cut there).
NoteSequence excerpt(const fs::path& file, double seconds) {
  NoteSequence s = merge_to_piano(load_note_sequence(file));
  std::erase_if(s.notes, [&](const Note& n) { return n.start >= seconds; });
  for (Note& n : s.notes) n.end = std::min(n.end, seconds);
  std::erase_if(s.control_changes, [&](const ControlChange& c) { return c.time > seconds; });
  s.total_time = seconds;
  retime_ticks(s);
  return s;
}

double rms(const std::vector<int16_t>& x, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += double(x[i]) * x[i];
  return to > from ? std::sqrt(sum / double(to - from)) : 0.0;
}

uint32_t le(const std::vector<uint8_t>& b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint32_t(b[at + i]) << (8 * i);
  return v;
}

TEST(Wav, CorpusExcerptSoundsForItsWholeLength) {
  const fs::path file = corpus_file("Chopin");
  if (file.empty()) GTEST_SKIP() << "ETUDE_CORPUS not set";
  if (!fs::exists(kDefaultSoundfont)) GTEST_SKIP() << "no " << kDefaultSoundfont << " (fluid-soundfont-gm)";
  fs::path piece;
  for (const auto& e : fs::directory_iterator(file)) piece = std::max(piece, e.path());
  const NoteSequence s = excerpt(piece, 6.0);
  ASSERT_GT(s.notes.size(), 10u);
  TempDir tmp;
  const WavOptions o;
  render_wav(s, tmp.path / "a.wav", o);
  const auto bytes = read_file_bytes(tmp.path / "a.wav");
  ASSERT_GE(bytes.size(), 44u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "RIFF");
  EXPECT_EQ(std::string(bytes.begin() + 8, bytes.begin() + 12), "WAVE");
  EXPECT_EQ(le(bytes, 22, 2), 2u);  // stereo
  EXPECT_EQ(le(bytes, 24, 4), 44100u);
  const uint32_t data = le(bytes, 40, 4);
  ASSERT_EQ(data + 44, bytes.size());
  std::vector<int16_t> samples(data / 2);
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = int16_t(le(bytes, 44 + 2 * i, 2));
  const double seconds = double(samples.size() / 2) / 44100;
  EXPECT_NEAR(seconds, s.total_time + o.tail_seconds, 1.0 / 44100);
  // Not silent anywhere the piece plays: every half second in which a note sounds has sound
  // (silence renders as exact zeros), up to the last note's end.
  double last_end = 0;
  for (const Note& n : s.notes) last_end = std::max(last_end, n.end);
  EXPECT_GT(last_end, 5.5);
  for (double t = 0; t + 0.5 <= last_end; t += 0.5) {
    if (std::none_of(s.notes.begin(), s.notes.end(), [&](const Note& n) { return n.start < t + 0.5 && n.end > t; })) continue;
    const double level = rms(samples, size_t(t * 44100) * 2, size_t((t + 0.5) * 44100) * 2);
    EXPECT_GT(level, 5.0) << "silence at " << t << " s";
  }
  EXPECT_GT(rms(samples, 0, samples.size()), 150.0);
  EXPECT_LT(rms(samples, samples.size() - 2000, samples.size()), rms(samples, 0, samples.size()));  // it decays
}

TEST(Wav, SilenceAndMissingSoundfont) {
  if (!fs::exists(kDefaultSoundfont)) GTEST_SKIP() << "no " << kDefaultSoundfont;
  NoteSequence empty;
  empty.total_time = 1.0;
  const auto samples = render_audio(empty, {.tail_seconds = 0});
  EXPECT_EQ(samples.size(), 2u * 44100);
  EXPECT_EQ(rms(samples, 0, samples.size()), 0.0);
  try {
    render_audio(empty, {.soundfont = "/nonexistent/x.sf2"});
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("fluid-soundfont-gm"), std::string::npos);
  }
}

NoteSequence two_hands() {
  NoteSequence s;  // 480 ticks per beat: C major chord in the right hand, bass line in the left
  s.ticks_per_beat = 480;
  auto note = [&](int pitch, int64_t a, int64_t b) { s.notes.push_back({.pitch = pitch, .velocity = 80, .start_tick = a, .end_tick = b}); };
  note(60, 0, 960), note(64, 0, 960), note(67, 0, 2400);  // G4 held over the bar line (5 beats)
  note(36, 0, 480), note(43, 480, 960), note(48, 1440, 1680);
  s.total_ticks = 2400;
  retime_seconds(s);
  return s;
}

TEST(Score, LilyPondSourceSplitsHandsTiesAndFillsBars) {
  ScoreOptions titled;
  titled.title = "Test \"piece\"";
  const std::string ly = lilypond_source(two_hands(), titled);
  EXPECT_NE(ly.find("\\new PianoStaff"), std::string::npos);
  EXPECT_NE(ly.find("\\clef treble"), std::string::npos);
  EXPECT_NE(ly.find("\\clef bass"), std::string::npos);
  EXPECT_NE(ly.find("title = \"Test \\\"piece\\\"\""), std::string::npos);
  // Right hand: the chord for two beats with G tied on, G alone over the bar line, then rests.
  EXPECT_NE(ly.find("<c' e' g'~ >2 <g'~ >2 |\n<g' >4 r2. |"), std::string::npos) << ly;
  // Left hand: C2 quarter, G2 quarter, rest, C3 eighth, rest; a second bar of rest.
  EXPECT_NE(ly.find("<c, >4 <g, >4 r4 <c >8 r8 |\nr1 |"), std::string::npos) << ly;
}

TEST(Score, EngravesAPngWithLilyPond) {
  if (std::system("command -v lilypond >/dev/null 2>&1") != 0) GTEST_SKIP() << "lilypond not installed";
  TempDir tmp;
  render_score(two_hands(), tmp.path / "s.png");
  const auto png = read_file_bytes(tmp.path / "s.png");
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(std::string(png.begin() + 1, png.begin() + 4), "PNG");
  EXPECT_THROW(render_score(two_hands(), tmp.path / "s.doc"), InvalidArgument);
  try {
    ScoreOptions missing;
    missing.lilypond = "lilypond-not-installed";
    render_score(two_hands(), tmp.path / "t.pdf", missing);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("apt-get install lilypond"), std::string::npos);
  }
}

// A score longer than a page still comes out as one SVG (LilyPond would write score-1.svg, ...).
TEST(Score, LongPieceIsOneSvg) {
  if (std::system("command -v lilypond >/dev/null 2>&1") != 0) GTEST_SKIP() << "lilypond not installed";
  const fs::path folder = corpus_file("Chopin");
  if (folder.empty()) GTEST_SKIP() << "ETUDE_CORPUS not set";
  fs::path piece;
  for (const auto& e : fs::directory_iterator(folder)) piece = std::max(piece, e.path());
  TempDir tmp;
  render_score(excerpt(piece, 90.0), tmp.path / "long.svg");
  const std::string svg = read_file_text(tmp.path / "long.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_GT(svg.size(), 100000u);  // the whole piece, not one page of it
}


NoteSequence scale_in(int tonic, const std::vector<int>& steps) {
  NoteSequence s;  // a two-octave scale, a quarter note each, plus the tonic chord held at the end
  s.ticks_per_beat = 480;
  int64_t t = 0;
  for (int octave = 0; octave < 2; ++octave)
    for (int step : steps) {
      s.notes.push_back({.pitch = tonic + 12 * octave + step, .velocity = 80, .start_tick = t, .end_tick = t + 480});
      t += 480;
    }
  for (int p : {tonic, tonic + steps[2], tonic + steps[4]})
    s.notes.push_back({.pitch = p, .velocity = 80, .start_tick = t, .end_tick = t + 1920});
  s.total_ticks = t + 1920;
  retime_seconds(s);
  return s;
}

TEST(Score, SharpKeysAreSpelledWithSharpsAndFlatKeysWithFlats) {
  const std::vector<int> major{0, 2, 4, 5, 7, 9, 11}, harmonic_minor{0, 2, 3, 5, 7, 8, 11};
  // D major, estimated from its notes: the signature and F#, C#, never Gb or Db.
  const std::string d = lilypond_source(scale_in(62, major));
  EXPECT_NE(d.find("\\key d \\major"), std::string::npos) << d;
  EXPECT_NE(d.find("fis'"), std::string::npos);
  EXPECT_NE(d.find("cis''"), std::string::npos);
  EXPECT_EQ(d.find("ges"), std::string::npos);
  EXPECT_EQ(d.find("des"), std::string::npos);
  // D-flat major: Gb and Db, never F# or C#.
  const std::string db = lilypond_source(scale_in(61, major));
  EXPECT_NE(db.find("\\key des \\major"), std::string::npos) << db;
  EXPECT_NE(db.find("ges'"), std::string::npos);
  EXPECT_EQ(db.find("fis"), std::string::npos);
  EXPECT_EQ(db.find("cis"), std::string::npos);
  // A harmonic minor: the raised seventh is G#, not Ab.
  const std::string a = lilypond_source(scale_in(57, harmonic_minor));
  EXPECT_NE(a.find("\\key a \\minor"), std::string::npos) << a;
  EXPECT_NE(a.find("gis'"), std::string::npos);
  EXPECT_EQ(a.find("aes"), std::string::npos);
  // A file's own signature wins over the estimate (and a given key over both).
  NoteSequence own = scale_in(62, major);
  own.key_signatures.push_back({.key = -3, .minor = true});  // C minor
  EXPECT_NE(lilypond_source(own).find("\\key c \\minor"), std::string::npos);
  ScoreOptions in_b_minor;
  in_b_minor.key = KeyName{2, true};
  EXPECT_NE(lilypond_source(own, in_b_minor).find("\\key b \\minor"), std::string::npos);
}

// xmllint against the MusicXML 4.0 schema kept in ../shared (its catalog maps the remote imports).
int validate_musicxml(const fs::path& file) {
  const char* source = std::getenv("ETUDE_SOURCE");
  const fs::path schema = fs::path(source ? source : ".") / ".." / "shared/schemas/musicxml-4.0";
  const std::string cmd = "XML_CATALOG_FILES=" + (schema / "catalog.xml").string() +
                          " xmllint --nonet --noout --schema " + (schema / "musicxml.xsd").string() + " " +
                          file.string() + " 2>" + file.string() + ".log";
  return std::system(cmd.c_str());
}

TEST(MusicXml, ValidatesAgainstTheSchemaWithKeyTiesAndChords) {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) GTEST_SKIP() << "xmllint not installed (libxml2-utils)";
  const char* source = std::getenv("ETUDE_SOURCE");
  if (!source || !fs::exists(fs::path(source) / "../shared/schemas/musicxml-4.0/musicxml.xsd"))
    GTEST_SKIP() << "no MusicXML schema at ../shared/schemas/musicxml-4.0";
  const fs::path dir = fs::temp_directory_path() / ("etude_musicxml_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::vector<std::pair<std::string, NoteSequence>> cases{{"two_hands", two_hands()},
                                                          {"d_major", scale_in(62, {0, 2, 4, 5, 7, 9, 11})}};
  if (const fs::path file = corpus_file("Chopin/chpn-p7.mid"); !file.empty())
    cases.push_back({"prelude", load_note_sequence(file)});
  for (const auto& [name, seq] : cases) {
    const fs::path out = dir / (name + ".musicxml");
    ScoreOptions options;
    options.title = name + " & <test>";
    options.composer = "Etude";
    render_score(seq, out, options);
    EXPECT_EQ(validate_musicxml(out), 0) << name << ": " << read_file_text(out.string() + ".log");
  }
  const std::string d = read_file_text(dir / "d_major.musicxml");
  EXPECT_NE(d.find("<key><fifths>2</fifths><mode>major</mode></key>"), std::string::npos);
  EXPECT_NE(d.find("<step>F</step><alter>1</alter>"), std::string::npos);  // F#, never Gb
  EXPECT_EQ(d.find("<step>G</step><alter>-1</alter>"), std::string::npos);
  const std::string t = read_file_text(dir / "two_hands.musicxml");
  EXPECT_NE(t.find("<chord/>"), std::string::npos);
  EXPECT_NE(t.find("<tie type=\"start\"/>"), std::string::npos);
  EXPECT_NE(t.find("<backup><duration>16</duration></backup>"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Spelling, KeysParseAndPiecesMoveToTheAskedKey) {
  EXPECT_EQ(parse_key("D minor").name(), "D minor");
  EXPECT_EQ(parse_key("eb major").tonic, 3);
  EXPECT_EQ(parse_key("F#m").name(), "F# minor");
  EXPECT_EQ(parse_key("B-flat").name(), "Bb major");
  EXPECT_THROW(parse_key("H minor"), InvalidArgument);
  EXPECT_THROW(parse_key("D dorian"), InvalidArgument);
  const std::vector<int> major{0, 2, 4, 5, 7, 9, 11};
  KeyEstimate reached;
  const NoteSequence moved = transpose_to_key(scale_in(60, major), parse_key("A major"), &reached);  // C -> A: -3
  EXPECT_EQ(reached.name(), "A major");
  EXPECT_EQ(moved.notes.front().pitch, 57);
  ASSERT_EQ(moved.key_signatures.size(), 1u);
  EXPECT_EQ(moved.key_signatures[0].key, 3);
  EXPECT_NE(lilypond_source(moved).find("\\key a \\major"), std::string::npos);
  // Another mode: C major moved to E, its third and sixth lowered (E harmonic minor).
  const NoteSequence minor = transpose_to_key(scale_in(60, major), parse_key("E minor"), &reached);
  EXPECT_EQ(reached.name(), "E minor");
  std::vector<int> pitches;
  for (size_t i = 0; i < 7; ++i) pitches.push_back(minor.notes.at(i).pitch);
  EXPECT_EQ(pitches, (std::vector<int>{64, 66, 67, 69, 71, 72, 75}));
  EXPECT_EQ(minor.key_signatures.at(0).key, 1);
  EXPECT_TRUE(minor.key_signatures.at(0).minor);
}

TEST(Spelling, EnharmonicsFollowTheKeyAndOctavesTheLetter) {
  EXPECT_EQ(lilypond_name(spell(60, {0, false})), "c'");
  EXPECT_EQ(lilypond_name(spell(66, {2, false})), "fis'");   // D major
  EXPECT_EQ(lilypond_name(spell(66, {-5, false})), "ges'");  // D-flat major
  EXPECT_EQ(lilypond_name(spell(60, {7, false})), "bis");    // C# major: B#3 sounds as C4
  EXPECT_EQ(lilypond_name(spell(59, {-7, false})), "ces'");  // Cb major: Cb4 sounds as B3
  EXPECT_EQ(lilypond_name(spell(70, {0, false})), "ais'");   // chromatic in C: sharps
  EXPECT_EQ(lilypond_name(spell(70, {-1, false})), "bes'");  // F major: B-flat
  EXPECT_EQ(key_name({.tonic = 1, .minor = false}).name(), "D-flat major");
  EXPECT_EQ(key_name({.tonic = 11, .minor = true}).name(), "B minor");
  EXPECT_EQ(key_name({.tonic = 10, .minor = true}).name(), "B-flat minor");
}

}  // namespace
}  // namespace etude
