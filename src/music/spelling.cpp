// Key names and pitch spelling; see spelling.hpp.
#include "music/spelling.hpp"

#include <array>
#include <algorithm>
#include <cctype>
#include <vector>

#include "base/error.hpp"
#include "music/sequence_ops.hpp"

namespace etude {
namespace {
constexpr std::array<int, 7> kNaturalPc = {0, 2, 4, 5, 7, 9, 11};  // C D E F G A B
constexpr std::array<int, 7> kMajorSteps = {0, 2, 4, 5, 7, 9, 11};
constexpr std::array<int, 7> kMinorSteps = {0, 2, 3, 5, 7, 8, 10};  // natural minor; degree 7 raised below
constexpr const char* kLetters = "CDEFGAB";

int mod(int a, int m) { return ((a % m) + m) % m; }
// The major key of `fifths` on the circle: tonic letter and alteration (0 fifths = C, 1 = G, -1 = F).
void major_tonic(int fifths, int& letter, int& alter) {
  letter = mod(4 * fifths, 7);  // each fifth is four letters up
  alter = 0;
  const int pc = mod(7 * fifths, 12);
  const int diff = mod(pc - kNaturalPc[size_t(letter)] + 6, 12) - 6;
  alter = diff;
}
}  // namespace

int KeyName::tonic_letter() const {
  int letter = 0, alter = 0;
  major_tonic(minor ? fifths + 3 : fifths, letter, alter);  // a minor key's tonic is three fifths above
  return letter;
}
int KeyName::tonic_alter() const {
  int letter = 0, alter = 0;
  major_tonic(minor ? fifths + 3 : fifths, letter, alter);
  return alter;
}
std::string KeyName::name() const {
  std::string s(1, kLetters[tonic_letter()]);
  const int a = tonic_alter();
  if (a > 0) s += "-sharp";
  if (a < 0) s += "-flat";
  return s + (minor ? " minor" : " major");
}

KeyName key_name(const KeyEstimate& key) {
  // A minor key shares its signature with the major key three semitones up.
  const int major_pc = key.minor ? mod(key.tonic + 3, 12) : key.tonic;
  int fifths = mod(7 * major_pc, 12);  // pc -> fifths on the circle, 0..11
  if (fifths > 6) fifths -= 12;        // -5..6: Db not C#, F# (6) kept
  return {fifths, key.minor};
}

KeyName score_key(const NoteSequence& seq) {
  if (!seq.key_signatures.empty()) {
    const KeySignature& k = seq.key_signatures.front();
    if (k.key >= -7 && k.key <= 7) return {k.key, k.minor};
  }
  return key_name(estimate_key(seq));
}

SpelledPitch spell(int pitch, const KeyName& key) {
  const int pc = mod(pitch, 12);
  const int tonic_letter = key.tonic_letter();
  const int tonic_pc = mod(kNaturalPc[size_t(tonic_letter)] + key.tonic_alter(), 12);
  const auto& steps = key.minor ? kMinorSteps : kMajorSteps;
  int letter = -1;
  for (int d = 0; d < 7 && letter < 0; ++d) {
    if (mod(tonic_pc + steps[size_t(d)], 12) == pc) letter = (tonic_letter + d) % 7;
    // the harmonic minor's raised seventh, spelled on the seventh's letter (G# in A minor)
    if (key.minor && d == 6 && mod(tonic_pc + steps[6] + 1, 12) == pc) letter = (tonic_letter + 6) % 7;
  }
  // Chromatic: the natural letter when there is one, else a sharp on the letter below in sharp keys
  // and a flat on the letter above in flat keys.
  for (int shift : {0, key.fifths >= 0 ? -1 : 1})
    for (int l = 0; l < 7 && letter < 0; ++l)
      if (kNaturalPc[size_t(l)] == mod(pc + shift, 12)) letter = l;
  SpelledPitch s;
  s.letter = letter;
  s.alter = mod(pc - kNaturalPc[size_t(letter)] + 6, 12) - 6;
  const int natural = pitch - s.alter;  // the letter's own key: B#3 is natural B3 raised
  s.octave = natural / 12 - 1;
  return s;
}

std::string lilypond_name(const SpelledPitch& p) {
  std::string s(1, char('a' + (kLetters[p.letter] - 'A')));
  for (int i = 0; i < p.alter; ++i) s += "is";
  for (int i = 0; i < -p.alter; ++i) s += "es";  // Dutch names: bes, ees, aes
  const int marks = p.octave - 3;  // c (no mark) is C3 = MIDI 48
  s.append(size_t(marks > 0 ? marks : -marks), marks > 0 ? '\'' : ',');
  return s;
}

char step_letter(const SpelledPitch& p) { return kLetters[p.letter]; }

KeyEstimate parse_key(const std::string& text) {
  std::string t;
  for (char c : text) t += char(std::tolower(static_cast<unsigned char>(c)));
  auto bad = [&] {
    throw InvalidArgument("key '" + text.substr(0, 40) + "': write a tonic and a mode, e.g. \"D minor\", \"Eb major\", \"F# minor\"");
  };
  if (t.empty() || t[0] < 'a' || t[0] > 'g') bad();
  const int letter = (t[0] - 'a' + 5) % 7;  // a..g as indices of c d e f g a b
  int pc = kNaturalPc[size_t(letter)];
  size_t i = 1;
  if (t.compare(i, 6, "-sharp") == 0) pc += 1, i += 6;
  else if (t.compare(i, 5, "-flat") == 0) pc -= 1, i += 5;
  else if (i < t.size() && (t[i] == '#' || t[i] == 's')) pc += 1, ++i;
  else if (i < t.size() && t[i] == 'b') pc -= 1, ++i;
  while (i < t.size() && t[i] == ' ') ++i;
  const std::string mode = t.substr(i);
  if (mode != "" && mode != "major" && mode != "minor" && mode != "maj" && mode != "min" && mode != "m") bad();
  return {.tonic = mod(pc, 12), .minor = mode == "minor" || mode == "min" || mode == "m"};
}

namespace {
// Each non-drum note moved by move[its degree above the tonic] semitones; two notes then struck
// together on one pitch merge into the longer.
NoteSequence move_degrees(NoteSequence seq, int tonic, const std::array<int, 12>& move) {
  for (Note& n : seq.notes)
    if (!n.is_drum) n.pitch = std::clamp(n.pitch + move[size_t(mod(n.pitch - tonic, 12))], 0, 127);
  sort_notes(seq);
  std::vector<Note> kept;
  for (const Note& n : seq.notes) {
    if (!kept.empty() && kept.back().start_tick == n.start_tick && kept.back().pitch == n.pitch &&
        kept.back().channel == n.channel && kept.back().is_drum == n.is_drum) {
      kept.back().end_tick = std::max(kept.back().end_tick, n.end_tick);
      kept.back().end = std::max(kept.back().end, n.end);
      continue;
    }
    kept.push_back(n);
  }
  seq.notes = std::move(kept);
  return seq;
}
}  // namespace

NoteSequence change_mode(NoteSequence seq, int tonic, bool to_minor) {
  // Degrees above the tonic that differ: the third and sixth (and minor's lowered seventh, which a
  // major key raises to its leading tone; a minor key keeps the leading tone of its harmonic form).
  std::array<int, 12> move{};
  if (to_minor) move[4] = move[9] = -1;
  else move[3] = move[8] = move[10] = +1;
  return move_degrees(std::move(seq), tonic, move);
}

NoteSequence away_from_relative(NoteSequence seq, int tonic, bool minor) {
  std::array<int, 12> move{};
  if (minor) move[10] = +1;  // the subtonic becomes the leading tone (the relative major's dominant goes)
  else move[8] = -1;         // the relative minor's leading tone becomes the dominant
  return move_degrees(std::move(seq), tonic, move);
}

NoteSequence transpose_to_key(NoteSequence seq, const KeyEstimate& target, KeyEstimate* reached) {
  const KeyEstimate now = estimate_key(seq);
  enum Change { none, mode_change, relative };
  auto moved = [&](int by, int change) {
    NoteSequence out = transpose(seq, by, OutOfRange::clamp);
    if (change == mode_change) return change_mode(std::move(out), target.tonic, target.minor);
    if (change == relative) return away_from_relative(std::move(out), target.tonic, target.minor);
    return out;
  };
  // The estimate's tonic onto the target's (and its mode into the target's when they differ).
  int shift = mod(target.tonic - now.tonic + 6, 12) - 6;  // -6..5
  const int mode = now.minor != target.minor ? mode_change : none;
  NoteSequence out = moved(shift, mode);
  KeyEstimate after = estimate_key(out);
  // A piece whose estimate then names another key (a relative or neighbouring key won): the
  // smallest other move, without a mode change first, then with one, then away from the relative
  // key, whose estimate is the target.
  for (int d = 0; d <= 6 && !(after.tonic == target.tonic && after.minor == target.minor); ++d)
    for (int s : {d, -d})
      for (int m : {none, mode_change, relative}) {
        if (s == -6 || (s == shift && m == mode)) continue;
        NoteSequence candidate = moved(s, m);
        const KeyEstimate e = estimate_key(candidate);
        if (e.tonic == target.tonic && e.minor == target.minor && !(after.tonic == target.tonic && after.minor == target.minor))
          out = std::move(candidate), after = e;
      }
  seq = std::move(out);
  const KeyName name = key_name(target);
  seq.key_signatures = {KeySignature{.key = name.fifths, .minor = name.minor}};
  if (reached) *reached = after;
  return seq;
}

}  // namespace etude
