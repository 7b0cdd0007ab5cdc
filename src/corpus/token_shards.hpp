// The corpus's tokens in shards: each shard holds the token streams of consecutive pieces (a
// header, the pieces' token offsets, the tokens), is written atomically when it fills and read back
// through mmap, so a corpus far larger than memory costs address space, not resident memory.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/mapped_file.hpp"

namespace etude {

// Tokens per shard by default: 8M tokens, a 32 MiB file.
inline constexpr size_t kShardTokens = size_t{1} << 23;

// The file of shard `index` of build `build_id` of the cache at `cache`:
// "<cache>.shard-<build id, 16 hex digits>-0003". A build never overwrites another build's shards,
// so two processes building one cache at once (ranks on machines that do not share it) cannot
// mix their shards; the manifest names the build whose shards it uses.
std::filesystem::path shard_path(const std::filesystem::path& cache, uint64_t build_id, uint32_t index);

// Where one piece's tokens are: its shard and its slot (order) in that shard.
struct TokenPlace {
  uint32_t shard = 0, slot = 0;
};

// The shards of one corpus: mapped files, or memory for a corpus built without a cache. Pieces'
// token spans point into it, so it lives as long as the corpus (shared by its copies).
class TokenStore {
 public:
  // Maps the shard files of a cache and checks each: magic, version, index, build id, offsets,
  // size and every token below `vocab`. FormatError naming the shard file (one line) otherwise.
  static std::shared_ptr<TokenStore> open(const std::filesystem::path& cache, uint64_t build_id, uint32_t shards,
                                          int32_t vocab);
  std::span<const int32_t> tokens(TokenPlace place) const;
  size_t shard_count() const { return shards_.size(); }
  size_t pieces_in(uint32_t shard) const;
  // Releases the pages of every mapped shard read so far from the resident set (a reader of many
  // pieces calls it every few tens of MiB read, so the resident set stays bounded).
  void release() const;
  // Writes every shard that is not already the file shard_path(cache, build_id, i) (one built in memory, or
  // mapped from another cache), atomically, as shards of `build_id`. IoError on failure.
  void write(const std::filesystem::path& cache, uint64_t build_id) const;

 private:
  friend class ShardWriter;
  struct Shard {
    std::unique_ptr<MappedFile> file;       // a cache's shard
    std::vector<uint64_t> memory_offsets;   // or, without a cache, the offsets and tokens in memory
    std::vector<int32_t> memory_tokens;
    std::span<const uint64_t> offsets;      // pieces + 1 token offsets
    std::span<const int32_t> tokens;
  };
  TokenStore();
  // Checks a mapped shard (tokens against vocab when it is > 0) and adds it.
  void add_mapped(std::unique_ptr<MappedFile> file, uint32_t index, uint64_t build_id, int32_t vocab);
  std::vector<Shard> shards_;
};

// Collects pieces' tokens into shards of about `shard_tokens` tokens. With a cache path each full
// shard is written (atomically) at once and its memory freed; a shard that cannot be written
// (read-only place, full disk) and the ones after it stay in memory and write_error() says why.
class ShardWriter {
 public:
  ShardWriter(std::filesystem::path cache, uint64_t build_id, size_t shard_tokens = kShardTokens);
  TokenPlace add(std::span<const int32_t> tokens);
  // Writes the last shard; the store maps the written shards and keeps the rest.
  std::shared_ptr<TokenStore> finish();
  const std::string& write_error() const { return write_error_; }
  bool all_written() const { return !cache_.empty() && write_error_.empty(); }
  uint32_t shards() const { return next_shard_; }

 private:
  void close_shard();
  std::filesystem::path cache_;  // empty: memory only
  uint64_t build_id_;
  size_t shard_tokens_;
  uint32_t next_shard_ = 0;
  std::vector<uint64_t> offsets_{0};
  std::vector<int32_t> tokens_;
  std::vector<TokenStore::Shard> done_;  // in order; mapped later when written
  std::vector<bool> written_;
  std::string write_error_;
};

// Removes the shard files of the cache at `cache` that belong to builds other than `build_id`.
void remove_stale_shards(const std::filesystem::path& cache, uint64_t build_id);

}  // namespace etude
