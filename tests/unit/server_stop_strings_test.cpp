// Stop strings over streamed pieces: nothing of a stop string is ever sent, and text that only
// looked like the start of one is sent as soon as it is clear that it is not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/stop_strings.h"

namespace infera::server {
namespace {

// Feeds the pieces one by one; returns everything emitted and whether a stop was hit.
std::pair<std::string, bool> run(const std::vector<std::string>& stops,
                                 const std::vector<std::string>& pieces) {
  StopStringMatcher m(stops);
  std::string out;
  for (const std::string& p : pieces) {
    const StopStringMatcher::Result r = m.push(p);
    out += r.emit;
    if (r.stopped) return {out, true};
  }
  return {out + m.flush(), false};
}

TEST(ServerStopStrings, NoStopsPassesEverything) {
  StopStringMatcher m({});
  EXPECT_EQ(m.push("abc").emit, "abc");
  EXPECT_EQ(m.flush(), "");
}

TEST(ServerStopStrings, HoldsBackAPossibleStart) {
  StopStringMatcher m({"END"});
  EXPECT_EQ(m.push("Hello E").emit, "Hello ");
  EXPECT_EQ(m.held(), "E");
  const auto r = m.push("N");
  EXPECT_EQ(r.emit, "");
  EXPECT_EQ(m.held(), "EN");
  const auto d = m.push("D and more");
  EXPECT_TRUE(d.stopped);
  EXPECT_EQ(d.emit, "");
}

TEST(ServerStopStrings, ReleasesAFalseStart) {
  StopStringMatcher m({"END"});
  EXPECT_EQ(m.push("EN").emit, "");
  const auto r = m.push("Ough");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.emit, "ENOugh");
}

TEST(ServerStopStrings, StopsAcrossPieces) {
  EXPECT_EQ(run({"\n\n"}, {"Paris.", "\n", "\nNext"}), std::make_pair(std::string("Paris."), true));
  EXPECT_EQ(run({"stop"}, {"s", "t", "o", "p"}), std::make_pair(std::string(""), true));
  EXPECT_EQ(run({"stop"}, {"s", "t", "o", "x"}), std::make_pair(std::string("stox"), false));
  // The earliest match wins, whichever stop string it is.
  EXPECT_EQ(run({"world", "lo"}, {"hello world"}), std::make_pair(std::string("hel"), true));
  // At the end, held-back text that never became a stop string is sent.
  EXPECT_EQ(run({"END"}, {"the E"}), std::make_pair(std::string("the E"), false));
}

TEST(ServerStopStrings, LongestPossiblePrefixIsHeld) {
  StopStringMatcher m({"abcab", "b"});
  // "ab" could start "abcab" even though its last byte starts "b"... which is a full match.
  const auto r = m.push("xab");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.emit, "xa");
  StopStringMatcher k({"abcab"});
  EXPECT_EQ(k.push("zzabca").emit, "zz");
  EXPECT_EQ(k.held(), "abca");
}

TEST(ServerStopStrings, MultiByteText) {
  // "é" is two bytes; the stop string starts with it: it is held whole, never split.
  StopStringMatcher m({"été"});
  EXPECT_EQ(m.push("un é").emit, "un ");
  EXPECT_EQ(m.held(), "é");
  EXPECT_EQ(m.push("clair").emit, "éclair");
}

}  // namespace
}  // namespace infera::server
