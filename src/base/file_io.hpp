// Whole-file reads and atomic writes (temporary file, fsync, rename) shared by every layer.
// A reader that fails throws IoError naming the path; a writer never leaves a half-written file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace etude {

// Reads a whole file; throws IoError (missing, unreadable) naming the path.
// max_bytes guards against reading something absurd by mistake.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path,
                                     uint64_t max_bytes = uint64_t{1} << 32);
std::string read_file_text(const std::filesystem::path& path);

// Writes bytes to path.tmp-<pid>-<thread>, fsyncs, renames over path and fsyncs the folder.
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);
void write_file_atomic(const std::filesystem::path& path, std::string_view text);

}  // namespace etude
