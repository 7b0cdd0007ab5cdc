// Files read through mmap: a read-only mapping of a whole file whose touched pages can be handed
// back (madvise DONTNEED: they leave this process's resident set, the page cache keeps them), and a
// spill array that holds int32 values in memory up to a limit and in an unlinked scratch file past it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace etude {

class MappedFile {
 public:
  // IoError naming the path when it cannot be opened or mapped. An empty file maps to no bytes.
  explicit MappedFile(const std::filesystem::path& path);
  // The whole of an open file (the descriptor stays the caller's); name is for messages.
  MappedFile(int fd, const std::filesystem::path& name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }
  // Drops the pages read so far from the resident set; the next read faults them back in.
  void release() const;

 private:
  void map(int fd);
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// An append-only int32 array: in memory up to `memory_items`, then moved to a scratch file in `dir`
// (created, unlinked at once, so nothing is left behind). A spilled array is read with pread, not
// mapped: scattered reads (training windows) would map whole large folios and fill the resident
// set, while pread leaves the pages in the page cache only.
class SpillArray {
 public:
  SpillArray(size_t memory_items, std::filesystem::path dir);
  ~SpillArray();
  SpillArray(SpillArray&&) noexcept;
  SpillArray& operator=(SpillArray&&) noexcept;

  void append(std::span<const int32_t> values);  // IoError naming the scratch folder on failure
  void finish();                                 // after the last append
  size_t size() const { return size_; }
  bool spilled() const { return fd_ >= 0; }
  // Values [start, start + count) into out (after finish()); IoError when the scratch file fails.
  void read(size_t start, size_t count, int32_t* out) const;

 private:
  void spill();
  void flush();
  size_t memory_items_;
  std::filesystem::path dir_;
  std::vector<int32_t> memory_;
  size_t size_ = 0;
  int fd_ = -1;
};

}  // namespace etude
