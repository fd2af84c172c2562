// Contract of jobs/lr_schedule.h: warmup, then cosine / wsd / constant, as a pure function.
#include "jobs/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace molt {
namespace {

JobConfig schedule(const std::string& kind, int64_t steps, int64_t warmup) {
  JobConfig c;
  c.optimizer.lr = 1e-3;
  c.schedule.kind = kind;
  c.schedule.warmup_steps = warmup;
  c.schedule.min_lr_ratio = 0.1;
  c.schedule.decay_fraction = 0.2;
  c.train.steps = steps;
  return c;
}

TEST(LearningRate, WarmupRisesLinearlyToThePeak) {
  JobConfig c = schedule("constant", 100, 10);
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate(c, 4), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(c, 9), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 50), 1e-3);
}

TEST(LearningRate, CosineStartsAtPeakAndEndsAtMinimumOnTheLastStep) {
  JobConfig c = schedule("cosine", 21, 0);
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 1e-3);
  EXPECT_NEAR(learning_rate(c, 10), 1e-4 + 0.5 * (1e-3 - 1e-4), 1e-15);  // half-way
  EXPECT_NEAR(learning_rate(c, 20), 1e-4, 1e-15);
  for (int s = 1; s < 21; ++s) EXPECT_LE(learning_rate(c, s), learning_rate(c, s - 1));
}

TEST(LearningRate, CosineBeginsAfterWarmup) {
  JobConfig c = schedule("cosine", 100, 10);
  EXPECT_DOUBLE_EQ(learning_rate(c, 10), 1e-3);
  EXPECT_LT(learning_rate(c, 11), 1e-3);
  EXPECT_NEAR(learning_rate(c, 99), 1e-4, 1e-15);
}

TEST(LearningRate, WsdHoldsThenDecaysLinearlyOverTheLastFraction) {
  JobConfig c = schedule("wsd", 100, 5);  // decays over the last 20 steps: 80..99
  EXPECT_DOUBLE_EQ(learning_rate(c, 79), 1e-3);
  EXPECT_NEAR(learning_rate(c, 80), 1e-3 - 0.9e-3 / 20, 1e-15);
  EXPECT_NEAR(learning_rate(c, 89), 1e-3 - 0.9e-3 / 2, 1e-15);
  EXPECT_NEAR(learning_rate(c, 99), 1e-4, 1e-15);
}

TEST(LearningRate, StepsPastTheEndKeepTheLastRate) {
  JobConfig c = schedule("cosine", 50, 0);
  EXPECT_DOUBLE_EQ(learning_rate(c, 500), learning_rate(c, 49));
}

}  // namespace
}  // namespace molt
