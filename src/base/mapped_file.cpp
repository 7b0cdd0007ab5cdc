// Read-only mappings and the spill array; see mapped_file.hpp.
#include "base/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <random>

#include "base/error.hpp"

namespace etude {
namespace fs = std::filesystem;

MappedFile::MappedFile(const fs::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path.string() + ": cannot open (" + std::strerror(errno) + ")");
  try {
    map(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);  // the mapping keeps the file
}

MappedFile::MappedFile(int fd, const fs::path& name) : path_(name) { map(fd); }

void MappedFile::map(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw IoError(path_.string() + ": cannot read its size (" + std::strerror(errno) + ")");
  size_ = size_t(st.st_size);
  if (size_ == 0) return;
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw IoError(path_.string() + ": cannot map (" + std::strerror(errno) + ")");
  data_ = static_cast<const uint8_t*>(p);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void MappedFile::release() const {
  if (data_) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_DONTNEED);
}

SpillArray::SpillArray(size_t memory_items, fs::path dir) : memory_items_(std::max<size_t>(memory_items, 1)), dir_(std::move(dir)) {}

SpillArray::~SpillArray() {
  if (fd_ >= 0) ::close(fd_);
}

SpillArray::SpillArray(SpillArray&& o) noexcept
    : memory_items_(o.memory_items_), dir_(std::move(o.dir_)), memory_(std::move(o.memory_)), size_(o.size_),
      fd_(o.fd_) {
  o.fd_ = -1, o.size_ = 0;
}

SpillArray& SpillArray::operator=(SpillArray&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    memory_items_ = o.memory_items_, dir_ = std::move(o.dir_), memory_ = std::move(o.memory_), size_ = o.size_;
    fd_ = o.fd_;
    o.fd_ = -1, o.size_ = 0;
  }
  return *this;
}

void SpillArray::append(std::span<const int32_t> values) {
  memory_.insert(memory_.end(), values.begin(), values.end());
  size_ += values.size();
  if (memory_.size() >= memory_items_) {
    if (fd_ < 0) spill();
    flush();
  }
}

void SpillArray::spill() {
  // In dir (beside the corpus cache: a disk that holds corpora), else the system's temporary folder.
  std::random_device rd;
  const std::string name = "etude-spill-" + std::to_string(::getpid()) + "-" + std::to_string(rd()) + ".tmp";
  int err = 0;
  for (const fs::path& where : {dir_, fs::temp_directory_path()}) {
    if (where.empty()) continue;
    std::error_code ec;
    fs::create_directories(where, ec);
    const fs::path path = where / name;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ >= 0) {
      ::unlink(path.c_str());  // gone when closed, even after a crash
      dir_ = where;
      return;
    }
    err = errno;
  }
  throw IoError(dir_.string() + ": cannot create a scratch file for the token stream (" + std::strerror(err) +
                "); free space there or set XDG_CACHE_HOME to a writable place");
}

void SpillArray::flush() {
  const auto* p = reinterpret_cast<const uint8_t*>(memory_.data());
  size_t left = memory_.size() * sizeof(int32_t);
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw IoError(dir_.string() + ": cannot write the token stream's scratch file (" + std::strerror(errno) +
                    "); is the disk full?");
    p += n, left -= size_t(n);
  }
  memory_.clear();
}

void SpillArray::finish() {
  if (fd_ < 0) return;
  if (!memory_.empty()) flush();
  memory_ = {};
}

void SpillArray::read(size_t start, size_t count, int32_t* out) const {
  if (start > size_ || count > size_ - start) throw InvalidArgument("spill array: read past the end");
  if (fd_ < 0) {
    std::copy_n(memory_.begin() + ptrdiff_t(start), count, out);
    return;
  }
  auto* p = reinterpret_cast<uint8_t*>(out);
  size_t left = count * sizeof(int32_t);
  off_t at = off_t(start * sizeof(int32_t));
  while (left > 0) {
    const ssize_t n = ::pread(fd_, p, left, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw IoError(dir_.string() + ": cannot read the token stream's scratch file back (" +
                    (n < 0 ? std::string(std::strerror(errno)) : std::string("short read")) + ")");
    p += n, left -= size_t(n), at += n;
  }
}

}  // namespace etude
