// Uploaded training files, checked and stored; see serve_uploads.hpp.
#include "app/serve_uploads.hpp"

#include <cstdio>

#include "app/serve_http.hpp"
#include "app/serve_pieces.hpp"
#include "base/file_io.hpp"

namespace etude::app::serve {
namespace fs = std::filesystem;

UploadStore::UploadStore(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }

void UploadStore::check_request(const httplib::Request& req) {
  if (request_bytes(req) > kRunUploadBytesMax + (1 << 20))
    throw HttpError(413, "a training upload is at most 32 MiB of MIDI files (this request has " +
                             std::to_string(request_bytes(req)) + " bytes)");
}

void UploadStore::check(const UploadedFiles& files) {
  if (files.size() > kRunFilesMax)
    throw HttpError(400, "files: at most 64 MIDI files per run (got " + std::to_string(files.size()) + ")");
  size_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    total += files[i]->content.size();
    if (files[i]->content.size() > kRunFileBytesMax)
      throw HttpError(413, "files: " + files[i]->filename.substr(0, 100) + " is larger than 2 MiB");
    parse_midi_upload(files[i]->content, "files[" + std::to_string(i) + "] (" + files[i]->filename.substr(0, 100) + ")");
  }
  if (total > kRunUploadBytesMax) throw HttpError(413, "files: at most 32 MiB in all");
}

fs::path UploadStore::store(const UploadedFiles& files, const std::string& style) const {
  const fs::path folder = fs::absolute(dir_ / make_id("up") / style);
  fs::create_directories(folder);
  for (size_t i = 0; i < files.size(); ++i) {
    char file[32];
    std::snprintf(file, sizeof file, "%03zu.mid", i + 1);
    write_file_atomic(folder / file, std::string_view(files[i]->content));
  }
  return folder;
}

void UploadStore::discard(const fs::path& folder) {
  std::error_code ec;
  fs::remove_all(folder.parent_path(), ec);
}

}  // namespace etude::app::serve
