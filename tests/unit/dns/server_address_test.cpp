// Tests for DNS server address parsing and resolv.conf reading (dns/server_address).
#include "dns/server_address.hpp"

#include <gtest/gtest.h>

namespace mx::dns {
namespace {

TEST(ServerAddress, ParsesIpv4AndPort) {
  auto a = parse_server_address("127.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ip, "127.0.0.1");
  EXPECT_EQ(a->family, AF_INET);
  EXPECT_EQ(a->port, 53);
  auto b = parse_server_address("192.0.2.1@5353");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port, 5353);
  EXPECT_EQ(b->to_string(), "192.0.2.1@5353");
}

TEST(ServerAddress, ParsesIpv6Canonically) {
  auto a = parse_server_address("0:0:0:0:0:0:0:1@53");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ip, "::1");
  EXPECT_EQ(a->family, AF_INET6);
  EXPECT_TRUE(a->loopback());
}

TEST(ServerAddress, RejectsBadInput) {
  for (const char* bad :
       {"", "localhost", "127.0.0.1@", "127.0.0.1@0", "127.0.0.1@65536", "127.0.0.1@53x",
        "127.0.0.1:53", "1.2.3", "::1@-1", "@53", "127.0.0.1@@53", " 127.0.0.1"}) {
    auto a = parse_server_address(bad);
    ASSERT_FALSE(a) << bad;
    EXPECT_EQ(a.error().stage, Stage::config);
    EXPECT_TRUE(a.error().permanent());
  }
}

TEST(ServerAddress, Loopback) {
  EXPECT_TRUE(parse_server_address("127.0.0.1")->loopback());
  EXPECT_TRUE(parse_server_address("127.255.1.2")->loopback());
  EXPECT_TRUE(parse_server_address("::1")->loopback());
  EXPECT_FALSE(parse_server_address("128.0.0.1")->loopback());
  EXPECT_FALSE(parse_server_address("10.0.0.1")->loopback());
  EXPECT_FALSE(parse_server_address("::ffff:127.0.0.1")->loopback());
  EXPECT_FALSE(parse_server_address("::2")->loopback());
}

TEST(FirstNameserver, FindsTheFirstNameserverLine) {
  EXPECT_EQ(first_nameserver("# comment\nsearch example.net\n nameserver\t127.0.0.53 # x\n"
                             "nameserver 10.0.0.1\n"),
            "127.0.0.53");
  EXPECT_EQ(first_nameserver("nameserver ::1"), "::1");
  EXPECT_EQ(first_nameserver("nameserver 127.0.0.1;comment\r\n"), "127.0.0.1");
}

TEST(FirstNameserver, NoneWhenAbsent) {
  EXPECT_FALSE(first_nameserver(""));
  EXPECT_FALSE(first_nameserver("# nameserver 127.0.0.1\n;nameserver 127.0.0.1\n"));
  EXPECT_FALSE(first_nameserver("nameservers 127.0.0.1\nnameserver\n"));
}

}  // namespace
}  // namespace mx::dns
