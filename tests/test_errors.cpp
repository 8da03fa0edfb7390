// The one table of error codes: every code has a meaning, an HTTP status and an exit code, and
// the names round-trip.
#include "emopost/core/error.h"

#include <gtest/gtest.h>

#include <set>

using emopost::Errc;

TEST(ErrorTable, EveryCodeHasAStatusAnExitCodeAndAMeaning) {
  std::set<std::string_view> names;
  for (const auto& k : emopost::kErrorTable) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name << " appears twice";
    EXPECT_FALSE(k.meaning.empty()) << k.name;
    EXPECT_GE(k.http_status, 400) << k.name;
    EXPECT_LT(k.http_status, 600) << k.name;
    EXPECT_GE(k.exit_code, 1) << k.name;
    EXPECT_LE(k.exit_code, 5) << k.name;
    EXPECT_EQ(emopost::parse_errc(k.name), k.code);
    EXPECT_EQ(&emopost::error_kind(k.code), &k);
  }
  EXPECT_FALSE(emopost::parse_errc("no_such_code"));
}

TEST(ErrorTable, TheClientsFaultIs4xxOursIs5xx) {
  for (auto c : {Errc::invalid_input, Errc::invalid_json, Errc::invalid_field, Errc::bad_base64, Errc::empty_post,
                 Errc::invalid_utf8, Errc::bad_image, Errc::image_too_large, Errc::text_too_long})
    EXPECT_LT(emopost::error_kind(c).http_status, 500) << emopost::error_kind(c).name;
  EXPECT_EQ(emopost::error_kind(Errc::bad_model).http_status, 500);
  EXPECT_EQ(emopost::error_kind(Errc::internal).http_status, 500);
  EXPECT_EQ(emopost::error_kind(Errc::overloaded).http_status, 503);
  EXPECT_EQ(emopost::error_kind(Errc::timeout).http_status, 504);
}

TEST(ErrorTable, AnErrorCarriesItsKind) {
  emopost::Error e("no such file", Errc::bad_model);
  EXPECT_EQ(e.code(), "bad_model");
  EXPECT_EQ(e.errc(), Errc::bad_model);
  EXPECT_EQ(e.kind().exit_code, 4);
  EXPECT_EQ(emopost::Error("x").code(), "invalid_input");
}
