// The .mxl container (see mxl.hpp): an in-memory libzip archive read back into a string.
#include "render/mxl.hpp"

#include <zip.h>

#include <cstdio>
#include <memory>

#include "base/error.hpp"

namespace etude {
namespace {

[[noreturn]] void fail(const std::string& what, zip_error_t* error) {
  const std::string text = zip_error_strerror(error);
  zip_error_fini(error);
  throw IoError("mxl: " + what + ": " + text + " (libzip)");
}

// Adds `data` (which must outlive zip_close) as `name`; stored uncompressed when `store`.
void add(zip_t* za, const char* name, const std::string& data, bool store) {
  zip_source_t* s = zip_source_buffer(za, data.data(), data.size(), 0);
  if (!s) fail(std::string("cannot add ") + name, zip_get_error(za));
  const zip_int64_t index = zip_file_add(za, name, s, ZIP_FL_ENC_UTF_8);
  if (index < 0) {
    zip_source_free(s);
    fail(std::string("cannot add ") + name, zip_get_error(za));
  }
  if (zip_set_file_compression(za, zip_uint64_t(index), store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 9) != 0)
    fail(std::string("cannot compress ") + name, zip_get_error(za));
}

}  // namespace

std::string mxl_archive(const std::string& musicxml, const std::string& root_name) {
  const std::string mimetype = kMxlMimeType;
  const std::string container =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<container>\n  <rootfiles>\n    <rootfile full-path=\"" + root_name +
      "\" media-type=\"application/vnd.recordare.musicxml+xml\"/>\n  </rootfiles>\n</container>\n";
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (!buffer) fail("cannot make an archive in memory", &error);
  std::unique_ptr<zip_source_t, decltype(&zip_source_free)> keep(buffer, zip_source_free);
  zip_source_keep(buffer);  // the archive's close must leave the bytes for reading back
  zip_t* za = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (!za) fail("cannot open the archive", &error);
  try {
    add(za, "mimetype", mimetype, true);  // first and stored, so the type is readable at a fixed offset
    add(za, "META-INF/container.xml", container, false);
    add(za, root_name.c_str(), musicxml, false);
  } catch (...) {
    zip_discard(za);
    throw;
  }
  if (zip_close(za) != 0) {
    const std::string text = zip_strerror(za);
    zip_discard(za);
    throw IoError("mxl: cannot write the archive: " + text + " (libzip)");
  }
  if (zip_source_open(buffer) != 0) fail("cannot read the archive back", zip_source_error(buffer));
  std::string bytes;
  char chunk[65536];
  for (zip_int64_t n; (n = zip_source_read(buffer, chunk, sizeof chunk)) > 0;) bytes.append(chunk, size_t(n));
  zip_source_close(buffer);
  zip_error_fini(&error);
  return bytes;
}

}  // namespace etude
