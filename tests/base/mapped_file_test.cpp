// Mapped files and the spill array: a mapping reads the file and survives release(); a spill array
// past its memory limit moves to an unlinked scratch file and reads back what was appended.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/mapped_file.hpp"

namespace etude {
namespace {
namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("etude-mapped-test-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

TEST(MappedFile, ReadsTheFileAndSurvivesRelease) {
  const fs::path dir = temp_dir("map");
  write_file_atomic(dir / "a.bin", std::string_view("hello, mapped world"));
  write_file_atomic(dir / "empty.bin", std::string_view(""));
  {
    const MappedFile m(dir / "a.bin");
    EXPECT_EQ(std::string(m.bytes().begin(), m.bytes().end()), "hello, mapped world");
    m.release();
    EXPECT_EQ(m.bytes()[7], 'm');
    EXPECT_TRUE(MappedFile(dir / "empty.bin").bytes().empty());
  }
  try {
    MappedFile missing(dir / "missing.bin");
    ADD_FAILURE() << "a missing file mapped";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.bin"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

std::vector<int32_t> all(const SpillArray& a) {
  std::vector<int32_t> v(a.size());
  a.read(0, v.size(), v.data());
  return v;
}

TEST(SpillArray, SpillsPastItsLimitAndReadsBackTheSame) {
  const fs::path dir = temp_dir("spill");
  std::vector<int32_t> want(1000);
  std::iota(want.begin(), want.end(), -300);
  for (size_t limit : {size_t(1) << 20, size_t(7), size_t(1)}) {
    SpillArray a(limit, dir);
    for (size_t at = 0; at < want.size(); at += 13)
      a.append(std::span(want).subspan(at, std::min<size_t>(13, want.size() - at)));
    a.finish();
    EXPECT_EQ(a.size(), want.size());
    EXPECT_EQ(a.spilled(), limit < want.size());
    ASSERT_EQ(all(a), want) << limit;
    for (size_t start = 0; start < want.size(); start += 97) {  // windows anywhere
      std::vector<int32_t> got(std::min<size_t>(41, want.size() - start));
      a.read(start, got.size(), got.data());
      EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin() + ptrdiff_t(start))) << start;
    }
    std::vector<int32_t> past(2);
    EXPECT_THROW(a.read(want.size() - 1, 2, past.data()), InvalidArgument);
    SpillArray moved = std::move(a);
    EXPECT_EQ(all(moved), want);
  }
  EXPECT_TRUE(fs::is_empty(dir)) << "the scratch files are unlinked";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace etude
