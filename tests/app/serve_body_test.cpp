// The server's request bodies, called in-process (no socket): a 100 KB body that is not JSON, with
// raw control and non-UTF-8 bytes, is refused with a 400 whose message is one line under 300 bytes.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "app/serve_http.hpp"

namespace etude::app::serve {
namespace {

TEST(ServeBody, ALongBrokenBodyIsRefusedInOneShortLine) {
  httplib::Request req;
  req.body = "{\"style\": \"" + std::string(100000, 'b') + "\xff\n\x01\"}";
  try {
    (void)json_body(req, 1 << 20);
    FAIL() << "accepted";
  } catch (const HttpError& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(m.rfind("the request body is not valid JSON (at byte ", 0), 0u) << m.substr(0, 400);
    EXPECT_LT(m.size(), 300u) << m.substr(0, 400);
    EXPECT_EQ(m.find('\n'), std::string::npos);
    EXPECT_NO_THROW((void)nlohmann::json(m).dump()) << "not valid UTF-8";
  }
  req.body = "[1, 2]";
  EXPECT_THROW((void)json_body(req, 1 << 20), HttpError);  // JSON, but not an object
  req.body = R"({"style": "Chopin"})";
  EXPECT_EQ(json_body(req, 1 << 20)["style"], "Chopin");
}

}  // namespace
}  // namespace etude::app::serve
