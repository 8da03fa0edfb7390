// Base64 for images inside JSON: round trips, data URIs, and every malformed case refused.
#include "emopost/io/base64.h"

#include <gtest/gtest.h>

#include "support.h"

using emopost::io::base64_decode;
using emopost::io::base64_encode;
using namespace emopost::test;

TEST(Base64, RoundTripsAndKnownVectors) {
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64_decode("Zm9v\nYmFy"), "foobar");  // line breaks as MIME writes them
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += char(i * 37);
  EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  EXPECT_EQ(base64_decode("data:image/png;base64,Zm9vYmFy"), "foobar");
}

TEST(Base64, MalformedInputIsRefused) {
  expect_error_code([] { base64_decode(""); }, "bad_base64", "empty");
  expect_error_code([] { base64_decode("Zm9v!mFy"); }, "bad_base64", "not valid base64");
  expect_error_code([] { base64_decode("Zm9vYmF"); }, "bad_base64", "truncated");
  expect_error_code([] { base64_decode("data:image/png,Zm9v"); }, "bad_base64", "not base64");
}
