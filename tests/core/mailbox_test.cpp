// detail::Mailbox: one wake-up per batch, nothing lost or reordered, close()
// stops pushes and wake-ups. The threaded test runs under TSan in CI.
#include "corun/core/detail/mailbox.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using corun::detail::Mailbox;

TEST(Mailbox, OnlyTheFirstPushSinceADrainAsksForAWakeUp) {
  Mailbox<int> box;
  EXPECT_FALSE(box.pending());
  EXPECT_TRUE(box.push(1));
  EXPECT_TRUE(box.pending());
  for (int i = 2; i <= 1000; ++i) EXPECT_FALSE(box.push(i)) << i;
  std::vector<int> batch = box.drain();
  ASSERT_EQ(batch.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(batch[i], i + 1);  // push order
  EXPECT_FALSE(box.pending());
  EXPECT_TRUE(box.drain().empty());  // a wake-up that finds nothing is harmless
  EXPECT_TRUE(box.push(7));          // the next batch asks again
  EXPECT_EQ(box.drain(), std::vector<int>{7});
}

TEST(Mailbox, MovesItsItems) {
  Mailbox<std::unique_ptr<int>> box;
  EXPECT_TRUE(box.push(std::make_unique<int>(1)));
  EXPECT_FALSE(box.push(std::make_unique<int>(2)));
  auto batch = box.drain();
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(*batch[0], 1);
  EXPECT_EQ(*batch[1], 2);
}

TEST(Mailbox, PostWakesOncePerBatchAndNotAfterClose) {
  Mailbox<int> box;
  int wakes = 0;
  auto wake = [&wakes] { ++wakes; };
  EXPECT_TRUE(box.post(1, wake));
  EXPECT_TRUE(box.post(2, wake));
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(box.drain(), (std::vector<int>{1, 2}));
  EXPECT_TRUE(box.post(3, wake));
  EXPECT_EQ(wakes, 2);
  EXPECT_FALSE(box.closed());
  // close() hands back what was never drained; then nothing is accepted.
  EXPECT_EQ(box.close(), std::vector<int>{3});
  EXPECT_TRUE(box.closed());
  EXPECT_FALSE(box.pending());
  EXPECT_FALSE(box.post(4, wake));
  EXPECT_FALSE(box.push(5));
  EXPECT_EQ(wakes, 2);
  EXPECT_TRUE(box.drain().empty());
}

// Producers on several threads, one consumer that sleeps until woken and
// drains once per wake-up. A lost wake-up would leave items behind once every
// wake-up is handled; a duplicate or reordered item shows in the sequence.
TEST(Mailbox, ManyProducersOneConsumerLoseNothing) {
  constexpr int kProducers = 4;
  constexpr int kItems = 20000;
  struct Item {
    int producer;
    int seq;
  };
  Mailbox<Item> box;
  std::mutex mutex;
  std::condition_variable cv;
  long wakes = 0;
  int producers_left = kProducers;

  std::vector<std::vector<int>> received(kProducers);
  long drains = 0;
  std::thread consumer([&] {
    long handled = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return handled < wakes || (producers_left == 0 && handled == wakes); });
        if (handled == wakes) return;  // every producer is done and every wake-up handled
        ++handled;
      }
      ++drains;
      for (const Item& it : box.drain()) received[it.producer].push_back(it.seq);
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kItems; ++i) {
        if (box.push(Item{p, i})) {
          std::lock_guard lock(mutex);
          ++wakes;
          cv.notify_one();
        }
        if (i % 64 == 0) std::this_thread::yield();
      }
      std::lock_guard lock(mutex);
      --producers_left;
      cv.notify_one();
    });
  }
  for (auto& t : producers) t.join();
  consumer.join();

  for (int p = 0; p < kProducers; ++p) {
    ASSERT_EQ(received[p].size(), static_cast<std::size_t>(kItems)) << "producer " << p;
    for (int i = 0; i < kItems; ++i) ASSERT_EQ(received[p][i], i) << "producer " << p;
  }
  EXPECT_FALSE(box.pending());
  EXPECT_EQ(drains, wakes);  // one drain per wake-up, and every wake-up asked for
  EXPECT_LE(wakes, static_cast<long>(kProducers) * kItems);
}

}  // namespace
