// FluidSynth rendering (see wav.hpp): MIDI events sorted by sample time, the synth run block by
// block up to each event, the samples framed as a PCM WAV file.
#include "render/wav.hpp"

#include <fluidsynth.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "base/file_io.hpp"

namespace etude {
namespace {

struct Event {
  int64_t frame;
  int order;  // at equal frames: program, controller, note-off, note-on
  int channel, a, b;
};

void put_le(std::vector<uint8_t>& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

}  // namespace

std::vector<int16_t> render_audio(const NoteSequence& seq, const WavOptions& o) {
  if (o.sample_rate < 8000 || o.sample_rate > 192000) throw InvalidArgument("wav: sample rate must be 8000..192000");
  if (!std::filesystem::is_regular_file(o.soundfont))
    throw IoError(o.soundfont.string() + ": soundfont not found (install Debian's fluid-soundfont-gm or pass --soundfont FILE.sf2)");
  for (int level = 0; level < LAST_LOG_LEVEL; ++level) fluid_set_log_function(level, nullptr, nullptr);  // no terminal output
  std::unique_ptr<fluid_settings_t, decltype(&delete_fluid_settings)> settings(new_fluid_settings(), delete_fluid_settings);
  fluid_settings_setnum(settings.get(), "synth.sample-rate", o.sample_rate);
  fluid_settings_setnum(settings.get(), "synth.gain", o.gain);
  fluid_settings_setint(settings.get(), "synth.cpu-cores", 1);
  std::unique_ptr<fluid_synth_t, decltype(&delete_fluid_synth)> synth(new_fluid_synth(settings.get()), delete_fluid_synth);
  if (!synth) throw DeviceError("wav: FluidSynth could not create a synthesizer (libfluidsynth3 broken?)");
  if (fluid_synth_sfload(synth.get(), o.soundfont.c_str(), 1) == FLUID_FAILED)
    throw IoError(o.soundfont.string() + ": FluidSynth cannot load this soundfont (not an .sf2 file? try Debian's fluid-soundfont-gm)");

  auto frame = [&](double t) { return int64_t(std::llround(std::max(0.0, t) * o.sample_rate)); };
  std::vector<Event> events;
  for (const ProgramChange& p : seq.program_changes) events.push_back({frame(p.time), 0, p.channel, p.program, 0});
  for (const ControlChange& c : seq.control_changes) events.push_back({frame(c.time), 1, c.channel, c.number, c.value});
  for (const Note& n : seq.notes) {
    events.push_back({frame(n.end), 2, n.channel, n.pitch, 0});
    events.push_back({frame(n.start), 3, n.channel, n.pitch, n.velocity});
  }
  if (seq.program_changes.empty())  // programs carried by the notes alone
    for (const Note& n : seq.notes)
      if (!n.is_drum) events.push_back({frame(n.start), 0, n.channel, n.program, 0});
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& x, const Event& y) { return x.frame != y.frame ? x.frame < y.frame : x.order < y.order; });

  const int64_t total = frame(seq.total_time + o.tail_seconds);
  std::vector<int16_t> out(size_t(total) * 2);
  std::vector<float> block(2 * 4096);
  int64_t done = 0;
  auto run_to = [&](int64_t end) {  // float output rounded here (write_s16 adds dither noise to silence)
    while (done < end) {
      const int n = int(std::min<int64_t>(end - done, 4096));
      fluid_synth_write_float(synth.get(), n, block.data(), 0, 2, block.data(), 1, 2);
      for (int i = 0; i < 2 * n; ++i)
        out[size_t(done) * 2 + i] = int16_t(std::lround(std::clamp(block[i], -1.0f, 1.0f) * 32767.0f));
      done += n;
    }
  };
  for (const Event& e : events) {
    run_to(std::min(e.frame, total));
    switch (e.order) {
      case 0: fluid_synth_program_change(synth.get(), e.channel, e.a); break;
      case 1: fluid_synth_cc(synth.get(), e.channel, e.a, e.b); break;
      case 2: fluid_synth_noteoff(synth.get(), e.channel, e.a); break;
      default: fluid_synth_noteon(synth.get(), e.channel, e.a, e.b); break;
    }
  }
  run_to(total);
  // The tail's end fades out linearly (only the tail: the music itself is never touched).
  const int64_t fade = std::min(frame(std::max(0.0, o.fade_seconds)), frame(std::max(0.0, o.tail_seconds)));
  for (int64_t f = total - fade; f < total; ++f)
    for (int c = 0; c < 2; ++c) {
      int16_t& s = out[size_t(f) * 2 + c];
      s = int16_t(std::lround(s * double(total - 1 - f) / double(fade)));
    }
  return out;
}

void render_wav(const NoteSequence& seq, const std::filesystem::path& path, const WavOptions& o) {
  const std::vector<int16_t> samples = render_audio(seq, o);
  const uint32_t data_bytes = uint32_t(samples.size() * 2);
  std::vector<uint8_t> out;
  out.reserve(44 + data_bytes);
  auto tag = [&](const char* s) { out.insert(out.end(), s, s + 4); };
  tag("RIFF"), put_le(out, 36 + data_bytes, 4), tag("WAVE");
  tag("fmt "), put_le(out, 16, 4), put_le(out, 1, 2), put_le(out, 2, 2);  // PCM, stereo
  put_le(out, uint32_t(o.sample_rate), 4), put_le(out, uint32_t(o.sample_rate) * 4, 4), put_le(out, 4, 2), put_le(out, 16, 2);
  tag("data"), put_le(out, data_bytes, 4);
  for (int16_t s : samples) put_le(out, uint16_t(s), 2);
  write_file_atomic(path, out);
}

}  // namespace etude
