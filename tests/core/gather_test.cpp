// gather and gather_settled (semantic 10).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using corun::CancelledError;
using corun::Task;

namespace {
Task<int> after(std::chrono::milliseconds d, int v) {
  co_await corun::sleep(d);
  co_return v;
}
Task<int> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await corun::sleep(d);
  throw std::runtime_error(what);
}
}  // namespace

TEST(Gather, ValuesInArgumentOrder) {
  auto main = []() -> Task<std::vector<int>> {
    std::vector<Task<int>> ts;
    ts.push_back(after(3ms, 1));
    ts.push_back(after(1ms, 2));
    ts.push_back(after(2ms, 3));
    co_return co_await corun::gather(std::move(ts));
  };
  EXPECT_EQ(corun::run(main()), (std::vector<int>{1, 2, 3}));
}

TEST(Gather, VariadicMixedTypes) {
  auto main = []() -> Task<std::tuple<int, std::string, std::monostate>> {
    co_return co_await corun::gather(
        after(1ms, 4), []() -> Task<std::string> { co_return "x"; }(),
        []() -> Task<> { co_return; }());
  };
  auto [a, b, c] = corun::run(main());
  EXPECT_EQ(a, 4);
  EXPECT_EQ(b, "x");
  (void)c;
}

TEST(Gather, Semantic10_FirstErrorSettlesAndSiblingsKeepRunning) {
  bool sibling_finished = false;
  auto main = [&]() -> Task<std::string> {
    std::vector<Task<int>> ts;
    ts.push_back(fail_after(1ms, "first"));
    ts.push_back(corun::co_invoke([&]() -> Task<int> {
      co_await corun::sleep(20ms);
      sibling_finished = true;
      co_return 2;
    }));
    std::string err;
    try {
      co_await corun::gather(std::move(ts));
    } catch (const std::runtime_error& e) {
      err = e.what();
    }
    EXPECT_FALSE(sibling_finished);  // the gather settled before the sibling ended
    co_await corun::sleep(40ms);
    co_return err;
  };
  EXPECT_EQ(corun::run(main()), "first");
  EXPECT_TRUE(sibling_finished);  // it was not cancelled
}

TEST(Gather, Semantic10_CancellingTheGatherCancelsAllChildren) {
  int cancelled_children = 0;
  auto child = [&]() -> Task<int> {
    try {
      co_await corun::sleep(10s);
    } catch (const CancelledError&) {
      ++cancelled_children;
      throw;
    }
    co_return 0;
  };
  auto main = [&]() -> Task<> {
    std::vector<Task<int>> ts;
    for (int i = 0; i < 3; ++i) ts.push_back(child());
    auto g = corun::create_task(corun::gather(std::move(ts)));
    co_await corun::sleep(2ms);
    g.cancel();
    EXPECT_THROW(co_await g, CancelledError);
    EXPECT_TRUE(g.cancelled());
  };
  corun::run(main());
  EXPECT_EQ(cancelled_children, 3);
}

TEST(Gather, Semantic10_SettledKeepsErrorsAsResults) {
  auto main = []() -> Task<std::vector<corun::Outcome<int>>> {
    std::vector<Task<int>> ts;
    ts.push_back(after(2ms, 1));
    ts.push_back(fail_after(1ms, "bad"));
    ts.push_back(after(3ms, 3));
    co_return co_await corun::gather_settled(std::move(ts));
  };
  auto out = corun::run(main());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].ok());
  EXPECT_EQ(out[0].value(), 1);
  EXPECT_FALSE(out[1].ok());
  EXPECT_THROW(out[1].value(), std::runtime_error);
  EXPECT_EQ(out[2].value(), 3);
}

TEST(Gather, Semantic10_SettledStillRaisesWhenTheGatherItselfIsCancelled) {
  auto main = []() -> Task<> {
    std::vector<Task<int>> ts;
    ts.push_back(after(10s, 1));
    ts.push_back(after(10s, 2));
    auto g = corun::create_task(corun::gather_settled(std::move(ts)));
    co_await corun::sleep(1ms);
    g.cancel();
    EXPECT_THROW(co_await g, CancelledError);
  };
  corun::run(main());
}

TEST(Gather, SettledRecordsAChildCancelledOnItsOwn) {
  auto main = []() -> Task<> {
    auto victim = []() -> Task<int> {
      co_await corun::sleep(10s);
      co_return 0;
    };
    std::vector<Task<int>> ts;
    ts.push_back(victim());
    ts.push_back(after(1ms, 5));
    auto g = corun::create_task(corun::gather_settled(std::move(ts)));
    co_await corun::sleep(3ms);
    // Cancel the victim child directly (not the gather).
    for (auto& t : corun::get_running_loop().all_tasks()) {
      if (t.get() != g.state() && t.get() != corun::detail::current_task()) t->cancel();
    }
    auto out = co_await g;
    EXPECT_TRUE(out[0].cancelled());
    EXPECT_EQ(out[1].value(), 5);
  };
  corun::run(main());
}

TEST(Gather, LaterSiblingFailuresAreNotReportedAsNeverRetrieved) {
  corun::testing::LogCapture logs;
  auto main = []() -> Task<> {
    std::vector<Task<int>> ts;
    ts.push_back(fail_after(1ms, "a"));
    ts.push_back(fail_after(3ms, "b"));
    EXPECT_THROW(co_await corun::gather(std::move(ts)), std::runtime_error);
    co_await corun::sleep(10ms);
  };
  corun::run(main());
  EXPECT_FALSE(logs.contains("never retrieved"));
}

namespace {
// Counts its copies (moves are free).
struct Counted {
  static inline int copies = 0;
  std::string text;
  explicit Counted(std::string t) : text(std::move(t)) {}
  Counted(const Counted& o) : text(o.text) { ++copies; }
  Counted(Counted&&) noexcept = default;
  Counted& operator=(const Counted& o) {
    text = o.text;
    ++copies;
    return *this;
  }
  Counted& operator=(Counted&&) noexcept = default;
};
Task<Counted> counted_after(std::chrono::milliseconds d, std::string t) {
  co_await corun::sleep(d);
  co_return Counted(std::move(t));
}
}  // namespace

// The children's values are moved into gather's result, not copied: a gather
// of responses would otherwise copy every body (and run() its main's value).
TEST(Gather, ValuesAreMovedNotCopied) {
  Counted::copies = 0;
  auto main = []() -> Task<std::vector<Counted>> {
    std::vector<Task<Counted>> ts;
    ts.push_back(counted_after(2ms, "a"));
    ts.push_back(counted_after(1ms, "b"));
    co_return co_await corun::gather(std::move(ts));
  };
  std::vector<Counted> out = corun::run(main());
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].text, "a");
  EXPECT_EQ(out[1].text, "b");
  EXPECT_EQ(Counted::copies, 0);

  Counted::copies = 0;
  auto settled = []() -> Task<std::string> {
    std::vector<Task<Counted>> ts;
    ts.push_back(counted_after(1ms, "c"));
    auto outs = co_await corun::gather_settled(std::move(ts));
    auto [one, two] = co_await corun::gather(counted_after(1ms, "d"), counted_after(1ms, "e"));
    co_return outs.at(0).value().text + one.text + two.text;
  };
  EXPECT_EQ(corun::run(settled()), "cde");
  EXPECT_EQ(Counted::copies, 0);
}

// A value another handle can still read is copied, not moved (shield() of a
// task the caller also holds, co_await of a handle kept); one nothing else can
// reach is moved (shield() of a Task, co_await of a handle given up).
TEST(Gather, AValueAnotherHandleCanStillReadIsCopied) {
  Counted::copies = 0;
  auto main = []() -> Task<std::string> {
    corun::TaskHandle<Counted> kept = corun::create_task(counted_after(1ms, "kept"));
    Counted shielded = co_await corun::shield(kept);
    co_return shielded.text + "/" + kept.result().text;
  };
  EXPECT_EQ(corun::run(main()), "kept/kept");
  EXPECT_GE(Counted::copies, 1);

  Counted::copies = 0;
  auto alone = []() -> Task<std::string> {
    Counted c = co_await corun::shield(counted_after(1ms, "alone"));
    co_return c.text;
  };
  EXPECT_EQ(corun::run(alone()), "alone");
  EXPECT_EQ(Counted::copies, 0);

  // Awaiting a handle: copied while the awaiter keeps it, moved when it gives it up.
  Counted::copies = 0;
  auto awaited = []() -> Task<std::string> {
    corun::TaskHandle<Counted> h = corun::create_task(counted_after(1ms, "h"));
    Counted kept_copy = co_await h;
    std::string out = kept_copy.text + h.result().text;
    corun::TaskHandle<Counted> given = corun::create_task(counted_after(1ms, "g"));
    Counted moved = co_await std::move(given);
    Counted fresh = co_await corun::create_task(counted_after(1ms, "f"));
    co_return out + moved.text + fresh.text;
  };
  EXPECT_EQ(corun::run(awaited()), "hhgf");
  EXPECT_EQ(Counted::copies, 2);  // co_await h, then h.result()
}
