// Data-parallel training without MPI: ranks as threads over a shared-memory Collective. Ranks that
// split a batch update as one process on the whole batch (dropout and uneven shares included),
// stay identical to each other (batchnorm too), name a rank that drifts; batch shares; the single
// process. tests/nn/mpi/ runs the same check over Open MPI (mpirun -np 2).
#include <gtest/gtest.h>

#include <barrier>
#include <functional>
#include <thread>

#include "nn/collective.hpp"
#include "nn/trainer.hpp"
#include "data_parallel_util.hpp"
#include "nn_test_util.hpp"

namespace etude::nn {
namespace {
using namespace testing;

// Ranks as threads: each call parks its rank's data, meets the others at a barrier, and every rank
// sums the parked data in rank order (so all receive the same bits), then meets them again.
class ThreadWorld {
 public:
  explicit ThreadWorld(int size) : size_(size), meet_(size), parked_(size_t(size)), values_(size_t(size)) {}
  int size() const { return size_; }
  template <class T>
  void all_reduce(int rank, std::span<T> data) {
    parked_[size_t(rank)] = data.data();
    meet_.arrive_and_wait();
    std::vector<T> sum(data.size(), T(0));
    for (int r = 0; r < size_; ++r) {
      const T* p = static_cast<const T*>(parked_[size_t(r)]);
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += p[i];
    }
    meet_.arrive_and_wait();
    std::copy(sum.begin(), sum.end(), data.begin());
  }
  void broadcast(int rank, std::span<std::byte> data, int root) {
    parked_[size_t(rank)] = data.data();
    meet_.arrive_and_wait();
    if (rank != root) std::copy_n(static_cast<const std::byte*>(parked_[size_t(root)]), data.size(), data.begin());
    meet_.arrive_and_wait();
  }
  std::vector<uint64_t> all_gather(int rank, uint64_t value) {
    values_[size_t(rank)] = value;
    meet_.arrive_and_wait();
    std::vector<uint64_t> all = values_;
    meet_.arrive_and_wait();
    return all;
  }
  void barrier() { meet_.arrive_and_wait(); }

 private:
  int size_;
  std::barrier<> meet_;
  std::vector<const void*> parked_;
  std::vector<uint64_t> values_;
};

class ThreadRank final : public Collective {
 public:
  ThreadRank(ThreadWorld& world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return world_.size(); }
  std::string describe() const override { return "threads"; }
  void all_reduce_sum(std::span<float> d) override { world_.all_reduce(rank_, d); }
  void all_reduce_sum(std::span<double> d) override { world_.all_reduce(rank_, d); }
  void broadcast(std::span<std::byte> d, int root) override { world_.broadcast(rank_, d, root); }
  std::vector<uint64_t> all_gather(uint64_t v) override { return world_.all_gather(rank_, v); }
  void barrier() override { world_.barrier(); }

 private:
  ThreadWorld& world_;
  int rank_;
};

// Runs body(rank collective) on `size` threads; rethrows the first rank's failure.
void run_ranks(int size, const std::function<void(Collective&)>& body) {
  ThreadWorld world(size);
  std::vector<std::exception_ptr> failed(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      set_compute_threads(1);
      ThreadRank rank(world, r);
      try {
        body(rank);
      } catch (...) {
        failed[size_t(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& f : failed)
    if (f) std::rethrow_exception(f);
}

ModelSpec dp_spec(std::vector<LayerSpec> layers) {
  ModelSpec s = small_spec(InputKind::embedding, Mode::seq2seq, std::move(layers), 12);
  s.clip = 0.5f;
  return s;
}

using TrainedRun = ShardedRun;

TrainedRun train(const ModelSpec& spec, int global, int T, int steps, Collective* c) {
  return train_sharded(spec, global, T, steps, c, {.model = 4, .dropout = 77, .tokens = 10, .targets = 20});
}

void expect_ranks_equal_one_process(const ModelSpec& spec, int ranks, int global) {
  const int T = 5, steps = 6;
  set_compute_threads(1);
  const TrainedRun one = train(spec, global, T, steps, nullptr);
  std::vector<TrainedRun> by_rank(static_cast<size_t>(ranks));
  run_ranks(ranks, [&](Collective& c) { by_rank[size_t(c.rank())] = train(spec, global, T, steps, &c); });
  for (int r = 0; r < ranks; ++r) {
    const TrainedRun& got = by_rank[size_t(r)];
    EXPECT_EQ(got.params, by_rank[0].params) << "rank " << r << " drifted from rank 0";
    EXPECT_LT((rel_error<float, float>(got.params, one.params)), 1e-5) << "rank " << r;
    for (int i = 0; i < steps; ++i) EXPECT_NEAR(got.losses[size_t(i)], one.losses[size_t(i)], 1e-5) << "step " << i;
  }
}

TEST(DataParallel, TwoRanksUpdateAsOneProcessOnTheWholeBatch) {
  expect_ranks_equal_one_process(dp_spec({lstm(16), dropout(0.3f), dense(kVocabUnits)}), 2, 6);
}

TEST(DataParallel, UnevenSharesWeighRowsNotRanks) {
  expect_ranks_equal_one_process(dp_spec({lstm(16), dropout(0.3f), dense(kVocabUnits)}), 3, 7);
}

// Batchnorm uses each rank's batch statistics (not the whole batch's), so the run differs from
// one process; but its running statistics are averaged with the gradients, so the ranks agree.
TEST(DataParallel, BatchnormRanksStayIdentical) {
  const ModelSpec spec = dp_spec({lstm(16), batchnorm(), dense(kVocabUnits)});
  std::vector<std::vector<float>> buffers(2);
  run_ranks(2, [&](Collective& c) {
    Model m(spec);
    m.init_random(4);
    const BatchShare share = batch_share(6, c.rank(), 2);
    Trainer trainer(m, share.rows, 5, {.parallel = {.collective = &c, .offset = share.offset, .global_batch = 6, .check_every = 1}});
    for (int i = 0; i < 4; ++i) {
      const auto tok = random_tokens(30, 12, 10 + i), tgt = random_tokens(30, 12, 20 + i);
      trainer.step(rows_of(tok, share, 5).data(), rows_of(tgt, share, 5).data());
    }
    buffers[size_t(c.rank())].assign(m.buffers().begin(), m.buffers().end());
  });
  EXPECT_EQ(buffers[0], buffers[1]);
  EXPECT_FALSE(buffers[0].empty());
}

TEST(DataParallel, ADriftingRankIsNamed) {
  const ModelSpec spec = dp_spec({lstm(8), dense(kVocabUnits)});
  std::vector<std::string> messages(3);
  run_ranks(3, [&](Collective& c) {
    Model m(spec);
    m.init_random(4);
    const BatchShare share = batch_share(6, c.rank(), 3);
    Trainer trainer(m, share.rows, 5, {.parallel = {.collective = &c, .offset = share.offset, .global_batch = 6}});
    if (c.rank() == 2) m.params()[0] += 1e-3f;
    try {
      trainer.check_replicas("after epoch 1, the weights");
    } catch (const ParallelError& e) {
      messages[size_t(c.rank())] = e.what();
    }
  });
  for (const std::string& m : messages) {
    EXPECT_NE(m.find("after epoch 1, the weights differ between ranks: rank 2 disagrees with rank 0"), std::string::npos) << m;
  }
  // Ranks that start from different weights stop at once.
  std::vector<std::string> start(2);
  run_ranks(2, [&](Collective& c) {
    Model m(spec);
    m.init_random(4 + uint64_t(c.rank()));
    try {
      Trainer trainer(m, 3, 5, {.parallel = {.collective = &c, .offset = 3 * c.rank(), .global_batch = 6}});
    } catch (const ParallelError& e) {
      start[size_t(c.rank())] = e.what();
    }
  });
  for (const std::string& m : start) EXPECT_NE(m.find("initial weights"), std::string::npos) << m;
}

TEST(DataParallel, BatchSharesCoverTheBatchInOrder) {
  int next = 0;
  for (int r = 0; r < 3; ++r) {
    const BatchShare s = batch_share(64, r, 3);
    EXPECT_EQ(s.offset, next);
    EXPECT_EQ(s.rows, r == 0 ? 22 : 21);
    next += s.rows;
  }
  EXPECT_EQ(next, 64);
  EXPECT_THROW(batch_share(2, 0, 3), InvalidArgument);
  EXPECT_THROW(batch_share(8, 3, 3), InvalidArgument);
}

// A world of one is the single process: the same bits as a trainer without a collective.
TEST(DataParallel, AWorldOfOneIsTheSingleProcess) {
  set_compute_threads(1);
  const ModelSpec spec = dp_spec({lstm(16), dropout(0.3f), dense(kVocabUnits)});
  auto one = single_process();
  EXPECT_EQ(one->size(), 1);
  const TrainedRun a = train(spec, 4, 5, 3, nullptr), b = train(spec, 4, 5, 3, one.get());
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.losses, b.losses);
}

TEST(DataParallel, ChecksumsSeeEveryBit) {
  std::vector<float> x(1001, 0.5f);
  const uint64_t h = block_checksum(x);
  EXPECT_EQ(h, block_checksum(x));
  for (size_t i : {size_t(0), size_t(7), size_t(1000)}) {
    std::vector<float> y = x;
    y[i] = std::nextafter(y[i], 1.0f);
    EXPECT_NE(block_checksum(y), h) << i;
  }
  EXPECT_NE(block_checksum(x, 1), h);
}

// Without a launcher's environment, make_collective() is the single process (etude without mpirun
// behaves as before).
TEST(DataParallel, WithoutALauncherItIsOneProcess) {
  if (launched_as_rank()) GTEST_SKIP() << "this test process was itself started by a launcher";
  EXPECT_EQ(make_collective()->describe(), "single process");
}

}  // namespace
}  // namespace etude::nn
