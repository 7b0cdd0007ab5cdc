// The MusicXML writer; see musicxml.hpp. Each measure holds the right hand (staff 1, voice 1), a
// backup of one bar, then the left hand (staff 2, voice 5); chords are notes with <chord/>.
#include "render/musicxml.hpp"

#include <cmath>
#include <sstream>

#include "render/score_grid.hpp"

namespace etude {
namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* type_name(int denominator) {
  switch (denominator) {
    case 1: return "whole";
    case 2: return "half";
    case 4: return "quarter";
    case 8: return "eighth";
    case 16: return "16th";
    case 32: return "32nd";
    default: return "64th";
  }
}

void write_value(std::ostringstream& x, const WrittenValue& v, int staff, const KeyName& key) {
  const int voice = staff == 1 ? 1 : 5;
  auto tail = [&](bool tie_in, bool tie_out) {
    x << "<duration>" << v.steps << "</duration>";
    if (tie_in) x << "<tie type=\"stop\"/>";
    if (tie_out) x << "<tie type=\"start\"/>";
    x << "<voice>" << voice << "</voice><type>" << type_name(v.denominator) << "</type>" << (v.dotted ? "<dot/>" : "")
      << "<staff>" << staff << "</staff>";
    if (tie_in || tie_out)
      x << "<notations>" << (tie_in ? "<tied type=\"stop\"/>" : "") << (tie_out ? "<tied type=\"start\"/>" : "")
        << "</notations>";
    x << "</note>\n";
  };
  if (v.notes.empty()) {
    x << "      <note><rest/>";
    tail(false, false);
    return;
  }
  for (size_t i = 0; i < v.notes.size(); ++i) {
    const SpelledPitch p = spell(v.notes[i].pitch, key);
    x << "      <note>" << (i ? "<chord/>" : "") << "<pitch><step>" << step_letter(p) << "</step>";
    if (p.alter) x << "<alter>" << p.alter << "</alter>";
    x << "<octave>" << p.octave << "</octave></pitch>";
    tail(v.notes[i].tie_in, v.notes[i].tie_out);
  }
}

}  // namespace

std::string musicxml_source(const NoteSequence& seq, const ScoreOptions& o) {
  const KeyName key = o.key ? *o.key : score_key(seq);
  const ScoreGrid g = make_score_grid(seq, o.grid, o.split_pitch, key);
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
    << "<!DOCTYPE score-partwise PUBLIC \"-//Recordare//DTD MusicXML 4.0 Partwise//EN\" "
       "\"http://www.musicxml.org/dtds/partwise.dtd\">\n"
    << "<score-partwise version=\"4.0\">\n";
  if (!o.title.empty()) x << "  <work><work-title>" << xml_escape(o.title) << "</work-title></work>\n";
  x << "  <identification>";
  if (!o.composer.empty()) x << "<creator type=\"composer\">" << xml_escape(o.composer) << "</creator>";
  x << "<encoding><software>Etude</software></encoding></identification>\n"
    << "  <part-list><score-part id=\"P1\"><part-name>Piano</part-name></score-part></part-list>\n"
    << "  <part id=\"P1\">\n";
  size_t next[2] = {0, 0};
  const int64_t bars = g.end / g.bar;
  for (int64_t m = 0; m < bars; ++m) {
    x << "    <measure number=\"" << m + 1 << "\">\n";
    if (m == 0) {
      x << "      <attributes><divisions>" << g.grid << "</divisions><key><fifths>" << key.fifths << "</fifths><mode>"
        << (key.minor ? "minor" : "major") << "</mode></key><time><beats>" << g.numerator << "</beats><beat-type>"
        << g.denominator << "</beat-type></time><staves>2</staves>"
        << "<clef number=\"1\"><sign>G</sign><line>2</line></clef><clef number=\"2\"><sign>F</sign><line>4</line></clef>"
        << "</attributes>\n";
      const long q = std::lround(g.qpm);
      x << "      <direction placement=\"above\"><direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>" << q
        << "</per-minute></metronome></direction-type><staff>1</staff><sound tempo=\"" << q << "\"/></direction>\n";
    }
    const int64_t bar_end = (m + 1) * g.bar;
    for (int h = 0; h < 2; ++h) {
      if (h == 1) x << "      <backup><duration>" << g.bar << "</duration></backup>\n";
      while (next[h] < g.hands[h].size() && g.hands[h][next[h]].start < bar_end) write_value(x, g.hands[h][next[h]++], h + 1, key);
    }
    if (m + 1 == bars) x << "      <barline location=\"right\"><bar-style>light-heavy</bar-style></barline>\n";
    x << "    </measure>\n";
  }
  x << "  </part>\n</score-partwise>\n";
  return x.str();
}

}  // namespace etude
