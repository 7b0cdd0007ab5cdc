// Atomic writes: several threads writing one path at once each finish, the file ends as exactly
// one writer's bytes, and no temporary file is left behind.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "base/file_io.hpp"

namespace etude {
namespace {
namespace fs = std::filesystem;

TEST(WriteFileAtomic, ThreadsWritingOnePathNeverMixTheirBytes) {
  const fs::path dir = fs::temp_directory_path() / ("etude-atomic-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "state.bin";
  constexpr int kThreads = 4, kWrites = 40;
  std::vector<std::string> contents;
  for (int t = 0; t < kThreads; ++t) contents.push_back(std::string(256 * 1024, char('a' + t)));
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        try {
          write_file_atomic(path, contents[size_t(t)]);
        } catch (const Error&) {
          ++failures[size_t(t)];  // a shared temporary would be renamed away under another writer
        }
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[size_t(t)], 0) << "thread " << t;
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const std::string got(bytes.begin(), bytes.end());
  EXPECT_NE(std::find(contents.begin(), contents.end(), got), contents.end()) << "the file mixes writers' bytes";
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path(), path) << "left behind: " << e.path();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace etude
