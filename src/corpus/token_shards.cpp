// Shard files: layout, writing, mapping and checking; see token_shards.hpp.
// A shard: "ETSHARDS", u32 version, u32 index, u64 build id, u64 pieces (n), u64 tokens (m), then
// u64 offsets[n + 1] (0 ... m), then i32 tokens[m]; little-endian, nothing after.
#include "corpus/token_shards.hpp"

#include <cstdio>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "corpus/binary_io.hpp"

namespace etude {
namespace fs = std::filesystem;
namespace {

constexpr char kShardMagic[9] = "ETSHARDS";
constexpr uint32_t kShardVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8 + 8;

std::vector<uint8_t> shard_bytes(uint32_t index, uint64_t build_id, std::span<const uint64_t> offsets,
                                 std::span<const int32_t> tokens) {
  ByteWriter w;
  w.bytes().reserve(kHeaderBytes + offsets.size_bytes() + tokens.size_bytes());
  for (int i = 0; i < 8; ++i) w.put<char>(kShardMagic[i]);
  w.put<uint32_t>(kShardVersion);
  w.put<uint32_t>(index);
  w.put<uint64_t>(build_id);
  w.put<uint64_t>(offsets.size() - 1);
  w.put<uint64_t>(tokens.size());
  for (uint64_t o : offsets) w.put<uint64_t>(o);
  const auto* p = reinterpret_cast<const uint8_t*>(tokens.data());
  w.bytes().insert(w.bytes().end(), p, p + tokens.size_bytes());
  return std::move(w.bytes());
}

std::string shard_prefix(const fs::path& cache, uint64_t build_id) {
  char id[24];
  std::snprintf(id, sizeof id, "%016llx-", static_cast<unsigned long long>(build_id));
  return cache.filename().string() + ".shard-" + id;
}

}  // namespace

fs::path shard_path(const fs::path& cache, uint64_t build_id, uint32_t index) {
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%04u", index);
  return cache.parent_path() / (shard_prefix(cache, build_id) + suffix);
}

void remove_stale_shards(const fs::path& cache, uint64_t build_id) {
  const std::string any = cache.filename().string() + ".shard-", ours = shard_prefix(cache, build_id);
  std::error_code ec;
  const fs::path dir = cache.parent_path().empty() ? fs::path(".") : cache.parent_path();
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(any) && !name.starts_with(ours)) fs::remove(entry.path(), ec);
  }
}

TokenStore::TokenStore() = default;

void TokenStore::release() const {
  for (const Shard& s : shards_)
    if (s.file) s.file->release();
}

void TokenStore::add_mapped(std::unique_ptr<MappedFile> file, uint32_t index, uint64_t build_id, int32_t vocab) {
  const std::span<const uint8_t> bytes = file->bytes();
  const std::string name = file->path().string();
  ByteReader r(bytes, name);
  for (int k = 0; k < 8; ++k)
    if (r.get<char>() != kShardMagic[k]) r.fail("not an Etude corpus shard");
  if (const auto v = r.get<uint32_t>(); v != kShardVersion) r.fail("shard version " + std::to_string(v));
  if (const auto i = r.get<uint32_t>(); i != index) r.fail("holds shard " + std::to_string(i) + ", not " + std::to_string(index));
  if (r.get<uint64_t>() != build_id) r.fail("belongs to another build of the cache");
  const uint64_t n = r.get<uint64_t>(), m = r.get<uint64_t>();
  if (n >= bytes.size() / 8 || m > bytes.size() / 4 || bytes.size() != kHeaderBytes + 8 * (n + 1) + 4 * m)
    r.fail("its size (" + std::to_string(bytes.size()) + " bytes) does not match its " + std::to_string(n) +
           " pieces and " + std::to_string(m) + " tokens (truncated?)");
  Shard s;
  s.offsets = {reinterpret_cast<const uint64_t*>(bytes.data() + kHeaderBytes), n + 1};
  s.tokens = {reinterpret_cast<const int32_t*>(bytes.data() + kHeaderBytes + 8 * (n + 1)), m};
  if (s.offsets[0] != 0 || s.offsets[n] != m) r.fail("its piece offsets do not span its tokens");
  for (uint64_t k = 0; k < n; ++k)
    if (s.offsets[k + 1] < s.offsets[k]) r.fail("piece " + std::to_string(k) + " ends before it starts");
  for (size_t k = 0; vocab > 0 && k < s.tokens.size(); ++k)
    if (s.tokens[k] < 0 || s.tokens[k] >= vocab)
      throw FormatError(name + ": byte " + std::to_string(kHeaderBytes + 8 * (n + 1) + 4 * k) + ": token " +
                        std::to_string(s.tokens[k]) + " is outside the vocabulary of " + std::to_string(vocab) +
                        " (the file is damaged or from another version; delete it and rebuild)");
  file->release();  // checked; read again on demand
  s.file = std::move(file);
  shards_.push_back(std::move(s));
}

std::shared_ptr<TokenStore> TokenStore::open(const fs::path& cache, uint64_t build_id, uint32_t shards, int32_t vocab) {
  std::shared_ptr<TokenStore> store(new TokenStore());
  for (uint32_t i = 0; i < shards; ++i)
    store->add_mapped(std::make_unique<MappedFile>(shard_path(cache, build_id, i)), i, build_id, vocab);
  return store;
}

std::span<const int32_t> TokenStore::tokens(TokenPlace place) const {
  const Shard& s = shards_.at(place.shard);
  if (size_t(place.slot) + 1 >= s.offsets.size())
    throw FormatError("corpus cache: piece slot " + std::to_string(place.slot) + " is not in shard " +
                      std::to_string(place.shard) + " (the cache is damaged; delete it and rebuild)");
  return s.tokens.subspan(s.offsets[place.slot], s.offsets[place.slot + 1] - s.offsets[place.slot]);
}

void TokenStore::write(const fs::path& cache, uint64_t build_id) const {
  for (uint32_t i = 0; i < shards_.size(); ++i) {
    const Shard& s = shards_[i];
    const fs::path path = shard_path(cache, build_id, i);
    std::error_code ec;
    if (s.file && fs::equivalent(s.file->path(), path, ec)) continue;
    write_file_atomic(path, shard_bytes(i, build_id, s.offsets, s.tokens));
  }
}

size_t TokenStore::pieces_in(uint32_t shard) const { return shards_.at(shard).offsets.size() - 1; }

ShardWriter::ShardWriter(fs::path cache, uint64_t build_id, size_t shard_tokens)
    : cache_(std::move(cache)), build_id_(build_id), shard_tokens_(std::max<size_t>(shard_tokens, 1)) {}

TokenPlace ShardWriter::add(std::span<const int32_t> tokens) {
  if (!tokens_.empty() && tokens_.size() + tokens.size() > shard_tokens_) close_shard();
  const TokenPlace place{next_shard_, uint32_t(offsets_.size() - 1)};
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  offsets_.push_back(tokens_.size());
  return place;
}

void ShardWriter::close_shard() {
  TokenStore::Shard s;
  bool written = false;
  if (!cache_.empty() && write_error_.empty()) {
    try {
      write_file_atomic(shard_path(cache_, build_id_, next_shard_),
                        shard_bytes(next_shard_, build_id_, offsets_, tokens_));
      written = true;
    } catch (const Error& e) {
      write_error_ = e.what();
    }
  }
  if (!written) {
    s.memory_offsets = std::move(offsets_);
    s.memory_tokens = std::move(tokens_);
    s.offsets = s.memory_offsets, s.tokens = s.memory_tokens;
  }
  done_.push_back(std::move(s));
  written_.push_back(written);
  offsets_ = {0};
  tokens_ = {};
  ++next_shard_;
}

std::shared_ptr<TokenStore> ShardWriter::finish() {
  if (offsets_.size() > 1 || next_shard_ == 0) close_shard();
  std::shared_ptr<TokenStore> store(new TokenStore());
  for (size_t i = 0; i < done_.size(); ++i) {
    if (!written_[i]) {
      store->shards_.push_back(std::move(done_[i]));
      continue;
    }
    // (its tokens were checked when made: only the layout is checked again)
    const uint32_t index = uint32_t(i);
    store->add_mapped(std::make_unique<MappedFile>(shard_path(cache_, build_id_, index)), index, build_id_, 0);
  }
  done_.clear();
  return store;
}

}  // namespace etude
