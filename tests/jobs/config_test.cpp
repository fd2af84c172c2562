// Contract of jobs/config.h: strict parsing, errors that name file, key and line, `--set`
// overrides checked like the file, and a resolved TOML that reads back to the same config.
#include "jobs/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "jobs/config_schema.h"
#include "kernels/error.h"

namespace molt {
namespace {

namespace fs = std::filesystem;

const char* kMinimalJob = R"([run]
dir = "runs/x"

[data]
dataset = "data/d"
seq_len = 16

[batch]
global_batch = 8
micro_batch = 2

[train]
steps = 10
)";

class JobConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("molt_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_job(const std::string& text) {
    std::string path = (dir_ / "job.toml").string();
    std::ofstream(path) << text;
    return path;
  }

  // The UserError message load_job gives for this file text.
  std::string error_for(const std::string& text, const std::vector<std::string>& sets = {}) {
    try {
      load_job(write_job(text), sets);
    } catch (const UserError& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected a UserError";
    return "";
  }

  fs::path dir_;
};

std::string source_dir() {
  if (const char* env = std::getenv("MOLT_SOURCE_DIR")) return env;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().string();
}

TEST_F(JobConfigTest, UnsetKeysTakeSchemaDefaults) {
  JobConfig c = load_job(write_job(kMinimalJob));
  EXPECT_EQ(c.run.dir, "runs/x");
  EXPECT_EQ(c.run.seed, 1234);
  EXPECT_EQ(c.run.device, "cpu");
  EXPECT_EQ(c.model.family, "decoder");
  EXPECT_EQ(c.data.objective, "causal");
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-4);
  EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.95);
  EXPECT_EQ(c.schedule.kind, "cosine");
  EXPECT_DOUBLE_EQ(c.schedule.decay_fraction, 0.2);
  EXPECT_EQ(c.eval.batches, 4);
  EXPECT_EQ(c.checkpoint.keep_last, 2);
  EXPECT_FALSE(c.checkpoint.async);
  EXPECT_EQ(c.log.every, 1);
}

TEST_F(JobConfigTest, TinyGptExampleLoads) {
  JobConfig c = load_job(source_dir() + "/jobs/examples/tiny-gpt.toml");
  EXPECT_EQ(c.model.family, "decoder");
  EXPECT_EQ(c.model.d_model, 64);
  EXPECT_EQ(c.model.n_layer, 2);
  EXPECT_EQ(c.model.n_head, 4);
  EXPECT_EQ(c.model.n_ctx, 64);
  EXPECT_EQ(c.data.seq_len, 64);
  EXPECT_EQ(c.data.dataset, "data/brown");
  EXPECT_EQ(c.batch.global_batch, 8);
  EXPECT_EQ(c.batch.micro_batch, 4);
  EXPECT_EQ(c.train.steps, 50);
}

TEST_F(JobConfigTest, MalformedTomlNamesFileLineAndColumn) {
  std::string message = error_for("[run]\ndir = \"x\"\nseed = = 3\n");
  EXPECT_EQ(message.rfind((dir_ / "job.toml").string() + ":3:", 0), 0u) << message;
}

TEST_F(JobConfigTest, UnknownKeyNamesItsLineAndTheValidKeys) {
  std::string message = error_for(std::string(kMinimalJob) + "[optimizer]\nlrr = 0.1\n");
  EXPECT_NE(message.find("job.toml:15:1: unknown key optimizer.lrr"), std::string::npos) << message;
  EXPECT_NE(message.find("lr, beta1"), std::string::npos) << message;
}

TEST_F(JobConfigTest, UnknownTableIsRejected) {
  std::string message = error_for(std::string(kMinimalJob) + "[optimiser]\nlr = 0.1\n");
  EXPECT_NE(message.find("job.toml:14:2:"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown table [optimiser]"), std::string::npos) << message;
}

TEST_F(JobConfigTest, WrongTypeNamesKeyPositionAndBothTypes) {
  std::string message = error_for(std::string(kMinimalJob) + "[optimizer]\nlr = \"fast\"\n");
  EXPECT_NE(message.find("job.toml:15:6: optimizer.lr must be a float, got a string"),
            std::string::npos)
      << message;
}

TEST_F(JobConfigTest, IntegerIsAcceptedForFloatButNotTheReverse) {
  JobConfig c = load_job(write_job(std::string(kMinimalJob) + "[optimizer]\ngrad_clip = 2\n"));
  EXPECT_DOUBLE_EQ(c.optimizer.grad_clip, 2.0);
  std::string message = error_for(std::string(kMinimalJob) + "[eval]\nevery = 2.5\n");
  EXPECT_NE(message.find("eval.every must be an integer, got a float"), std::string::npos)
      << message;
}

TEST_F(JobConfigTest, OutOfRangeValueStatesTheRange) {
  std::string message = error_for(std::string(kMinimalJob) + "[optimizer]\nbeta1 = 1.0\n");
  EXPECT_NE(message.find("optimizer.beta1 must be in [0, 1), got 1.0"), std::string::npos)
      << message;
}

TEST_F(JobConfigTest, ValueOutsideTheAllowedSetListsTheChoices) {
  std::string text = kMinimalJob;
  text.replace(text.find("dir ="), 0, "device = \"gpu\"\n");
  std::string message = error_for(text);
  EXPECT_NE(message.find("job.toml:2:10: run.device must be one of \"cpu\", \"cuda\", got \"gpu\""),
            std::string::npos)
      << message;
}

TEST_F(JobConfigTest, MissingRequiredKeysAreAllListed) {
  std::string message = error_for("[run]\ndir = \"x\"\n[batch]\nglobal_batch = 2\n");
  for (const char* key : {"data.dataset", "data.seq_len", "batch.micro_batch", "train.steps"})
    EXPECT_NE(message.find(key), std::string::npos) << key << " in " << message;
  EXPECT_EQ(message.find("batch.global_batch"), std::string::npos) << message;
}

TEST_F(JobConfigTest, MissingFileIsAUserErrorNamingIt) {
  std::string path = (dir_ / "nope.toml").string();
  try {
    load_job(path);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(JobConfigTest, GlobalBatchMustBeAMultipleOfMicroBatch) {
  std::string text = kMinimalJob;
  text.replace(text.find("micro_batch = 2"), 15, "micro_batch = 3");
  std::string message = error_for(text);
  EXPECT_NE(message.find("batch.global_batch (8) must be a multiple of batch.micro_batch (3)"),
            std::string::npos)
      << message;
}

TEST_F(JobConfigTest, OverridesAreTypedAndWinOverTheFile) {
  JobConfig c = load_job(write_job(kMinimalJob),
                         {"optimizer.lr=1e-3", "run.dir=runs/r1", "eval.every=10",
                          "checkpoint.async=true", "eval.every=20", "model.preset=\"gpt2-small\""});
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 1e-3);
  EXPECT_EQ(c.run.dir, "runs/r1");
  EXPECT_EQ(c.eval.every, 20);  // the later override wins
  EXPECT_TRUE(c.checkpoint.async);
  EXPECT_EQ(c.model.preset, "gpt2-small");
}

TEST_F(JobConfigTest, OverrideCanSupplyARequiredKey) {
  std::string text = kMinimalJob;
  text.erase(text.find("dir = \"runs/x\"\n"), 15);
  EXPECT_NE(error_for(text).find("run.dir"), std::string::npos);
  EXPECT_EQ(load_job(write_job(text), {"run.dir=runs/given"}).run.dir, "runs/given");
}

TEST_F(JobConfigTest, OverrideErrorsNameTheOverride) {
  std::string unknown = error_for(kMinimalJob, {"optimizer.lrr=1"});
  EXPECT_EQ(unknown.rfind("--set optimizer.lrr=1: unknown key optimizer.lrr", 0), 0u) << unknown;
  std::string bare = error_for(kMinimalJob, {"train.steps=many"});
  EXPECT_NE(bare.find("--set train.steps=many: train.steps must be an integer"), std::string::npos)
      << bare;
  std::string typed = error_for(kMinimalJob, {"train.steps=\"10\""});
  EXPECT_NE(typed.find("train.steps must be an integer, got a string"), std::string::npos) << typed;
  std::string range = error_for(kMinimalJob, {"schedule.kind=linear"});
  EXPECT_NE(range.find("\"cosine\", \"wsd\", \"constant\""), std::string::npos) << range;
  std::string no_equals = error_for(kMinimalJob, {"train.steps"});
  EXPECT_NE(no_equals.find("--set train.steps: expected section.key=value"), std::string::npos)
      << no_equals;
}

TEST_F(JobConfigTest, AccumStepsDividesTheGlobalBatchOrNamesTheWorld) {
  JobConfig c = load_job(write_job(kMinimalJob));  // global 8, micro 2
  EXPECT_EQ(accum_steps(c, 1), 4);
  EXPECT_EQ(accum_steps(c, 4), 1);
  try {
    accum_steps(c, 3);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("batch.global_batch (8)"), std::string::npos) << message;
    EXPECT_NE(message.find("batch.micro_batch (2)"), std::string::npos) << message;
    EXPECT_NE(message.find("world size (3 ranks)"), std::string::npos) << message;
  }
  EXPECT_THROW(accum_steps(c, 8), UserError);  // 8 ranks × 2 > 8 sequences
}

TEST_F(JobConfigTest, ResolvedTomlReadsBackToTheSameConfig) {
  JobConfig c = load_job(write_job(kMinimalJob),
                         {"optimizer.lr=0.0003", "optimizer.eps=1e-10", "schedule.kind=wsd",
                          "schedule.min_lr_ratio=0.1", "run.dir=runs/with \"quotes\" and \\",
                          "model.preset=a\nb", "checkpoint.async=true", "run.seed=7"});
  std::string text = to_toml(c);
  JobConfig back = parse_job_string(text, "run.toml");
  EXPECT_TRUE(back == c) << text;
  EXPECT_EQ(back.run.dir, "runs/with \"quotes\" and \\");
  for (const auto& spec : job_schema())  // every key is written, defaults included
    EXPECT_NE(text.find("\n" + spec.key + " = "), std::string::npos) << spec.path();
  EXPECT_EQ(to_toml(back), text);  // stable
}

TEST_F(JobConfigTest, EqualityNoticesASingleKey) {
  JobConfig a = load_job(write_job(kMinimalJob));
  JobConfig b = a;
  EXPECT_TRUE(a == b);
  b.schedule.decay_fraction = 0.25;
  EXPECT_TRUE(a != b);
}

TEST_F(JobConfigTest, EvalSetsMapNamesToDatasetsFromTheFileAndOverrides) {
  EXPECT_TRUE(load_job(write_job(kMinimalJob)).eval.sets.empty());
  JobConfig c = load_job(
      write_job(std::string(kMinimalJob) + "[eval.sets]\nprose = \"data/p\"\ncode-2 = \"data/c\"\n"),
      {"eval.sets.extra_1=data/e", "eval.sets.prose=\"data/p2\""});
  const StringMap want{{"code-2", "data/c"}, {"extra_1", "data/e"}, {"prose", "data/p2"}};
  EXPECT_EQ(c.eval.sets, want);
  // An inline table is the same table.
  JobConfig inline_table =
      load_job(write_job(std::string(kMinimalJob) + "[eval]\nsets = { a = \"x\" }\n"));
  EXPECT_EQ(inline_table.eval.sets, (StringMap{{"a", "x"}}));
}

TEST_F(JobConfigTest, EvalSetsExampleLoads) {
  JobConfig c = load_job(source_dir() + "/jobs/examples/eval-sets-gpt.toml");
  EXPECT_EQ(c.eval.sets,
            (StringMap{{"fiction", "data/brown-fiction"}, {"news", "data/brown-news"}}));
}

TEST_F(JobConfigTest, EvalSetNamesMustBeIdentifiersAndValuesStrings) {
  std::string name = error_for(std::string(kMinimalJob) + "[eval.sets]\n\"bad name\" = \"x\"\n");
  EXPECT_NE(name.find("job.toml:15:1: eval.sets.bad name: a name may hold only letters"),
            std::string::npos)
      << name;
  std::string value = error_for(std::string(kMinimalJob) + "[eval.sets]\nok = 3\n");
  EXPECT_NE(value.find("job.toml:15:6: eval.sets.ok must be a string, got an integer"),
            std::string::npos)
      << value;
  std::string nested = error_for(std::string(kMinimalJob) + "[eval.sets]\na.b = \"x\"\n");
  EXPECT_NE(nested.find("eval.sets.a must be a string, got a table"), std::string::npos) << nested;
  std::string empty = error_for(std::string(kMinimalJob) + "[eval.sets]\na = \"\"\n");
  EXPECT_NE(empty.find("eval.sets.a must not be empty"), std::string::npos) << empty;
  std::string not_table = error_for(std::string(kMinimalJob) + "[eval]\nsets = \"x\"\n");
  EXPECT_NE(not_table.find("eval.sets must be a table of strings, got a string"), std::string::npos)
      << not_table;
  std::string override_name = error_for(kMinimalJob, {"eval.sets.a/b=data/x"});
  EXPECT_EQ(override_name.rfind("--set eval.sets.a/b=data/x: eval.sets.a/b: a name", 0), 0u)
      << override_name;
  std::string override_empty = error_for(kMinimalJob, {"eval.sets.a="});
  EXPECT_NE(override_empty.find("eval.sets.a must not be empty"), std::string::npos)
      << override_empty;
  std::string unknown = error_for(kMinimalJob, {"eval.setz.a=x"});
  EXPECT_NE(unknown.find("unknown key eval.setz.a"), std::string::npos) << unknown;
}

TEST_F(JobConfigTest, EvalSetsRoundTripThroughTheResolvedToml) {
  JobConfig c = load_job(write_job(kMinimalJob),
                         {"eval.sets.b=data/with \"quotes\" and \\", "eval.sets.a-1=data/a"});
  std::string text = to_toml(c);
  EXPECT_NE(text.find("\nsets = { a-1 = 'data/a', b = "), std::string::npos) << text;
  JobConfig back = parse_job_string(text, "run.toml");
  EXPECT_TRUE(back == c) << text;
  EXPECT_EQ(to_toml(back), text);
  EXPECT_NE(to_toml(default_job_config()).find("\nsets = {}  #"), std::string::npos);
  JobConfig other = c;
  other.eval.sets["b"] = "data/elsewhere";
  EXPECT_TRUE(other != c);
}

TEST_F(JobConfigTest, ParseJobStringNamesItsOrigin) {
  try {
    parse_job_string("[run]\nbogus = 1\n", "state.toml");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("state.toml:2:1: unknown key run.bogus", 0), 0u)
        << e.what();
  }
}

}  // namespace
}  // namespace molt
