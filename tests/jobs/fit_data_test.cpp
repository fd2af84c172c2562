// Contract: fit inputs are read from run folders, sweep folders and CSVs; unfinished runs
// are skipped and listed; a non-finite loss names the run; a bad CSV line names its line.
#include "jobs/fit_data.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kernels/error.h"

namespace fs = std::filesystem;

namespace molt::fit {
namespace {

class FitData : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("molt-fit-data-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path write(const std::string& relative, const std::string& text) {
    const fs::path path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path;
  }
  void write_run(const std::string& name, const std::string& val_loss) {
    write(name + "/summary.json",
          R"({"family":"decoder","N":1000,"N_nonembed":600,"D":5000,"C":3.6e7,)"
          R"("final_loss":4.5,"val_loss":)" +
              val_loss + "}");
    write(name + "/metrics.jsonl",
          "{\"step\":1,\"tokens\":1000,\"flops\":7.2e6,\"loss\":6.0,\"val_loss\":null}\n"
          "{\"step\":5,\"tokens\":5000,\"flops\":3.6e7,\"loss\":4.5,\"val_loss\":" +
              val_loss + "}\n");
  }
  fs::path root_;
};

TEST_F(FitData, ReadsASweepFolderAndSkipsUnfinishedRuns) {
  write_run("a", "4.6");
  write_run("b", "4.4");
  write("c/metrics.jsonl", "{\"step\":1}\n");  // unfinished: no summary.json
  write("fit/report.md", "old output");        // not a run at all: ignored
  const RunTable table = load_run_folders({root_.string()}, "val_loss");
  ASSERT_EQ(table.runs.size(), 2u);
  EXPECT_EQ(table.runs[0].name, "a");
  EXPECT_DOUBLE_EQ(table.runs[0].loss, 4.6);
  EXPECT_DOUBLE_EQ(table.runs[0].params_nonembed, 600);
  EXPECT_DOUBLE_EQ(table.runs[0].params(ParameterCount::total), 1000);
  ASSERT_EQ(table.runs[0].curve.size(), 1u);  // the step with val_loss null is not a point
  EXPECT_DOUBLE_EQ(table.runs[0].curve[0].flops, 3.6e7);
  ASSERT_EQ(table.skipped.size(), 1u);
  EXPECT_NE(table.skipped[0].path.find("c"), std::string::npos);
  EXPECT_NE(table.skipped[0].reason.find("no summary.json"), std::string::npos);
  const RunTable train = load_run_folders({(root_ / "a").string()}, "final_loss");
  EXPECT_DOUBLE_EQ(train.runs[0].loss, 4.5);
  EXPECT_EQ(train.runs[0].curve.size(), 2u);
}

TEST_F(FitData, AFolderWrittenByMoltSweepIsReadFromItsRunsNotItsTrunks) {
  write("plan.txt", "kind name\n");
  write_run("runs/a", "4.6");
  write_run("runs/b", "4.4");
  write_run("trunks/t", "5.0");
  const RunTable table = load_run_folders({root_.string()}, "val_loss");
  ASSERT_EQ(table.runs.size(), 2u);
  EXPECT_EQ(table.runs[0].name, "a");
  EXPECT_EQ(table.runs[1].name, "b");
}

TEST_F(FitData, ANumericBudgetTagIsNamedCompactly) {
  write("r/summary.json",
        R"({"family":"decoder","N":1000,"N_nonembed":600,"D":5000,"C":2e12,"budget":2e12,)"
        R"("final_loss":4.5,"val_loss":4.6})");
  write("r/metrics.jsonl", "{\"step\":1,\"flops\":2e12,\"loss\":4.5,\"val_loss\":4.6}\n");
  const RunTable table = load_run_folders({(root_ / "r").string()}, "val_loss");
  ASSERT_EQ(table.runs.size(), 1u);
  ASSERT_TRUE(table.runs[0].budget.has_value());
  EXPECT_EQ(*table.runs[0].budget, "2e+12");
}

TEST_F(FitData, NullLossNamesTheRun) {
  write_run("good", "4.6");
  write_run("diverged", "null");
  try {
    load_run_folders({root_.string()}, "val_loss");
    FAIL() << "null loss accepted";
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("diverged"), std::string::npos) << message;
    EXPECT_NE(message.find("not a finite loss"), std::string::npos) << message;
  }
}

TEST_F(FitData, MissingFolderIsAUserError) {
  EXPECT_THROW(load_run_folders({(root_ / "absent").string()}, "val_loss"), UserError);
}

TEST_F(FitData, CsvWithOptionalColumnsInAnyOrder) {
  const fs::path csv = write("data.csv",
                             "family,loss,D,N,C\nencdec,3.2,1e9,1e6,6e15\n"
                             "decoder,3.0,2e9,1e6,1.2e16\n");
  const RunTable table = load_csv(csv.string());
  ASSERT_EQ(table.runs.size(), 2u);
  EXPECT_EQ(table.runs[0].family, "encdec");
  EXPECT_DOUBLE_EQ(table.runs[1].tokens, 2e9);
  EXPECT_DOUBLE_EQ(table.runs[1].flops, 1.2e16);
  EXPECT_EQ(family_names(table), (std::vector<std::string>{"decoder", "encdec"}));
}

TEST_F(FitData, BadCsvLineIsNamedByNumber) {
  const fs::path csv = write("bad.csv", "N,D,loss\n1e6,1e9,3.0\n1e7,oops,2.9\n");
  try {
    load_csv(csv.string());
    FAIL() << "bad cell accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3: column D is not a number"), std::string::npos)
        << e.what();
  }
  const fs::path nan = write("nan.csv", "N,D,loss\n1e6,1e9,nan\n");
  EXPECT_THROW(load_csv(nan.string()), UserError);
  const fs::path header = write("header.csv", "N,tokens,loss\n1e6,1e9,3\n");
  try {
    load_csv(header.string());
    FAIL() << "missing column accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("header lacks column 'D'"), std::string::npos);
  }
}

}  // namespace
}  // namespace molt::fit
