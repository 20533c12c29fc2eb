// Tests for header-section parsing, address lists, sendmail -t recipients and Bcc removal.
#include "message/headers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::message {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> addrs(std::string_view value) {
  auto r = parse_address_list(value, "test list");
  EXPECT_TRUE(r.has_value()) << value << ": " << (r ? "" : r.error().detail);
  return r ? *r : std::vector<std::string>{"<error>"};
}

// ---- parse_header_fields ------------------------------------------------------------------

TEST(ParseHeaderFields, SplitsFieldsAndStopsAtEmptyLine) {
  auto f = parse_header_fields("From: a@x\r\nTo: b@y\r\n\r\nTo: not-a-header@z\r\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].name, "From");
  EXPECT_EQ(f[0].value, " a@x");
  EXPECT_EQ(f[1].name, "To");
  EXPECT_EQ(f[1].value, " b@y");
}

TEST(ParseHeaderFields, UnfoldsContinuationLines) {
  auto f = parse_header_fields("To: a@x,\r\n\tb@y,\r\n  c@z\r\nSubject: s\r\n\r\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].value, " a@x,\tb@y,  c@z");  // CRLF removed, the white space kept
  EXPECT_EQ(f[1].name, "Subject");
}

TEST(ParseHeaderFields, SpaceBeforeColonAndEmptyValue) {
  auto f = parse_header_fields("To : a@x\r\nBcc:\r\n\r\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].name, "To");
  EXPECT_EQ(f[0].value, " a@x");
  EXPECT_EQ(f[1].name, "Bcc");
  EXPECT_EQ(f[1].value, "");
}

TEST(ParseHeaderFields, NonFieldLineEndsHeaderSection) {
  auto f = parse_header_fields("To: a@x\r\nthis is body\r\nCc: b@y\r\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].name, "To");
  EXPECT_THAT(parse_header_fields(" leading continuation\r\nTo: a@x\r\n"), IsEmpty());
  EXPECT_THAT(parse_header_fields(": no name\r\nTo: a@x\r\n"), IsEmpty());
  EXPECT_THAT(parse_header_fields("Bad Name: x\r\nTo: a@x\r\n"), IsEmpty());
  EXPECT_THAT(parse_header_fields("\r\nTo: a@x\r\n"), IsEmpty());
  EXPECT_THAT(parse_header_fields(""), IsEmpty());
}

TEST(ParseHeaderFields, ToleratesBareLfAndMissingFinalLineEnd) {
  auto f = parse_header_fields("To: a@x\n b@y\nCc: c@z");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].value, " a@x b@y");
  EXPECT_EQ(f[1].value, " c@z");
}

// ---- parse_address_list -------------------------------------------------------------------

TEST(ParseAddressList, PlainAndAngleAddresses) {
  EXPECT_THAT(addrs("a@example.org"), ElementsAre("a@example.org"));
  EXPECT_THAT(addrs(" a@example.org , <b@example.net>"),
              ElementsAre("a@example.org", "b@example.net"));
  EXPECT_THAT(addrs("first.last+tag@sub.example.org"),
              ElementsAre("first.last+tag@sub.example.org"));
}

TEST(ParseAddressList, DisplayNames) {
  EXPECT_THAT(addrs("John Doe <john@example.org>"), ElementsAre("john@example.org"));
  EXPECT_THAT(addrs("\"Doe, John\" <john@example.org>, Mary <mary@example.org>"),
              ElementsAre("john@example.org", "mary@example.org"));
  EXPECT_THAT(addrs("John Q. Public <jqp@example.org>"),  // obs-phrase with "."
              ElementsAre("jqp@example.org"));
  EXPECT_THAT(addrs("\"a@b\" <c@d.example>"), ElementsAre("c@d.example"));
  EXPECT_THAT(addrs("J\xc3\xb6rg <j@example.org>"), ElementsAre("j@example.org"));
}

TEST(ParseAddressList, Comments) {
  EXPECT_THAT(addrs("john@example.org (John Doe)"), ElementsAre("john@example.org"));
  EXPECT_THAT(addrs("(lead) john(in the middle)@(here)example.org (nested (comment \\) here))"),
              ElementsAre("john@example.org"));
  EXPECT_THAT(addrs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
              ElementsAre("pete@silly.test"));
}

TEST(ParseAddressList, QuotedLocalPartsStayQuoted) {
  EXPECT_THAT(addrs("\"john doe\"@example.org"), ElementsAre("\"john doe\"@example.org"));
  EXPECT_THAT(addrs("<\"a\\\"b\"@example.org>"), ElementsAre("\"a\\\"b\"@example.org"));
  EXPECT_THAT(addrs("\"a,b\"@example.org, c@example.org"),
              ElementsAre("\"a,b\"@example.org", "c@example.org"));
}

TEST(ParseAddressList, Groups) {
  EXPECT_THAT(addrs("undisclosed-recipients:;"), IsEmpty());
  EXPECT_THAT(addrs("Team: a@x.example, B <b@y.example>;, c@z.example"),
              ElementsAre("a@x.example", "b@y.example", "c@z.example"));
  EXPECT_THAT(addrs("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
              ElementsAre("c@a.test", "joe@where.test", "jdoe@one.test"));
  EXPECT_THAT(addrs("Team: a@x.example"), ElementsAre("a@x.example"));  // missing ";" at end
  EXPECT_THAT(addrs("\"Quoted Group\": a@x.example;"), ElementsAre("a@x.example"));
}

TEST(ParseAddressList, ObsoleteForms) {
  EXPECT_THAT(addrs("<@route1.example,@route2.example:user@example.org>"),
              ElementsAre("user@example.org"));
  EXPECT_THAT(addrs(",, a@x.example ,, b@y.example,"), ElementsAre("a@x.example", "b@y.example"));
  EXPECT_THAT(addrs("john . doe @ example . org"), ElementsAre("john.doe@example.org"));
  EXPECT_THAT(addrs("\"john\".\"doe\"@example.org"), ElementsAre("\"john\".\"doe\"@example.org"));
  EXPECT_THAT(addrs("Group: , a@x.example, , ;"), ElementsAre("a@x.example"));
}

TEST(ParseAddressList, DomainLiteralsAndUtf8) {
  EXPECT_THAT(addrs("u@[192.0.2.1]"), ElementsAre("u@[192.0.2.1]"));
  EXPECT_THAT(addrs("<u@[IPv6:2001:db8::1]>"), ElementsAre("u@[IPv6:2001:db8::1]"));
  EXPECT_THAT(addrs("j\xc3\xb6rg@b\xc3\xbc"
                    "cher.example"),
              ElementsAre("j\xc3\xb6rg@b\xc3\xbc"
                          "cher.example"));
}

TEST(ParseAddressList, EmptyListIsNoAddresses) {
  EXPECT_THAT(addrs(""), IsEmpty());
  EXPECT_THAT(addrs("   "), IsEmpty());
  EXPECT_THAT(addrs(" (just a comment) "), IsEmpty());
}

TEST(ParseAddressList, RejectsBadLists) {
  const char* bad[] = {
      "root",                               // no domain
      "John Doe",                           // no domain
      "a@x.example, root",                  // second one has no domain
      "john doe@example.org",               // two words as local part
      "a..b@example.org",                   // empty word
      ".a@example.org",                     //
      "a.@example.org",                     //
      "@example.org",                       // no local part
      "a@",                                 // no domain
      "a@.example",                         //
      "a@example.",                         //
      "a@exa..mple",                        //
      "a@b@c",                              //
      "<>",                                 // null path is no recipient
      "<a@example.org",                     // missing '>'
      "a@example.org>",                     //
      "John <a@example.org> extra",         // junk after the address
      "<root>",                             //
      "\"unterminated@example.org",         //
      "a@example.org (unterminated",        //
      "a@example.org (x\\",                 //
      "a@example.org)",                     // stray ')'
      "a@[192.0.2.1",                       // unterminated literal
      "a@[1[2]",                            //
      "a@example.org;",                     // ';' outside a group
      "Outer: Inner: a@x.example;;",        // nested group
      ": a@x.example;",                     // group without a name
      "a\\b@example.org",                   // backslash outside quotes
      "a@exa\x01mple.org",                  // control character
      "<@route.example user@example.org>",  // route without ':'
      "<@:user@example.org>",               //
      "a@x.example b@y.example",            // missing comma
      "\"a\r\nb\"@x.example",               // line end inside quotes
      "\"a\\\x01\"@x.example",              // quoted control character
      "a@[1.2\n.3.4]",                      // control character in a literal
  };
  for (const char* in : bad) {
    auto r = parse_address_list(in, "the To header");
    ASSERT_FALSE(r.has_value()) << "accepted: " << in;
    EXPECT_EQ(r.error().stage, Stage::input);
    EXPECT_TRUE(r.error().permanent());
    EXPECT_EQ(r.error().reason, Reason::bad_data);
    EXPECT_TRUE(r.error().detail.starts_with("cannot parse the To header: ")) << r.error().detail;
  }
}

TEST(ParseAddressList, ErrorDetailHidesControlCharacters) {
  auto r = parse_address_list("root\x1b[2J", "x");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().detail.find('\x1b'), std::string::npos) << r.error().detail;
}

// ---- extract_recipients -------------------------------------------------------------------

TEST(ExtractRecipients, ToCcBcc) {
  auto r = extract_recipients(
      "From: me@here.example\r\n"
      "To: A <a@x.example>,\r\n b@y.example\r\n"
      "Subject: hi\r\n"
      "cc: c@z.example\r\n"
      "BCC: secret@w.example\r\n"
      "Reply-To: not@me.example\r\n"
      "\r\n"
      "To: body@not.example\r\n");
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_THAT(*r, ElementsAre("a@x.example", "b@y.example", "c@z.example", "secret@w.example"));
}

TEST(ExtractRecipients, ResentFieldsWinWhenAnyResentFieldExists) {
  auto r = extract_recipients(
      "To: old@x.example\r\n"
      "Resent-From: me@here.example\r\n"
      "Resent-To: new@y.example\r\n"
      "resent-cc: c@y.example\r\n"
      "Resent-Bcc: hidden@y.example\r\n"
      "\r\n");
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_THAT(*r, ElementsAre("new@y.example", "c@y.example", "hidden@y.example"));

  auto only_from = extract_recipients("To: old@x.example\r\nResent-Date: now\r\n\r\n");
  ASSERT_TRUE(only_from.has_value());
  EXPECT_THAT(*only_from, IsEmpty());
}

TEST(ExtractRecipients, DuplicatesDroppedDomainCaseInsensitive) {
  auto r =
      extract_recipients("To: a@X.example, b@x.example\r\nCc: a@x.EXAMPLE, A@x.example\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(*r, ElementsAre("a@X.example", "b@x.example", "A@x.example"));
}

TEST(ExtractRecipients, GroupsAndEmptyFields) {
  auto r = extract_recipients("To: undisclosed-recipients:;\r\nBcc:\r\nCc: \r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(*r, IsEmpty());
}

TEST(ExtractRecipients, ErrorNamesTheField) {
  auto r = extract_recipients("To: a@x.example\r\nCC: root\r\n\r\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().stage, Stage::input);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_EQ(r.error().reason, Reason::bad_data);
  EXPECT_NE(r.error().detail.find("CC header"), std::string::npos) << r.error().detail;
}

TEST(ExtractRecipients, IgnoresOtherFieldsEvenIfMalformed) {
  auto r = extract_recipients("From: garbage <<<\r\nTo: a@x.example\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(*r, ElementsAre("a@x.example"));
}

// ---- BccStripper --------------------------------------------------------------------------

std::string strip(std::string_view in, std::size_t chunk = 0) {
  BccStripper s;
  std::string out;
  if (chunk == 0) {
    s.feed(in, out);
  } else {
    for (std::size_t i = 0; i < in.size(); i += chunk) s.feed(in.substr(i, chunk), out);
  }
  s.finish(out);
  return out;
}

void expect_strip(std::string_view in, std::string_view want) {
  for (std::size_t chunk : {0, 1, 2, 3, 5, 7, 64}) {
    EXPECT_EQ(strip(in, chunk), want) << "chunk size " << chunk;
  }
}

TEST(BccStripper, RemovesBccFieldsWithContinuations) {
  expect_strip("From: me@x\r\nBcc: a@x,\r\n b@y,\r\n\tc@z\r\nTo: d@w\r\nbcc : e@x\r\n\r\nbody\r\n",
               "From: me@x\r\nTo: d@w\r\n\r\nbody\r\n");
  expect_strip("Resent-Bcc: a@x\r\nResent-To: b@y\r\n\r\n", "Resent-To: b@y\r\n\r\n");
  expect_strip("Bcc:\r\nSubject: s\r\n\r\n", "Subject: s\r\n\r\n");
}

TEST(BccStripper, KeepsSimilarNamesAndContinuationsOfOtherFields) {
  const char* in =
      "Bccx: keep\r\nX-Bcc: keep\r\nSubject: long\r\n Bcc: not a field\r\nTo: a@x\r\n\r\n";
  expect_strip(in, in);
}

TEST(BccStripper, BodyIsUntouched) {
  const char* in = "To: a@x\r\n\r\nBcc: in the body\r\n stays\r\n";
  expect_strip(in, in);
  // A non-field line ends the header section for the stripper as for the parser.
  const char* no_blank = "To: a@x\r\nnot a field\r\nBcc: b@y\r\n";
  expect_strip(no_blank, no_blank);
  const char* lead = " continuation first\r\nBcc: b@y\r\n";
  expect_strip(lead, lead);
  const char* bare_cr = "\rBcc: b@y\r\n";
  expect_strip(bare_cr, bare_cr);
}

TEST(BccStripper, HandlesUnterminatedInput) {
  expect_strip("To: a@x\r\nBcc: b@y", "To: a@x\r\n");
  expect_strip("To: a@x\r\nBcc", "To: a@x\r\nBcc");
  expect_strip("To: a@x\r\nBcc   ", "To: a@x\r\nBcc   ");
  expect_strip("To: a@x\r\n\r", "To: a@x\r\n\r");
  expect_strip("", "");
}

TEST(BccStripper, AgreesWithParserOnRecipients) {
  const std::string msg =
      "To: a@x.example\r\nBcc: b@y.example,\r\n c@z.example\r\nCc: d@w.example\r\n\r\nbody";
  auto before = extract_recipients(msg);
  ASSERT_TRUE(before.has_value());
  EXPECT_THAT(*before, ElementsAre("a@x.example", "b@y.example", "c@z.example", "d@w.example"));
  auto after = extract_recipients(strip(msg));
  ASSERT_TRUE(after.has_value());
  EXPECT_THAT(*after, ElementsAre("a@x.example", "d@w.example"));
}

TEST(BccStripper, LongFieldNameFedOctetByOctetIsLinear) {
  // The held-back name is scanned incrementally; rescanning it per octet would take minutes.
  std::string in =
      "X" + std::string(200000, 'a') + ": v\r\nBcc" + std::string(200000, ' ') + ": b@y\r\n\r\n";
  std::string want = in.substr(0, in.find("Bcc")) + "\r\n";
  EXPECT_EQ(strip(in, 1), want);
}

TEST(BccStripper, ReusableAfterFinish) {
  BccStripper s;
  std::string out;
  s.feed("To: a@x\r\n\r\nBcc: body\r\n", out);
  s.finish(out);
  s.feed("Bcc: b@y\r\nTo: c@z\r\n\r\n", out);
  s.finish(out);
  EXPECT_EQ(out, "To: a@x\r\n\r\nBcc: body\r\nTo: c@z\r\n\r\n");
}

}  // namespace
}  // namespace mx::message
