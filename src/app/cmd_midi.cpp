// The MIDI subcommands of `etude`: inspect (one file), scan (a folder, in parallel) and convert
// (read and write back, optionally merged to one piano part). Output is text or --json.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "base/error.hpp"
#include "midi/message_table.hpp"
#include "music/midi_convert.hpp"
#include "render/score.hpp"
#include "music/scan.hpp"
#include "music/sequence_ops.hpp"

namespace etude::app {
namespace {

using nlohmann::json;

std::string format_double(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string division_text(const Division& d) {
  if (!d.is_smpte()) return std::to_string(d.ticks_per_beat) + " ticks per beat";
  return "SMPTE " + std::string(d.smpte_fps == 29 ? "29.97" : std::to_string(d.smpte_fps)) + " fps, " +
         std::to_string(d.ticks_per_frame) + " ticks per frame";
}

size_t note_ons(const MidiTrack& track) {
  return static_cast<size_t>(std::count_if(track.events.begin(), track.events.end(), [](const MidiEvent& ev) { return ev.is_note_on(); }));
}

json inspect_json(const MidiFile& file, const NoteSequence& seq) {
  json j;
  j["file"] = seq.source;
  j["format"] = file.format;
  j["riff"] = file.riff;
  const Division& d = file.division;
  j["division"] = d.is_smpte() ? json{{"smpte_fps", d.smpte_fps}, {"ticks_per_frame", d.ticks_per_frame}}
                               : json{{"ticks_per_beat", d.ticks_per_beat}};
  j["tracks"] = json::array();
  for (size_t t = 0; t < file.tracks.size(); ++t) {
    const size_t notes = note_ons(file.tracks[t]);
    j["tracks"].push_back({{"index", t}, {"name", file.tracks[t].name()}, {"events", file.tracks[t].events.size()},
                           {"notes", notes}, {"end_tick", file.tracks[t].end_tick()}});
  }
  j["tempo_map"] = json::array();
  for (const TempoChange& t : seq.tempos)
    j["tempo_map"].push_back({{"tick", t.tick}, {"time", t.time}, {"us_per_beat", t.us_per_beat}, {"qpm", t.qpm()}});
  j["time_signatures"] = json::array();
  for (const TimeSignature& ts : seq.time_signatures)
    j["time_signatures"].push_back({{"tick", ts.tick}, {"time", ts.time}, {"numerator", ts.numerator}, {"denominator", ts.denominator}});
  j["key_signatures"] = json::array();
  for (const KeySignature& ks : seq.key_signatures)
    j["key_signatures"].push_back({{"tick", ks.tick}, {"time", ks.time}, {"key", ks.key}, {"minor", ks.minor}});
  j["duration"] = seq.total_time;
  j["total_ticks"] = seq.total_ticks;
  j["note_count"] = seq.notes.size();
  j["warnings"] = file.warnings;
  json notes = json::array();
  for (const Note& n : seq.notes)
    notes.push_back({{"pitch", n.pitch}, {"velocity", n.velocity}, {"start", n.start}, {"end", n.end},
                     {"channel", n.channel}, {"program", n.program}, {"track", n.track},
                     {"start_tick", n.start_tick}, {"end_tick", n.end_tick}});
  j["notes"] = std::move(notes);
  return j;
}

void print_inspect(const MidiFile& file, const NoteSequence& seq) {
  std::cout << "file:      " << seq.source << (file.riff ? " (RIFF RMID)" : "") << "\n"
            << "format:    " << file.format << ", " << file.tracks.size() << " tracks, "
            << division_text(file.division) << "\n";
  for (size_t t = 0; t < file.tracks.size(); ++t) {
    const size_t notes = note_ons(file.tracks[t]);
    std::cout << "track " << t << ":   \"" << file.tracks[t].name() << "\", " << file.tracks[t].events.size()
              << " events, " << notes << " notes\n";
  }
  std::cout << "tempo map: " << (seq.tempos.empty() ? "none (120 BPM)" : std::to_string(seq.tempos.size()) + " changes") << "\n";
  const size_t shown = std::min<size_t>(seq.tempos.size(), 10);
  for (size_t i = 0; i < shown; ++i)
    std::cout << "  tick " << seq.tempos[i].tick << " (" << format_double("%.3f", seq.tempos[i].time)
              << " s): " << format_double("%.2f", seq.tempos[i].qpm()) << " BPM\n";
  if (shown < seq.tempos.size()) std::cout << "  ... and " << seq.tempos.size() - shown << " more (--json lists all)\n";
  std::cout << "time sigs: ";
  for (const TimeSignature& ts : seq.time_signatures)
    std::cout << ts.numerator << "/" << ts.denominator << " at " << format_double("%.3f", ts.time) << " s  ";
  std::cout << (seq.time_signatures.empty() ? "none\n" : "\n") << "key sigs:  ";
  for (const KeySignature& ks : seq.key_signatures)
    std::cout << std::abs(ks.key) << (ks.key < 0 ? " flats " : " sharps ") << (ks.minor ? "minor" : "major") << " at "
              << format_double("%.3f", ks.time) << " s  ";
  std::cout << (seq.key_signatures.empty() ? "none\n" : "\n");
  std::cout << "duration:  " << format_double("%.3f", seq.total_time) << " s\n"
            << "notes:     " << seq.notes.size() << "\n";
  for (const std::string& w : file.warnings) std::cout << "warning:   " << w << "\n";
}

void scan(const std::string& dir, bool as_json, bool lenient, unsigned threads) {
  const auto files = find_midi_files(dir);
  const auto results = scan_midi_files(files, ScanOptions{lenient, threads});
  size_t failed = 0, notes = 0, warned = 0;
  double seconds = 0;
  json list = json::array();
  for (const ScanResult& r : results) {
    failed += !r.ok;
    warned += !r.warnings.empty();
    notes += r.notes;
    seconds += r.seconds;
    if (as_json) {
      json item = {{"path", r.path.string()}, {"ok", r.ok}, {"notes", r.notes}, {"seconds", r.seconds}, {"warnings", r.warnings}};
      if (!r.ok) item["error"] = r.error;
      list.push_back(std::move(item));
    } else if (r.ok) {
      std::cout << (r.warnings.empty() ? "ok    " : "warn  ") << r.path.string() << "  " << r.notes << " notes  "
                << format_double("%.1f", r.seconds) << " s\n";
      for (const std::string& w : r.warnings) std::cout << "      " << w << "\n";
    } else {
      std::cout << "FAIL  " << r.error << "\n";
    }
  }
  if (as_json) {
    std::cout << json{{"files", results.size()}, {"ok", results.size() - failed}, {"failed", failed}, {"with_warnings", warned},
                      {"notes", notes}, {"hours", seconds / 3600}, {"results", list}}.dump(1) << "\n";
  } else {
    std::cout << "total: " << results.size() << " files, " << results.size() - failed << " ok, " << failed << " failed, "
              << notes << " notes, " << format_double("%.2f", seconds / 3600) << " hours\n";
  }
  if (failed)
    throw FormatError(std::to_string(failed) + " of " + std::to_string(results.size()) + " files in " + dir +
                      " could not be read (see the FAIL lines; --lenient recovers what is readable)");
}

}  // namespace

void add_midi_commands(CLI::App& app) {
  struct Options {
    std::string input, output, score;
    bool json = false, lenient = false, piano = false;
    unsigned threads = 0;
  };
  auto opt = std::make_shared<Options>();

  CLI::App* inspect = app.add_subcommand("inspect", "Show a MIDI file: format, division, tracks, tempo map, time signatures, duration, notes");
  inspect->add_option("file", opt->input, "MIDI file (.mid, .midi, .kar, .rmi)")->required();
  inspect->add_flag("--json", opt->json, "Print JSON, including every note {pitch, velocity, start, end, channel, program, track} (seconds)");
  inspect->add_flag("--lenient", opt->lenient, "Recover what is readable from a damaged file and list what was skipped");
  inspect->footer("Exit codes: 0 ok, 1 usage error, 2 unreadable or malformed file (the message names the byte offset).");
  inspect->callback([opt] {
    const MidiFile file = read_midi_file(opt->input, ReadOptions{opt->lenient});
    const NoteSequence seq = note_sequence_from_midi(file, opt->input);
    if (opt->json)
      std::cout << inspect_json(file, seq).dump(1) << "\n";
    else
      print_inspect(file, seq);
  });

  CLI::App* scan_cmd = app.add_subcommand("scan", "Read every .mid/.midi/.kar/.rmi below a folder in parallel: ok or the error per file, totals (exit 2 if any file fails)");
  scan_cmd->add_option("dir", opt->input, "Folder to scan (recursively)")->required();
  scan_cmd->add_flag("--json", opt->json, "Print JSON: per file path, ok, error, notes, seconds, warnings; totals");
  scan_cmd->add_flag("--lenient", opt->lenient, "Read damaged files leniently and report what was skipped");
  scan_cmd->add_option("--threads", opt->threads, "Worker threads (default: all cores)");
  scan_cmd->footer("Exit codes: 0 every file read, 1 usage error, 2 a file failed or DIR is not a folder.");
  scan_cmd->callback([opt] { scan(opt->input, opt->json, opt->lenient, opt->threads); });

  CLI::App* convert = app.add_subcommand("convert", "Read a MIDI file and write it back as SMF (format 0 or 1) through the NoteSequence hub");
  convert->add_option("in", opt->input, "MIDI file to read")->required();
  convert->add_option("out", opt->output, "MIDI file to write (atomically)")->required();
  convert->add_flag("--piano", opt->piano, "Merge all non-drum parts into one piano part (channel 0, program 0, one track)");
  convert->add_flag("--lenient", opt->lenient, "Recover what is readable from a damaged input file");
  convert->footer("Exit codes: 0 written, 1 usage error, 2 unreadable input or unwritable output.");
  convert->add_option("--score", opt->score, "Also engrave it: .pdf, .svg or .png (LilyPond; the file's key and time "
                                                "signature), or MusicXML: .musicxml or .mxl");
  convert->callback([opt] {
    if (!opt->score.empty()) check_score_path(opt->score);
    NoteSequence seq = load_note_sequence(opt->input, opt->lenient);
    if (opt->piano) seq = merge_to_piano(std::move(seq));
    save_note_sequence(seq, opt->output);
    if (!opt->score.empty()) {
      ScoreOptions score;
      score.title = std::filesystem::path(opt->input).stem().string();
      render_score(seq, opt->score, score);
    }
  });
}

}  // namespace etude::app
