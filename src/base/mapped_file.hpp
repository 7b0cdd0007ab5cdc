// Files read through mmap: a read-only mapping of a whole file whose touched pages can be handed
// back (madvise DONTNEED: they leave this process's resident set, the page cache keeps them), and a
// spill array that holds int32 values in memory up to a limit and in an unlinked scratch file past it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
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

// Counts bytes read from mappings and releases them all when the count passes the budget, so the
// resident set stays near the budget however much is read.
class ResidentBudget {
 public:
  explicit ResidentBudget(size_t bytes) : budget_(bytes) {}
  void watch(const MappedFile* file) { files_.push_back(file); }
  void read(size_t bytes);  // after reading that many bytes from the watched files
  void release_all();

 private:
  size_t budget_, read_ = 0;
  std::vector<const MappedFile*> files_;
};

// An append-only int32 array: in memory up to `memory_items`, then moved to a scratch file in `dir`
// (created, unlinked at once, so nothing is left behind) that finish() maps back. Reads go through
// values(); a spilled array's pages are released every `memory_items * 4` bytes read (read()).
class SpillArray {
 public:
  SpillArray(size_t memory_items, std::filesystem::path dir);
  ~SpillArray();
  SpillArray(SpillArray&&) noexcept;
  SpillArray& operator=(SpillArray&&) noexcept;

  void append(std::span<const int32_t> values);  // IoError naming the scratch folder on failure
  void finish();                                 // after the last append
  std::span<const int32_t> values() const;       // valid after finish()
  size_t size() const { return size_; }
  bool spilled() const { return fd_ >= 0; }
  void read(size_t items) const;                 // accounting for the release of a spilled array

 private:
  void spill();
  void flush();
  size_t memory_items_;
  std::filesystem::path dir_;
  std::vector<int32_t> memory_;
  size_t size_ = 0;
  int fd_ = -1;
  std::unique_ptr<MappedFile> map_;
  std::unique_ptr<ResidentBudget> budget_;
};

}  // namespace etude
