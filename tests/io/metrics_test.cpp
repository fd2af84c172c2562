// Contract of io/metrics.h: one flushed JSON line per write, a resumed run never logs a step
// twice, summary.json written whole.
#include "io/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace molt::io {
namespace {

namespace fs = std::filesystem;

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_ = (fs::temp_directory_path() /
            ("molt_metrics_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(run_);
  }
  void TearDown() override { fs::remove_all(run_); }

  // The step of every line of metrics.jsonl, in order.
  std::vector<int64_t> logged_steps() const {
    std::ifstream in(run_ + "/metrics.jsonl");
    std::vector<int64_t> steps;
    std::string line;
    while (std::getline(in, line)) steps.push_back(nlohmann::json::parse(line).at("step"));
    return steps;
  }
  void log_steps(MetricsWriter& writer, int64_t first, int64_t last) {
    for (int64_t s = first; s <= last; ++s) writer.write({{"step", s}, {"loss", 10.0 / s}});
  }

  std::string run_;
};

TEST_F(MetricsTest, EachWriteIsOneLineOnDiskAtOnce) {
  MetricsWriter writer(run_);
  log_steps(writer, 1, 2);
  EXPECT_EQ(logged_steps(), (std::vector<int64_t>{1, 2}));  // readable while the writer lives
  std::ifstream in(writer.path());
  std::string first;
  std::getline(in, first);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(first).at("loss").get<double>(), 10.0);
}

TEST_F(MetricsTest, FreshWriterStartsAnEmptyLog) {
  {
    MetricsWriter writer(run_);
    log_steps(writer, 1, 3);
  }
  MetricsWriter writer(run_);
  log_steps(writer, 1, 1);
  EXPECT_EQ(logged_steps(), std::vector<int64_t>{1});
}

TEST_F(MetricsTest, ResumeCutsStepsAfterTheResumeStep) {
  {
    MetricsWriter writer(run_);
    log_steps(writer, 1, 5);
  }
  MetricsWriter resumed(run_, 3);
  log_steps(resumed, 4, 6);
  EXPECT_EQ(logged_steps(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(MetricsTest, ResumeDropsATornLastLine) {
  {
    MetricsWriter writer(run_);
    log_steps(writer, 1, 2);
  }
  std::ofstream(run_ + "/metrics.jsonl", std::ios::app) << "{\"step\": 3, \"lo";
  MetricsWriter resumed(run_, 10);
  log_steps(resumed, 3, 3);
  EXPECT_EQ(logged_steps(), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(MetricsTest, SummaryIsWrittenWholeWithNoTmpLeft) {
  fs::create_directories(run_);
  nlohmann::json summary = {{"N", 123456}, {"final_loss", 3.25}};
  write_summary(run_, summary);
  std::ifstream in(run_ + "/summary.json");
  EXPECT_EQ(nlohmann::json::parse(in), summary);
  EXPECT_FALSE(fs::exists(run_ + "/summary.json.tmp"));
}

}  // namespace
}  // namespace molt::io
