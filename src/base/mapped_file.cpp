// Read-only mappings, the resident budget and the spill array; see mapped_file.hpp.
#include "base/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

void ResidentBudget::read(size_t bytes) {
  read_ += bytes;
  if (read_ >= budget_) release_all();
}

void ResidentBudget::release_all() {
  for (const MappedFile* f : files_) f->release();
  read_ = 0;
}

SpillArray::SpillArray(size_t memory_items, fs::path dir) : memory_items_(std::max<size_t>(memory_items, 1)), dir_(std::move(dir)) {}

SpillArray::~SpillArray() {
  map_.reset();
  if (fd_ >= 0) ::close(fd_);
}

SpillArray::SpillArray(SpillArray&& o) noexcept
    : memory_items_(o.memory_items_), dir_(std::move(o.dir_)), memory_(std::move(o.memory_)), size_(o.size_),
      fd_(o.fd_), map_(std::move(o.map_)), budget_(std::move(o.budget_)) {
  o.fd_ = -1, o.size_ = 0;
}

SpillArray& SpillArray::operator=(SpillArray&& o) noexcept {
  if (this != &o) {
    map_.reset();
    if (fd_ >= 0) ::close(fd_);
    memory_items_ = o.memory_items_, dir_ = std::move(o.dir_), memory_ = std::move(o.memory_), size_ = o.size_;
    fd_ = o.fd_, map_ = std::move(o.map_), budget_ = std::move(o.budget_);
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
  memory_.shrink_to_fit();
  map_ = std::make_unique<MappedFile>(fd_, dir_ / "(token stream scratch file)");
  budget_ = std::make_unique<ResidentBudget>(memory_items_ * sizeof(int32_t));
  budget_->watch(map_.get());
}

std::span<const int32_t> SpillArray::values() const {
  if (fd_ < 0) return memory_;
  if (!map_) return {};
  const auto b = map_->bytes();
  return {reinterpret_cast<const int32_t*>(b.data()), b.size() / sizeof(int32_t)};
}

void SpillArray::read(size_t items) const {
  if (budget_) budget_->read(items * sizeof(int32_t));
}

}  // namespace etude
