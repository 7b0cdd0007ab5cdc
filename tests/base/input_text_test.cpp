// Input quoted in errors: escaped (control and non-UTF-8 bytes as \xNN), bounded, one line; and
// nlohmann's parse errors, which quote a whole 100 KB string raw, rewrapped to one short line.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/input_text.hpp"

namespace etude {
namespace {

// One line of printable, valid UTF-8 text (json's dump refuses invalid UTF-8).
void expect_one_short_line(const std::string& s, size_t max) {
  EXPECT_LE(s.size(), max) << s;
  EXPECT_EQ(s.find('\n'), std::string::npos) << s;
  for (unsigned char c : s) EXPECT_TRUE(c >= 0x20 && c != 0x7f) << "control byte " << int(c) << " in " << s;
  EXPECT_NO_THROW((void)nlohmann::json(s).dump()) << "not valid UTF-8: " << quote_input(s);
}

TEST(QuoteInput, EscapesControlAndInvalidBytesAndKeepsUtf8) {
  EXPECT_EQ(quote_input("plain text"), "plain text");
  EXPECT_EQ(quote_input(std::string("a\nb\x01\x7f", 5)), "a\\x0ab\\x01\\x7f");
  EXPECT_EQ(quote_input("back\\slash"), "back\\\\slash");
  EXPECT_EQ(quote_input("Dvo\xc5\x99\xc3\xa1k"), "Dvo\xc5\x99\xc3\xa1k");  // Dvořák stays readable
  EXPECT_EQ(quote_input("Dvo\xf8r\xe1k"), "Dvo\\xf8r\\xe1k");               // Latin-1: escaped
  EXPECT_EQ(quote_input("\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80"),           // overlong, surrogate, > U+10FFFF
            "\\xc0\\xaf \\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80");
  EXPECT_EQ(quote_input("\xe2\x82"), "\\xe2\\x82");                          // cut sequence
}

TEST(OneLine, KeepsWhatWasQuotedAlready) {
  const std::string msg = "m.safetensors: tensor " + quote_input("a\xff" "b") + ": bad\nline";
  EXPECT_EQ(msg, "m.safetensors: tensor a\\xffb: bad\nline");
  EXPECT_EQ(one_line(msg, 1000), "m.safetensors: tensor a\\xffb: bad\\x0aline");
  EXPECT_EQ(one_line(std::string(500, 'm'), 10), "mmmmmmmmmm... (500 bytes)");
}

TEST(QuoteInput, CutsLongInputAndSaysHowLong) {
  const std::string q = quote_input(std::string(100000, 'x'));
  EXPECT_EQ(q, std::string(kMaxQuoted, 'x') + "... (100000 bytes)");
  const std::string raw(5000, '\xff');
  const std::string e = quote_input(raw, 20);
  EXPECT_EQ(e, "\\xff\\xff\\xff\\xff\\xff... (5000 bytes)");  // escapes count towards the bound
  expect_one_short_line(quote_input(raw), 260);
}

// A 100 KB string, then a raw newline and invalid UTF-8, as a damaged header's metadata would hold.
std::string long_bad_json() { return "{\"etude.card\": \"" + std::string(100000, 'a') + "\n\xff\xfe tail\"}"; }

TEST(JsonErrorText, ParseErrorsOfLongInputBecomeOneShortLine) {
  try {
    const nlohmann::json j = nlohmann::json::parse(long_bad_json());
    FAIL() << "parsed: " << j.dump();
  } catch (const nlohmann::json::exception& e) {
    ASSERT_GT(std::string(e.what()).size(), 10000u);  // what the rewrap is for
    const std::string t = json_error_text(e);
    expect_one_short_line(t, 220);
    EXPECT_EQ(t.rfind("at byte ", 0), 0u) << t;
    EXPECT_NE(t.find("last read: '..."), std::string::npos) << t;
  }
  try {
    const nlohmann::json j = nlohmann::json::parse("{\"a\": [1, 2,, 3]}");
    FAIL() << "parsed: " << j.dump();
  } catch (const nlohmann::json::exception& e) {
    EXPECT_EQ(json_error_text(e), "at byte 13: syntax error while parsing value - unexpected ','; "
                                  "expected '[', '{', or a literal");  // short errors keep their words
  }
  try {
    const nlohmann::json j = nlohmann::json::parse("{\"a\": 1}").at("b");
    FAIL() << "found: " << j.dump();
  } catch (const nlohmann::json::exception& e) {
    EXPECT_EQ(json_error_text(e), "key 'b' not found");
  }
}

TEST(ParseJsonInput, RefusesWithTheSourceNamedInOneLine) {
  EXPECT_EQ(parse_json_input("{\"a\": 1}", "x.json")["a"], 1);
  try {
    (void)parse_json_input(long_bad_json(), "card.json");
    FAIL() << "parsed";
  } catch (const FormatError& e) {
    const std::string w = e.what();
    expect_one_short_line(w, 260);
    EXPECT_EQ(w.rfind("card.json: not valid JSON (at byte ", 0), 0u) << w;
  }
}

}  // namespace
}  // namespace etude
