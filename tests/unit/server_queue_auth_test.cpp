// The request queue's limits and hand-over, the job channel, and the API-key check.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "server/http_server.h"
#include "server/request_queue.h"

namespace infera::server {
namespace {

using namespace std::chrono_literals;

TEST(ServerQueue, BoundedFifoAndClose) {
  RequestQueue q(2);
  auto a = std::make_shared<Job>(), b = std::make_shared<Job>(), c = std::make_shared<Job>();
  EXPECT_EQ(q.submit(a), RequestQueue::Submit::kQueued);
  EXPECT_EQ(q.submit(b), RequestQueue::Submit::kQueued);
  EXPECT_EQ(q.submit(c), RequestQueue::Submit::kFull);
  EXPECT_EQ(q.waiting(), 2u);
  auto got = q.take(1, false, 0ms);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], a);
  q.close();
  EXPECT_EQ(q.submit(c), RequestQueue::Submit::kClosed);
  got = q.take(5, true, 1000ms);  // closed: waiting jobs still come out, without a wait
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], b);
  EXPECT_TRUE(q.take(5, true, 1000ms).empty());
}

TEST(ServerQueue, TakeWakesOnSubmit) {
  RequestQueue q(4);
  auto job = std::make_shared<Job>();
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    q.submit(job);
  });
  const auto got = q.take(4, true, 10s);
  t.join();
  ASSERT_EQ(got.size(), 1u);
}

TEST(ServerQueue, ChannelDeliversInOrder) {
  JobChannel ch;
  std::vector<JobEvent> ev;
  EXPECT_FALSE(ch.pop(&ev, 1ms));
  ch.push_text("a");
  ch.push_text("b");
  ch.finish(JobEnd::kLength, 3, 2);
  ASSERT_TRUE(ch.pop(&ev, 1ms));
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].text + ev[1].text, "ab");
  EXPECT_EQ(ev[2].kind, JobEvent::Kind::kDone);
  EXPECT_EQ(ev[2].end, JobEnd::kLength);
  EXPECT_EQ(ev[2].completion_tokens, 2);
  EXPECT_FALSE(ch.cancelled());
  ch.cancel();
  EXPECT_TRUE(ch.cancelled());
}

TEST(ServerAuth, BearerKeyComparison) {
  EXPECT_TRUE(constant_time_equal("key", "key"));
  EXPECT_FALSE(constant_time_equal("kez", "key"));
  EXPECT_FALSE(constant_time_equal("ke", "key"));
  EXPECT_FALSE(constant_time_equal("keyy", "key"));
  EXPECT_FALSE(constant_time_equal("", "key"));
  EXPECT_TRUE(authorized("Bearer s3cret", "s3cret"));
  EXPECT_FALSE(authorized("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(authorized("bearer s3cret", "s3cret"));
  EXPECT_FALSE(authorized("s3cret", "s3cret"));
  EXPECT_FALSE(authorized("", "s3cret"));
}

}  // namespace
}  // namespace infera::server
