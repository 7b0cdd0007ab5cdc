// The MIDI files uploaded to train a run on (POST /api/runs with "files"): checked against the
// limits below and read as music before anything is stored, then stored under the server's
// uploads folder with names it chooses (up-<random>/<style>/001.mid, ...): no client text becomes
// a path, and the folder's name is the style the run learns.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <httplib.h>

namespace etude::app::serve {

inline constexpr size_t kRunFilesMax = 64;                 // files per upload
inline constexpr size_t kRunFileBytesMax = 2 << 20;        // bytes per file
inline constexpr size_t kRunUploadBytesMax = 32 << 20;     // bytes per upload

using UploadedFiles = std::vector<const httplib::MultipartFormData*>;

class UploadStore {
 public:
  explicit UploadStore(std::filesystem::path dir);  // creates the folder
  // HttpError 413 when the request is larger than an upload may be (before its parts are read).
  static void check_request(const httplib::Request& req);
  // HttpError 400 / 413 naming the file that breaks a limit or is not a MIDI file with notes.
  static void check(const UploadedFiles& files);
  // Stores checked files; returns their folder, named `style`.
  std::filesystem::path store(const UploadedFiles& files, const std::string& style) const;
  // Removes a stored upload whose run was refused after all (the folder store returned).
  static void discard(const std::filesystem::path& folder);

 private:
  std::filesystem::path dir_;
};

}  // namespace etude::app::serve
