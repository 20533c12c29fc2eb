// Tests for the SOCKS5 codec (net/socks5): message bytes, every reply code and address type,
// octet-by-octet reply parsing, bad versions and RFC 1929 length limits.
#include "net/socks5.hpp"

#include <string>

#include <gtest/gtest.h>

namespace mx::net::socks5 {
namespace {

const char* kProxy = "1.2.3.4:1080";

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s += static_cast<char>(b);
  return s;
}

TEST(Socks5Codec, GreetingOffersNoAuthOnly) {
  EXPECT_EQ(build_greeting(false), bytes({5, 1, 0}));
}

TEST(Socks5Codec, GreetingOffersUserPassWithCredentials) {
  EXPECT_EQ(build_greeting(true), bytes({5, 2, 0, 2}));
}

TEST(Socks5Codec, MethodSelectionNoAuth) {
  auto m = parse_method_selection(bytes({5, 0}), false, kProxy);
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(*m, kMethodNone);
}

TEST(Socks5Codec, MethodSelectionUserPassWhenOffered) {
  auto m = parse_method_selection(bytes({5, 2}), true, kProxy);
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, kMethodUserPass);
}

TEST(Socks5Codec, MethodSelectionUserPassNotOfferedIsProtocolError) {
  auto m = parse_method_selection(bytes({5, 2}), false, kProxy);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().stage, Stage::connect);
  EXPECT_EQ(m.error().reason, Reason::protocol);
  EXPECT_NE(m.error().detail.find("did not offer"), std::string::npos) << m.error().detail;
}

TEST(Socks5Codec, MethodSelectionGssapiIsRejected) {
  EXPECT_FALSE(parse_method_selection(bytes({5, 1}), true, kProxy));
}

TEST(Socks5Codec, NoAcceptableMethodWithoutCredentialsSaysAuthRequired) {
  auto m = parse_method_selection(bytes({5, 0xff}), false, kProxy);
  ASSERT_FALSE(m);
  EXPECT_TRUE(m.error().temporary());
  EXPECT_EQ(m.error().detail,
            "SOCKS5 proxy 1.2.3.4:1080: requires authentication; give user:pass@ in the proxy URL");
}

TEST(Socks5Codec, NoAcceptableMethodWithCredentials) {
  auto m = parse_method_selection(bytes({5, 0xff}), true, kProxy);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().detail.find("rejected our authentication methods"), std::string::npos);
}

TEST(Socks5Codec, MethodSelectionBadVersion) {
  for (int v : {0, 4, 1, 0xff}) {
    auto m = parse_method_selection(bytes({v, 0}), false, kProxy);
    ASSERT_FALSE(m) << v;
    EXPECT_NE(m.error().detail.find("not a SOCKS5 proxy"), std::string::npos);
  }
}

TEST(Socks5Codec, MethodSelectionWrongSize) {
  EXPECT_FALSE(parse_method_selection(bytes({5}), false, kProxy));
  EXPECT_FALSE(parse_method_selection(bytes({5, 0, 0}), false, kProxy));
}

TEST(Socks5Codec, AuthRequestBytes) {
  auto r = build_auth_request({"user", "pw"}, kProxy);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, bytes({1, 4, 'u', 's', 'e', 'r', 2, 'p', 'w'}));
}

TEST(Socks5Codec, AuthRequestLimits) {
  const std::string max(255, 'x');
  const std::string too_long(256, 'x');
  EXPECT_TRUE(build_auth_request({max, max}, kProxy));
  EXPECT_TRUE(build_auth_request({"a", "b"}, kProxy));
  for (const Credentials& c : {Credentials{"", "p"}, Credentials{"u", ""},
                               Credentials{too_long, "p"}, Credentials{"u", too_long}}) {
    auto r = build_auth_request(c, kProxy);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().permanent());
    EXPECT_EQ(r.error().stage, Stage::config);
    EXPECT_NE(r.error().detail.find("1 to 255 octets"), std::string::npos);
  }
}

TEST(Socks5Codec, AuthReplySuccess) {
  EXPECT_TRUE(parse_auth_reply(bytes({1, 0}), kProxy));
  EXPECT_TRUE(parse_auth_reply(bytes({5, 0}), kProxy));  // servers that echo the SOCKS version
}

TEST(Socks5Codec, AuthReplyFailure) {
  auto r = parse_auth_reply(bytes({1, 1}), kProxy);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().temporary());
  EXPECT_EQ(r.error().stage, Stage::connect);
  EXPECT_EQ(r.error().detail,
            "SOCKS5 proxy 1.2.3.4:1080: username/password authentication failed (status 1)");
}

TEST(Socks5Codec, AuthReplyBadVersionOrSize) {
  EXPECT_FALSE(parse_auth_reply(bytes({2, 0}), kProxy));
  EXPECT_FALSE(parse_auth_reply(bytes({1}), kProxy));
  EXPECT_FALSE(parse_auth_reply(bytes({1, 0, 0}), kProxy));
}

TEST(Socks5Codec, ConnectIpv4) {
  auto r = build_connect({"192.0.2.7", 25}, kProxy);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, bytes({5, 1, 0, 1, 192, 0, 2, 7, 0, 25}));
}

TEST(Socks5Codec, ConnectIpv6) {
  auto r = build_connect({"2001:db8::1", 0x1234}, kProxy);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, bytes({5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
                       0, 0, 0, 0, 0,    0,    0,    0,    1, 0x12, 0x34}));
}

TEST(Socks5Codec, ConnectNeverSendsAName) {
  for (const char* name : {"mx.example", "", "1.2.3", "[::1]", "::1%lo"}) {
    auto r = build_connect({name, 25}, kProxy);
    ASSERT_FALSE(r) << name;
    EXPECT_TRUE(r.error().permanent());
    EXPECT_NE(r.error().detail.find("must not resolve"), std::string::npos);
  }
}

// ---- CONNECT replies -------------------------------------------------------------------------

struct CodeCase {
  int code;
  const char* text;
  bool permanent;
};

class Socks5ReplyCode : public ::testing::TestWithParam<CodeCase> {};

TEST_P(Socks5ReplyCode, MapsToMessageAndPermanence) {
  const CodeCase& c = GetParam();
  std::size_t need = 0;
  // Known as soon as the REP octet is there; a complete reply gives the same error.
  for (const std::string& data : {bytes({5, c.code}), bytes({5, c.code, 0, 1, 0, 0, 0, 0, 0, 0})}) {
    auto r = parse_connect_reply(data, &need, kProxy);
    ASSERT_FALSE(r) << c.code;
    EXPECT_EQ(r.error().stage, Stage::connect);
    EXPECT_EQ(r.error().permanent(), c.permanent) << c.code;
    EXPECT_EQ(r.error().detail, std::string("SOCKS5 proxy 1.2.3.4:1080: ") + c.text + " (reply " +
                                    std::to_string(c.code) + ")");
  }
}

INSTANTIATE_TEST_SUITE_P(AllCodes, Socks5ReplyCode,
                         ::testing::Values(CodeCase{1, "general SOCKS server failure", false},
                                           CodeCase{2, "connection not allowed by ruleset", false},
                                           CodeCase{3, "network unreachable", false},
                                           CodeCase{4, "host unreachable", false},
                                           CodeCase{5, "connection refused", false},
                                           CodeCase{6, "TTL expired", false},
                                           CodeCase{7, "command not supported", true},
                                           CodeCase{8, "address type not supported", true},
                                           CodeCase{9, "unknown reply code", false},
                                           CodeCase{0xff, "unknown reply code", false}));

TEST(Socks5Reply, Ipv4WithTrailingStreamBytes) {
  std::string data = bytes({5, 0, 0, 1, 10, 1, 2, 3, 0x04, 0x38}) + "220 mx ESMTP\r\n";
  std::size_t need = 0;
  auto r = parse_connect_reply(data, &need, kProxy);
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->consumed, 10u);
  EXPECT_EQ((*r)->atyp, kAtypIpv4);
  EXPECT_EQ((*r)->bound_address, "10.1.2.3");
  EXPECT_EQ((*r)->bound_port, 1080);
  EXPECT_EQ(data.substr((*r)->consumed), "220 mx ESMTP\r\n");
}

TEST(Socks5Reply, Ipv6) {
  std::string data =
      bytes({5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 25});
  std::size_t need = 0;
  auto r = parse_connect_reply(data, &need, kProxy);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->consumed, 22u);
  EXPECT_EQ((*r)->bound_address, "2001:db8::2");
  EXPECT_EQ((*r)->bound_port, 25);
}

TEST(Socks5Reply, DomainName) {
  std::string data = bytes({5, 0, 0, 3, 11}) + "proxy.local" + bytes({0, 80}) + "X";
  std::size_t need = 0;
  auto r = parse_connect_reply(data, &need, kProxy);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->consumed, 5u + 11 + 2);
  EXPECT_EQ((*r)->atyp, kAtypDomain);
  EXPECT_EQ((*r)->bound_address, "proxy.local");
  EXPECT_EQ((*r)->bound_port, 80);
}

TEST(Socks5Reply, EmptyAndUnprintableDomainName) {
  std::size_t need = 0;
  auto empty = parse_connect_reply(bytes({5, 0, 0, 3, 0, 0, 1}), &need, kProxy);
  ASSERT_TRUE(empty);
  ASSERT_TRUE(empty->has_value());
  EXPECT_EQ((*empty)->consumed, 7u);
  EXPECT_EQ((*empty)->bound_address, "");

  auto odd = parse_connect_reply(bytes({5, 0, 0, 3, 3, 'a', 0, '\n', 0, 1}), &need, kProxy);
  ASSERT_TRUE(odd);
  ASSERT_TRUE(odd->has_value());
  EXPECT_EQ((*odd)->bound_address, "a??");
}

TEST(Socks5Reply, ReservedOctetIsIgnored) {
  std::size_t need = 0;
  auto r = parse_connect_reply(bytes({5, 0, 0x7f, 1, 1, 2, 3, 4, 0, 1}), &need, kProxy);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_value());
}

TEST(Socks5Reply, BadVersion) {
  std::size_t need = 0;
  for (int v : {0, 4, 1, 0x48}) {  // 0x48: 'H' of an HTTP proxy's answer
    auto r = parse_connect_reply(bytes({v}), &need, kProxy);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, Reason::protocol);
    EXPECT_NE(r.error().detail.find("not a SOCKS5 reply"), std::string::npos);
  }
}

TEST(Socks5Reply, UnknownAddressType) {
  std::size_t need = 0;
  for (int atyp : {0, 2, 5, 0xff}) {
    auto r = parse_connect_reply(bytes({5, 0, 0, atyp}), &need, kProxy);
    ASSERT_FALSE(r) << atyp;
    EXPECT_NE(r.error().detail.find("unknown address type"), std::string::npos);
  }
}

// Fed one octet at a time, the parser asks for exactly what the dialer may read without
// touching the stream behind the reply, and completes exactly at the reply's end.
TEST(Socks5Reply, OctetByOctetNeverOverreads) {
  const std::string replies[] = {
      bytes({5, 0, 0, 1, 127, 0, 0, 1, 0, 25}),
      bytes({5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 25}),
      bytes({5, 0, 0, 3, 4}) + "host" + bytes({1, 0}),
      bytes({5, 0, 0, 3, 0, 1, 0}),
  };
  for (const std::string& reply : replies) {
    std::string data = reply + "220 greeting";
    std::string fed;
    std::size_t steps = 0;
    for (;;) {
      std::size_t need = 0;
      auto r = parse_connect_reply(fed, &need, kProxy);
      ASSERT_TRUE(r) << r.error().detail;
      if (r->has_value()) {
        EXPECT_EQ((*r)->consumed, reply.size());
        EXPECT_EQ(fed.size(), reply.size());
        break;
      }
      ASSERT_GT(need, fed.size());
      ASSERT_LE(need, reply.size());
      fed += data[fed.size()];
      ASSERT_LT(++steps, 300u);
    }
  }
}

TEST(Socks5Reply, NeedStepsAreExact) {
  std::size_t need = 0;
  ASSERT_TRUE(parse_connect_reply("", &need, kProxy));
  EXPECT_EQ(need, 4u);
  ASSERT_TRUE(parse_connect_reply(bytes({5, 0, 0, 1}), &need, kProxy));
  EXPECT_EQ(need, 10u);
  ASSERT_TRUE(parse_connect_reply(bytes({5, 0, 0, 4}), &need, kProxy));
  EXPECT_EQ(need, 22u);
  ASSERT_TRUE(parse_connect_reply(bytes({5, 0, 0, 3}), &need, kProxy));
  EXPECT_EQ(need, 5u);
  ASSERT_TRUE(parse_connect_reply(bytes({5, 0, 0, 3, 255}), &need, kProxy));
  EXPECT_EQ(need, 5u + 255 + 2);
}

}  // namespace
}  // namespace mx::net::socks5
