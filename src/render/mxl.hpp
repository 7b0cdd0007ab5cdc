// Compressed MusicXML (.mxl): the MusicXML text zipped with libzip, as the MusicXML 4.0 container
// asks: an uncompressed `mimetype` entry first, META-INF/container.xml naming the root file, and
// the score itself (deflated).
#pragma once
#include <string>

namespace etude {

inline constexpr const char* kMxlMimeType = "application/vnd.recordare.musicxml";

// The bytes of a .mxl archive holding `musicxml` as `root_name` (e.g. "score.musicxml").
// IoError when libzip fails.
std::string mxl_archive(const std::string& musicxml, const std::string& root_name = "score.musicxml");

}  // namespace etude
