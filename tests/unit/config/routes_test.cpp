// Tests for route selection: exact and ".subdomain" domain matches, sender domains,
// min_attempt, all criteria together, first match wins, and no match meaning direct delivery.
#include "config/routes.hpp"

#include <ostream>
#include <string>

#include <gtest/gtest.h>

namespace mx::config {
namespace {

constexpr const char* kRoutes = R"(
[transports.relay]
type = "smtp"
host = "relay.example.org"
[transports.sub]
type = "submission"
host = "smtp.example.org"
username = "u"
password_env = "PW"
[transports.late]
type = "direct"
proxy_command = "ssh -W %h:%p jump"
[transports.nested]
type = "socks"
proxy = "socks5://127.0.0.1:1080"
[transports.both]
type = "direct"

[[routes]]                     # 1: exact domain
recipient_domains = ["Example.COM"]
transport = "relay"

[[routes]]                     # 2: subdomains of example.net, not example.net itself
recipient_domains = [".example.net"]
transport = "nested"

[[routes]]                     # 3: recipient AND sender must match
recipient_domains = ["corp.example"]
sender_domains = ["example.org", ".example.org"]
transport = "both"

[[routes]]                     # 4: any recipient, this sender
sender_domains = ["example.org"]
transport = "sub"

[[routes]]                     # 5: shadowed for example.com by route 1
recipient_domains = ["example.com", "late.example"]
min_attempt = 3
transport = "late"
)";

struct Case {
  const char* recipient;
  const char* sender;
  int attempt;
  const char* expected;  // transport name, or nullptr for direct delivery
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << "{" << c.recipient << ", " << c.sender << ", " << c.attempt << " -> "
      << (c.expected ? c.expected : "direct") << "}";
}

const Config& routes_config() {
  static const Config config = [] {
    auto c = parse_config(kRoutes, "routes.toml");
    EXPECT_TRUE(c.has_value()) << c.error().detail;
    return c ? *c : Config{};
  }();
  return config;
}

class RouteTable : public ::testing::TestWithParam<Case> {};

TEST_P(RouteTable, Selects) {
  const Case& c = GetParam();
  ASSERT_EQ(routes_config().routes.size(), 5u);
  const Transport* t = select_transport(routes_config(), c.recipient, c.sender, c.attempt);
  if (c.expected == nullptr) {
    EXPECT_EQ(t, nullptr) << "got " << (t ? t->name : "");
  } else {
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->name, c.expected);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, RouteTable,
    ::testing::Values(
        // Exact domain, case-insensitive, trailing dot ignored; subdomains do not match it.
        Case{"example.com", "", 1, "relay"}, Case{"EXAMPLE.com", "x.test", 1, "relay"},
        Case{"example.com.", "", 1, "relay"}, Case{"mail.example.com", "", 1, nullptr},
        Case{"xexample.com", "", 1, nullptr},
        // ".example.net": any subdomain, at any depth, but not example.net itself.
        Case{"a.example.net", "", 1, "nested"}, Case{"b.a.Example.Net", "", 1, "nested"},
        Case{"example.net", "", 1, nullptr}, Case{"badexample.net", "", 1, nullptr},
        // Recipient and sender together.
        Case{"corp.example", "example.org", 1, "both"},
        Case{"corp.example", "dept.example.org", 1, "both"},
        Case{"corp.example", "other.test", 1, nullptr}, Case{"corp.example", "", 1, nullptr},
        // Any recipient for this sender; the null sender matches no sender list.
        Case{"anywhere.test", "Example.ORG", 1, "sub"},
        Case{"anywhere.test", "dept.example.org", 1, nullptr},
        // First match wins: route 1 beats route 4 for example.com from example.org.
        Case{"example.com", "example.org", 1, "relay"},
        // min_attempt: route 5 only from attempt 3 on; route 1 still shadows example.com.
        Case{"late.example", "", 1, nullptr}, Case{"late.example", "", 2, nullptr},
        Case{"late.example", "", 3, "late"}, Case{"late.example", "", 9, "late"},
        Case{"example.com", "", 5, "relay"},
        // Nothing configured for this domain: direct delivery.
        Case{"unrelated.test", "unrelated.test", 7, nullptr}, Case{"", "", 1, nullptr}));

TEST(Routes, NoRoutesMeansDirect) {
  Config c;
  EXPECT_EQ(select_transport(c, "example.com", "example.org", 1), nullptr);
}

TEST(Routes, CatchAllRouteMatchesEverything) {
  auto c = parse_config("[transports.all]\ntype = \"direct\"\n[[routes]]\ntransport = \"all\"\n",
                        "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  const Transport* t = select_transport(*c, "x.test", "", 1);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "all");
  EXPECT_EQ(select_transport(*c, "x.test", "", 0), nullptr);  // below min_attempt 1
}

TEST(Routes, EmptyListsMatchAny) {
  auto c = parse_config(
      "[transports.all]\ntype = \"direct\"\n[[routes]]\nrecipient_domains = []\nsender_domains = "
      "[]\ntransport = \"all\"\n",
      "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  EXPECT_NE(select_transport(*c, "x.test", "y.test", 1), nullptr);
}

TEST(Routes, HandBuiltConfigFindsTransportByName) {
  Config c;
  c.transports.push_back(Transport{"b", DirectTransport{}, 0});
  c.transports.push_back(Transport{"a", DirectTransport{}, 0});
  Route r;
  r.transport = "A";  // transport_index left at 0, which is "b": the name decides
  c.routes.push_back(r);
  const Transport* t = select_transport(c, "x.test", "", 1);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "a");
  c.routes[0].transport = "missing";  // a route naming no transport is skipped
  EXPECT_EQ(select_transport(c, "x.test", "", 1), nullptr);
}

TEST(DomainMatches, Patterns) {
  EXPECT_TRUE(domain_matches("example.com", "example.com"));
  EXPECT_TRUE(domain_matches("example.com", "Example.Com."));
  EXPECT_FALSE(domain_matches("example.com", "a.example.com"));
  EXPECT_TRUE(domain_matches(".example.com", "a.example.com"));
  EXPECT_TRUE(domain_matches(".example.com", "a.b.example.com"));
  EXPECT_FALSE(domain_matches(".example.com", "example.com"));
  EXPECT_FALSE(domain_matches(".example.com", "aexample.com"));
  EXPECT_FALSE(domain_matches(".example.com", ".example.com"));
  EXPECT_FALSE(domain_matches("example.com", ""));
  EXPECT_FALSE(domain_matches("", "example.com"));
}

}  // namespace
}  // namespace mx::config
