// emopost::Worker: one long-lived thread that runs jobs in order and hands back results and errors.
#include "emopost/core/worker.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

using emopost::Worker;

TEST(Worker, RunsJobsInOrderOnOneThreadOfItsOwn) {
  Worker w;
  std::vector<int> order;
  std::vector<std::future<std::thread::id>> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(w.submit([&order, i] {
      order.push_back(i);
      return std::this_thread::get_id();
    }));
  const auto first = ids[0].get();
  EXPECT_NE(first, std::this_thread::get_id());
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i].get(), first);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Worker, ResultsAndExceptionsComeBackThroughTheFuture) {
  Worker w;
  EXPECT_EQ(w.submit([] { return 6 * 7; }).get(), 42);
  auto failing = w.submit([]() -> int { throw std::runtime_error("no such face"); });
  EXPECT_THROW(failing.get(), std::runtime_error);
  EXPECT_EQ(w.submit([] { return 1; }).get(), 1);  // still serving after a failed job
}

TEST(Worker, StoppingRunsWhatWasQueued) {
  int done = 0;
  {
    Worker w;
    for (int i = 0; i < 10; ++i) w.submit([&done] { ++done; });
  }
  EXPECT_EQ(done, 10);
}
