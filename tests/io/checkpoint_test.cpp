// Contract of io/checkpoint.h: bit-exact round trips, sharded optimizer state reassembled,
// crash safety of `latest` under injected failures, retention, and one clear message for a
// checkpoint that is corrupt or does not fit the model.
#include "io/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "kernels/error.h"

namespace molt::io {
namespace {

namespace fs = std::filesystem;

// Wraps the real filesystem and fails the first `op` whose path contains `path_part`.
class FailingFileOps : public FileOps {
 public:
  FailingFileOps(std::string op, std::string path_part)
      : op_(std::move(op)), path_part_(std::move(path_part)) {}
  void create_dirs(const std::string& p) override {
    check("create_dirs", p);
    real().create_dirs(p);
  }
  void write_file(const std::string& p, const std::string& bytes) override {
    check("write_file", p);
    real().write_file(p, bytes);
  }
  void sync_file(const std::string& p) override {
    check("sync_file", p);
    real().sync_file(p);
  }
  void sync_dir(const std::string& p) override {
    check("sync_dir", p);
    real().sync_dir(p);
  }
  void rename(const std::string& from, const std::string& to) override {
    check("rename", from);
    real().rename(from, to);
  }
  void remove_all(const std::string& p) noexcept override { real().remove_all(p); }
  bool fired() const { return fired_; }

 private:
  static FileOps& real() { return posix_file_ops(); }
  void check(const std::string& op, const std::string& path) {
    if (!fired_ && op == op_ && path.find(path_part_) != std::string::npos) {
      fired_ = true;
      throw UserError("injected failure: " + op + " " + path);
    }
  }
  std::string op_, path_part_;
  bool fired_ = false;
};

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_ = (fs::temp_directory_path() /
            ("molt_checkpoint_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(run_);
    fs::create_directories(run_);
    table_ = {{"transformer.wte.weight", {4, 3}, 0},
              {"transformer.h.0.attn.c_attn.weight", {3, 2}, 12},
              {"transformer.h.0.attn.c_attn.bias", {5}, 18}};
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto* buffer : {&params_, &m_, &v_}) {
      buffer->resize(table_count(table_));
      for (float& x : *buffer) x = normal(rng);
    }
  }
  void TearDown() override { fs::remove_all(run_); }

  CheckpointContents contents(std::vector<OptimizerShard> shards = {}) const {
    if (shards.empty()) shards = {{0, params_.size(), m_.data(), v_.data()}};
    return {&table_, params_.data(), shards, "step = 1\n"};
  }
  std::string write(int64_t step, RetentionPolicy retention = {10, 0}) {
    return write_checkpoint(run_, step, contents(), retention);
  }
  std::string checkpoints() const { return run_ + "/checkpoints"; }
  std::string error_reading(const std::string& folder, const TensorTable& table) const {
    try {
      read_checkpoint(folder, table);
    } catch (const UserError& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected a UserError";
    return "";
  }

  std::string run_;
  TensorTable table_;
  std::vector<float> params_, m_, v_;
};

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST_F(CheckpointTest, RunWithoutCheckpointsHasNoLatest) {
  EXPECT_FALSE(latest_checkpoint(run_).has_value());
}

TEST_F(CheckpointTest, RoundTripIsBitExactAndLatestNamesIt) {
  std::string folder = write(1234);
  EXPECT_EQ(folder, checkpoints() + "/step_00001234");
  EXPECT_EQ(latest_checkpoint(run_), folder);
  LoadedCheckpoint loaded = read_checkpoint(folder, table_);
  EXPECT_TRUE(bit_equal(loaded.params, params_));
  EXPECT_TRUE(bit_equal(loaded.m, m_));
  EXPECT_TRUE(bit_equal(loaded.v, v_));
  EXPECT_EQ(loaded.state_toml, "step = 1\n");
}

TEST_F(CheckpointTest, ShardedOptimizerIsReassembledFullSize) {
  std::vector<OptimizerShard> shards = {{0, 10, m_.data(), v_.data()},
                                        {10, 13, m_.data() + 10, v_.data() + 10}};
  std::string folder = write_checkpoint(run_, 5, contents(shards), {});
  LoadedCheckpoint loaded = read_checkpoint(folder, table_);
  EXPECT_TRUE(bit_equal(loaded.m, m_));  // a world of 3 re-slices these full buffers
  EXPECT_TRUE(bit_equal(loaded.v, v_));
}

TEST_F(CheckpointTest, FailureMidWriteKeepsLatestAndLeavesNoTmp) {
  std::string previous = write(10);
  FailingFileOps ops("sync_file", "optim.h5");
  EXPECT_THROW(write_checkpoint(run_, 20, contents(), {10, 0}, ops), UserError);
  EXPECT_TRUE(ops.fired());
  EXPECT_EQ(latest_checkpoint(run_), previous);
  EXPECT_FALSE(fs::exists(checkpoints() + "/step_00000020.tmp"));
  EXPECT_FALSE(fs::exists(checkpoints() + "/step_00000020"));
  EXPECT_TRUE(bit_equal(read_checkpoint(previous, table_).params, params_));
}

TEST_F(CheckpointTest, FailureWhileMovingLatestKeepsThePreviousOne) {
  std::string previous = write(10);
  FailingFileOps ops("rename", "latest.tmp");
  EXPECT_THROW(write_checkpoint(run_, 20, contents(), {10, 0}, ops), UserError);
  EXPECT_TRUE(ops.fired());
  EXPECT_EQ(latest_checkpoint(run_), previous);
  EXPECT_FALSE(fs::exists(checkpoints() + "/latest.tmp"));
  EXPECT_EQ(checkpoint_steps(run_), std::vector<int64_t>{10});
}

TEST_F(CheckpointTest, RetentionKeepsTheLastNAndEveryMthStep) {
  for (int64_t step = 10; step <= 70; step += 10) write(step, {2, 30});
  EXPECT_EQ(checkpoint_steps(run_), (std::vector<int64_t>{30, 60, 70}));
  EXPECT_EQ(latest_checkpoint(run_), checkpoints() + "/step_00000070");
}

TEST_F(CheckpointTest, TmpFolderLeftByACrashIsCleared) {
  fs::create_directories(checkpoints() + "/step_00000005.tmp");
  write(10);
  EXPECT_FALSE(fs::exists(checkpoints() + "/step_00000005.tmp"));
}

TEST_F(CheckpointTest, RewritingAStepReplacesIt) {
  write(10);
  params_[0] += 1.0f;
  std::string folder = write(10);
  EXPECT_TRUE(bit_equal(read_checkpoint(folder, table_).params, params_));
  EXPECT_FALSE(fs::exists(folder + ".old"));
}

TEST_F(CheckpointTest, ModelThatDoesNotFitGetsOneMessageListingTheMismatches) {
  std::string folder = write(10);
  TensorTable other = {{"transformer.wte.weight", {8, 3}, 0},
                       {"transformer.h.0.attn.c_attn.weight", {3, 2}, 24},
                       {"lm_head.bias", {5}, 30},
                       {"extra.a", {1}, 35},
                       {"extra.b", {1}, 36},
                       {"extra.c", {1}, 37}};
  std::string message = error_reading(folder, other);
  EXPECT_NE(message.find("checkpoint " + folder +
                         "/model.h5 does not fit the model: "
                         "transformer.wte.weight has shape [4, 3], the model expects [8, 3]; "
                         "missing lm_head.bias"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("; 2 more"), std::string::npos) << message;  // 6 problems, 4 shown
}

TEST_F(CheckpointTest, TruncatedModelFileIsNamed) {
  std::string folder = write(10);
  std::string model = folder + "/model.h5";
  ASSERT_EQ(::truncate(model.c_str(), static_cast<off_t>(fs::file_size(model) / 2)), 0);
  std::string message = error_reading(folder, table_);
  EXPECT_NE(message.find(model), std::string::npos) << message;
}

TEST_F(CheckpointTest, NonHdf5FileIsNamed) {
  std::string folder = write(10);
  std::ofstream(folder + "/optim.h5") << "not hdf5 at all\n";
  std::string message = error_reading(folder, table_);
  EXPECT_NE(message.find(folder + "/optim.h5 is not an HDF5 file"), std::string::npos) << message;
}

TEST_F(CheckpointTest, MissingFolderAndCorruptLatestAreUserErrors) {
  EXPECT_NE(error_reading(run_ + "/nowhere", table_).find(run_ + "/nowhere"), std::string::npos);
  write(10);
  std::ofstream(checkpoints() + "/latest") << "garbage\n";
  EXPECT_THROW(latest_checkpoint(run_), UserError);
}

}  // namespace
}  // namespace molt::io
