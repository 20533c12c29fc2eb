// Tests for the configuration reader: the full example, every error kind with its file:line,
// the default search path, and the submission password loader's permission checks.
#include "config/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mx::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mxconfig-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    std::string p = path_ + "/" + name;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

Config parse_ok(const std::string& text) {
  auto c = parse_config(text, "/etc/mx/test.toml");
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().detail);
  return c ? *c : Config{};
}

/// Parses `text` expecting an error at `line` whose detail contains `needle`.
void expect_error(const std::string& text, int line, const std::string& needle) {
  auto c = parse_config(text, "test.toml");
  ASSERT_FALSE(c.has_value()) << "no error for:\n" << text;
  EXPECT_EQ(c.error().stage, Stage::config);
  EXPECT_TRUE(c.error().permanent());
  EXPECT_THAT(c.error().detail, StartsWith("config test.toml:" + std::to_string(line) + ": "))
      << text;
  EXPECT_THAT(c.error().detail, HasSubstr(needle));
}

std::string example_path() {
  return (fs::path(__FILE__).parent_path() / "../../../docs/config.example.toml").string();
}

// --- parsing -------------------------------------------------------------------------------

TEST(ConfigParse, FullExampleFile) {
  auto c = load_config_file(example_path());
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  const Defaults& d = c->defaults;
  EXPECT_EQ(d.helo, "mail.example.org");
  EXPECT_EQ(d.tls_policy, "dane");
  EXPECT_EQ(d.require_tls, false);
  EXPECT_EQ(d.mta_sts, true);
  EXPECT_EQ(d.resolver, "127.0.0.1@53");
  EXPECT_EQ(d.trust_anchor, "/usr/share/dns/root.key");
  EXPECT_FALSE(d.root_hints.has_value());
  EXPECT_EQ(d.ca_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(d.ca_path, "/etc/ssl/certs");
  EXPECT_EQ(d.sts_cache, "/var/cache/mxclient/sts");
  EXPECT_EQ(d.proxy, "socks5://user:secret@127.0.0.1:1080");
  EXPECT_FALSE(d.proxy_command.has_value());
  EXPECT_EQ(d.timeout, 600.0);
  ASSERT_EQ(d.smtp_timeouts.size(), 4u);
  EXPECT_EQ(d.smtp_timeouts[0].assignment(), "connect=30");  // file order, not sorted
  EXPECT_EQ(d.smtp_timeouts[1].assignment(), "greeting=300");
  EXPECT_EQ(d.smtp_timeouts[2].assignment(), "rcpt=300");
  EXPECT_EQ(d.smtp_timeouts[3].assignment(), "data_end=600");

  ASSERT_EQ(c->transports.size(), 4u);
  const Transport* relay = c->find_transport("relay");
  ASSERT_NE(relay, nullptr);
  EXPECT_EQ(relay->type(), TransportType::smtp);
  ASSERT_NE(relay->smtp(), nullptr);
  EXPECT_EQ(relay->smtp()->host, "relay.example.org");
  EXPECT_EQ(relay->smtp()->port, 25);
  EXPECT_EQ(relay->smtp()->tls, TlsMode::starttls);

  const Transport* submit = c->find_transport("submit");
  ASSERT_NE(submit, nullptr);
  ASSERT_NE(submit->submission(), nullptr);
  const SubmissionTransport& s = *submit->submission();
  EXPECT_EQ(s.host, "smtp.example.net");
  EXPECT_EQ(s.tls, TlsMode::implicit);
  EXPECT_EQ(s.port, 465);
  EXPECT_EQ(s.username, "alice@example.net");
  std::string dir = fs::path(example_path()).parent_path().string();
  EXPECT_EQ(s.password_file, dir + "/submit.password");  // relative to the config file
  EXPECT_FALSE(s.password_env.has_value());
  EXPECT_THAT(s.auth_mechanisms, ElementsAre("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"));
  EXPECT_EQ(s.client_cert, dir + "/client.crt");
  EXPECT_EQ(s.client_key, dir + "/client.key");
  EXPECT_EQ(s.ca_file, "/etc/ssl/certs/ca-certificates.crt");

  const Transport* tor = c->find_transport("tor");
  ASSERT_NE(tor, nullptr);
  ASSERT_NE(tor->socks(), nullptr);
  EXPECT_EQ(tor->socks()->proxy, "socks5://127.0.0.1:9050");
  const Transport* jump = c->find_transport("jump");
  ASSERT_NE(jump, nullptr);
  ASSERT_NE(jump->direct(), nullptr);
  EXPECT_EQ(jump->direct()->proxy_command, "ssh -W %h:%p relay.example.org");
  EXPECT_FALSE(jump->direct()->proxy.has_value());

  ASSERT_EQ(c->routes.size(), 4u);
  EXPECT_THAT(c->routes[0].recipient_domains, ElementsAre("example.com", ".example.com"));
  EXPECT_EQ(c->routes[0].transport, "relay");
  EXPECT_EQ(&c->transports[c->routes[0].transport_index], relay);
  EXPECT_THAT(c->routes[1].sender_domains, ElementsAre("example.net"));
  EXPECT_EQ(c->routes[1].min_attempt, 1);
  EXPECT_EQ(c->routes[3].min_attempt, 3);
  EXPECT_TRUE(c->routes[3].recipient_domains.empty());
  EXPECT_EQ(&c->transports[c->routes[3].transport_index], jump);
}

TEST(ConfigParse, EmptyTextIsAllDefaults) {
  Config c = parse_ok("");
  EXPECT_FALSE(c.defaults.helo.has_value());
  EXPECT_FALSE(c.defaults.require_tls.has_value());
  EXPECT_TRUE(c.transports.empty());
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.path, "/etc/mx/test.toml");
}

TEST(ConfigParse, PortDefaultsFollowTlsMode) {
  Config c = parse_ok(R"(
[transports.a]
type = "submission"
host = "smtp.example.net"
username = "u"
password_env = "PW"
[transports.b]
type = "submission"
host = "smtp.example.net"
tls = "implicit"
username = "u"
password_env = "PW"
[transports.c]
type = "submission"
host = "smtp.example.net"
tls = "implicit"
port = 2465
username = "u"
password_env = "PW"
[transports.d]
type = "smtp"
host = "relay.example.net"
tls = "none"
)");
  ASSERT_EQ(c.transports.size(), 4u);
  EXPECT_EQ(c.find_transport("a")->submission()->port, 587);
  EXPECT_EQ(c.find_transport("a")->submission()->tls, TlsMode::starttls);
  EXPECT_EQ(c.find_transport("b")->submission()->port, 465);
  EXPECT_EQ(c.find_transport("c")->submission()->port, 2465);
  EXPECT_EQ(c.find_transport("d")->smtp()->port, 25);
  EXPECT_EQ(c.find_transport("d")->smtp()->tls, TlsMode::none);
  EXPECT_TRUE(c.find_transport("a")->submission()->auth_mechanisms.empty());
}

TEST(ConfigParse, NormalisesHostsDomainsAndMechanisms) {
  Config c = parse_ok(R"(
[transports.Relay6]
type = "smtp"
host = "[2001:db8::25]"
[transports.sub]
type = "submission"
host = "SMTP.Example.NET"
username = "u"
password_env = "PW"
auth_mechanisms = ["scram-sha-256"]
[[routes]]
recipient_domains = ["Example.COM", ".Sub.Example.com"]
transport = "relay6"
)");
  EXPECT_EQ(c.find_transport("relay6")->smtp()->host, "2001:db8::25");
  EXPECT_EQ(c.find_transport("RELAY6")->name, "Relay6");  // names compare without case
  EXPECT_EQ(c.find_transport("sub")->submission()->host, "smtp.example.net");
  EXPECT_THAT(c.find_transport("sub")->submission()->auth_mechanisms, ElementsAre("SCRAM-SHA-256"));
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_THAT(c.routes[0].recipient_domains, ElementsAre("example.com", ".sub.example.com"));
  EXPECT_EQ(c.routes[0].transport, "Relay6");
}

TEST(ConfigParse, RelativePathsFollowTheConfigFile) {
  Config c = parse_ok(R"(
[defaults]
trust_anchor = "keys/root.key"
sts_cache = "/abs/sts"
)");
  EXPECT_EQ(c.defaults.trust_anchor, "/etc/mx/keys/root.key");
  EXPECT_EQ(c.defaults.sts_cache, "/abs/sts");
}

TEST(ConfigParse, FractionalTimeoutsAndHeloLiteral) {
  Config c = parse_ok(R"(
[defaults]
helo = "[IPv6:2001:db8::1]"
timeout = 1.5
smtp_timeouts = { data_block = 2.5 }
)");
  EXPECT_EQ(c.defaults.helo, "[IPv6:2001:db8::1]");
  EXPECT_EQ(c.defaults.timeout, 1.5);
  ASSERT_EQ(c.defaults.smtp_timeouts.size(), 1u);
  EXPECT_EQ(c.defaults.smtp_timeouts[0].name, "data_block");
  EXPECT_EQ(c.defaults.smtp_timeouts[0].seconds, 2.5);
  EXPECT_THAT(c.defaults.smtp_timeouts[0].assignment(), StartsWith("data_block=2.5"));
}

TEST(ConfigParse, DirectTransportWithoutProxyIsPlain) {
  Config c = parse_ok("[transports.plain]\ntype = \"direct\"\n");
  ASSERT_NE(c.find_transport("plain"), nullptr);
  EXPECT_EQ(c.find_transport("plain")->type(), TransportType::direct);
  EXPECT_FALSE(c.find_transport("plain")->direct()->proxy.has_value());
  EXPECT_STREQ(transport_type_name(TransportType::submission), "submission");
  EXPECT_STREQ(tls_mode_name(TlsMode::implicit), "implicit");
}

// --- errors --------------------------------------------------------------------------------

TEST(ConfigErrors, UnknownKeysNameKeyTableAndLine) {
  expect_error("[defaults]\nhelo = \"a.example\"\nhelo_name = \"x\"\n", 3,
               "unknown key 'helo_name' in [defaults]");
  expect_error("\n\nverbose = true\n", 3, "unknown key 'verbose' in the top-level table");
  expect_error("[defaults.smtp_timeouts]\nrcpt = 3\nrctp = 3\n", 3,
               "unknown key 'rctp' in [defaults.smtp_timeouts]");
  expect_error("[transports.r]\ntype = \"smtp\"\nhost = \"r.example\"\nprot = 25\n", 4,
               "unknown key 'prot' in [transports.r] (type smtp)");
  expect_error(
      "[transports.x]\ntype = \"direct\"\n[[routes]]\ntransport = \"x\"\n[[routes]]\n"
      "domains = [\"a.example\"]\ntransport = \"x\"\n",
      6, "unknown key 'domains' in [[routes]] #2");
  // A key that only another transport type takes.
  expect_error("[transports.r]\ntype = \"smtp\"\nhost = \"r.example\"\nusername = \"u\"\n", 4,
               "unknown key 'username' in [transports.r] (type smtp)");
  expect_error("[transports.r]\ntype = \"socks\"\nproxy = \"socks5://127.0.0.1\"\nhost = \"x\"\n",
               4, "unknown key 'host'");
}

TEST(ConfigErrors, UnknownKeyListsValidKeys) {
  expect_error("[transports.r]\ntype = \"direct\"\nproxy_cmd = \"ssh\"\n", 3,
               "(valid keys: type, proxy, proxy_command)");
}

TEST(ConfigErrors, TomlSyntaxAndDuplicateTables) {
  expect_error("[defaults]\nhelo = \n", 2, "TOML syntax");
  expect_error("[transports.a]\ntype = \"direct\"\n[transports.a]\ntype = \"direct\"\n", 3,
               "TOML syntax");
  expect_error("[defaults]\nhelo = \"a.example\"\nhelo = \"b.example\"\n", 3, "TOML syntax");
}

TEST(ConfigErrors, DuplicateTransportNamesWithoutCase) {
  expect_error("[transports.relay]\ntype = \"direct\"\n[transports.Relay]\ntype = \"direct\"\n", 3,
               "duplicate transport name");
}

TEST(ConfigErrors, WrongTypes) {
  expect_error("defaults = 3\n", 1, "defaults must be a table, not an integer");
  expect_error("[defaults]\nrequire_tls = \"yes\"\n", 2,
               "defaults.require_tls must be true or false, not a string");
  expect_error("[defaults]\nhelo = 7\n", 2, "defaults.helo must be a string, not an integer");
  expect_error("[defaults]\ntimeout = \"600\"\n", 2, "defaults.timeout must be a number");
  expect_error("[defaults]\nsmtp_timeouts = 5\n", 2, "defaults.smtp_timeouts must be a table");
  expect_error("transports = [1]\n", 1, "transports must be a table");
  expect_error("transports = { a = 1 }\n", 1, "transports.a must be a table, not an integer");
  expect_error("[routes]\ntransport = \"a\"\n", 1, "routes must be an array of tables");
  expect_error("[transports.r]\ntype = \"smtp\"\nhost = \"r.example\"\nport = \"25\"\n", 4,
               "transports.r.port must be an integer, not a string");
  expect_error("[transports.r]\ntype = \"smtp\"\nhost = \"r.example\"\nport = 25.0\n", 4,
               "must be an integer, not a float");
  expect_error("[transports.r]\ntype = 1\n", 2, "transports.r.type must be a string");
  expect_error(
      "[transports.r]\ntype = \"direct\"\n[[routes]]\nrecipient_domains = \"a.example\"\n"
      "transport = \"r\"\n",
      4, "routes #1.recipient_domains must be an array of strings, not a string");
  expect_error(
      "[transports.r]\ntype = \"direct\"\n[[routes]]\nsender_domains = [\n  \"a.example\",\n  "
      "3,\n]\ntransport = \"r\"\n",
      6, "each element of routes #1.sender_domains must be a string, not an integer");
  expect_error(
      "[transports.r]\ntype = \"direct\"\n[[routes]]\ntransport = \"r\"\nmin_attempt = "
      "\"3\"\n",
      5, "min_attempt must be an integer");
}

TEST(ConfigErrors, BadValues) {
  const std::string smtp = "[transports.r]\ntype = \"smtp\"\nhost = \"r.example\"\n";
  expect_error(smtp + "port = 0\n", 4, "transports.r.port must be between 1 and 65535, not 0");
  expect_error(smtp + "port = 65536\n", 4, "between 1 and 65535");
  expect_error(smtp + "tls = \"STARTTLS\"\n", 4, "is not one of starttls, implicit, none");
  expect_error("[transports.r]\ntype = \"lmtp\"\n", 2,
               "transports.r.type 'lmtp' is not one of direct, smtp, submission, socks");
  expect_error("[transports.r]\ntype = \"smtp\"\nhost = \"-bad.example\"\n", 3,
               "is neither a domain name nor an IP address");
  expect_error("[transports.r]\ntype = \"smtp\"\nhost = \"\"\n", 3, "must not be empty");
  expect_error("[defaults]\ntls_policy = \"strict\"\n", 2,
               "tls_policy 'strict' is not one of dane, dane-only, verify");
  expect_error("[defaults]\nresolver = \"127.0.0.1@0\"\n", 2, "must be IP or IP@port");
  expect_error("[defaults]\nresolver = \"dns.example\"\n", 2, "must be IP or IP@port");
  expect_error("[defaults]\nhelo = \"bad_name.example\"\n", 2, "defaults.helo");
  expect_error("[defaults]\ntimeout = 0\n", 2, "defaults.timeout must be more than 0");
  expect_error("[defaults]\ntimeout = -5\n", 2, "more than 0");
  expect_error("[defaults]\ntimeout = 700000\n", 2, "at most 604800 seconds");
  expect_error("[defaults]\ntimeout = nan\n", 2, "more than 0");
  expect_error("[defaults.smtp_timeouts]\nrcpt = 86401\n", 2,
               "defaults.smtp_timeouts.rcpt must be more than 0 and at most 86400");
  expect_error("[defaults]\nproxy = \"http://127.0.0.1:3128\"\n", 2,
               "defaults.proxy must be a socks5://");
  expect_error("[defaults]\nproxy = \"socks5://127.0.0.1\"\nproxy_command = \"nc %h %p\"\n", 3,
               "either proxy or proxy_command, not both");
  expect_error("[transports.r]\ntype = \"direct\"\nproxy_command = \"a\\nb\"\n", 3,
               "proxy_command must be one line");
  expect_error(
      "[transports.r]\ntype = \"direct\"\n[[routes]]\ntransport = \"r\"\nmin_attempt = 0\n", 5,
      "min_attempt must be between 1 and");
  expect_error("[transports.bad.name]\ntype = \"direct\"\n", 1,
               "transports.bad: 'type' is required");
  expect_error("[transports.\"bad name\"]\ntype = \"direct\"\n", 1,
               "transport name 'bad name' must be");
}

TEST(ConfigErrors, RouteDomainSyntax) {
  const std::string head = "[transports.r]\ntype = \"direct\"\n[[routes]]\ntransport = \"r\"\n";
  for (const char* bad : {"a..example", "..example", "example.", "-a.example", "a-.example",
                          "a_b.example", "exämple.com", "a b.example", "."}) {
    expect_error(head + "recipient_domains = [\"" + bad + "\"]\n", 5, "is not a domain name");
  }
  expect_error(head + "recipient_domains = [\"" + std::string(64, 'a') + ".example\"]\n", 5,
               "is not a domain name");
  expect_error(head + "sender_domains = [\"\"]\n", 5, "has an empty string");
}

TEST(ConfigErrors, MissingRequiredKeys) {
  expect_error("\n[transports.r]\nhost = \"r.example\"\n", 2, "transports.r: 'type' is required");
  expect_error("[transports.r]\ntype = \"smtp\"\n", 1, "transports.r: 'host' is required");
  expect_error("[transports.r]\ntype = \"submission\"\nusername = \"u\"\npassword_env = \"P\"\n", 1,
               "'host' is required");
  expect_error(
      "[transports.r]\ntype = \"submission\"\nhost = \"s.example\"\npassword_env = \"P\"\n", 1,
      "'username' is required");
  expect_error("[transports.r]\ntype = \"submission\"\nhost = \"s.example\"\nusername = \"u\"\n", 1,
               "needs password_file or password_env");
  expect_error("[transports.r]\ntype = \"socks\"\n", 1, "needs proxy or proxy_command");
  expect_error("[transports.r]\ntype = \"direct\"\n[[routes]]\nrecipient_domains = []\n", 3,
               "routes #1: 'transport' is required");
}

TEST(ConfigErrors, SubmissionRules) {
  const std::string head =
      "[transports.s]\ntype = \"submission\"\nhost = \"s.example\"\nusername = \"u\"\n";
  expect_error(head + "password_env = \"P\"\ntls = \"none\"\n", 6, "submission needs TLS");
  expect_error(head + "password_env = \"P\"\npassword_file = \"/p\"\n", 5,
               "either password_file or password_env, not both");
  expect_error(head + "password_env = \"MY-PW\"\n", 5, "is not an environment variable name");
  expect_error(head + "password_env = \"P\"\nauth_mechanisms = []\n", 6, "must not be empty");
  expect_error(head + "password_env = \"P\"\nauth_mechanisms = [\"PLAIN\", \"SCRAM SHA\"]\n", 6,
               "'SCRAM SHA' is not a SASL mechanism name");
  expect_error(head + "password_env = \"P\"\nclient_cert = \"c.pem\"\n", 6,
               "client_cert needs client_key");
}

TEST(Config, BareClientKeyIsAccepted) {
  // A bare Ed25519 key without a certificate: the TLS layer makes a self-signed one in memory.
  auto c = parse_config(
      "[transports.s]\ntype = \"submission\"\nhost = \"s.example\"\nusername = \"u\"\n"
      "password_env = \"P\"\nclient_key = \"/k.pem\"\n",
      "/etc/mx/t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  const Transport* t = c->find_transport("s");
  ASSERT_NE(t, nullptr);
  ASSERT_NE(t->submission(), nullptr);
  EXPECT_FALSE(t->submission()->client_cert.has_value());
  EXPECT_EQ(t->submission()->client_key, "/k.pem");
}

TEST(ConfigErrors, InlinePasswordRefused) {
  expect_error(
      "[transports.s]\ntype = \"submission\"\nhost = \"s.example\"\nusername = \"u\"\npassword = "
      "\"hunter2\"\n",
      5, "inline 'password' is refused");
  auto c =
      parse_config("[transports.s]\ntype = \"submission\"\npassword = \"hunter2\"\n", "t.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().detail, HasSubstr("password_file"));
  EXPECT_THAT(c.error().detail, Not(HasSubstr("hunter2")));
}

TEST(ConfigErrors, RouteNamesUnknownTransport) {
  expect_error(
      "[transports.relay]\ntype = \"direct\"\n\n[[routes]]\nrecipient_domains = "
      "[\"a.example\"]\ntransport = \"realy\"\n",
      6, "routes #1: unknown transport 'realy' (defined: relay)");
  expect_error("[[routes]]\ntransport = \"x\"\n", 2, "(defined: none)");
}

TEST(ConfigErrors, ControlCharactersInEchoedTextAreMasked) {
  auto c = parse_config("[defaults]\ntls_policy = \"a\\u001b[31mb\"\n", "t.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().detail, HasSubstr("'a?[31mb'"));
}

// --- files and the default search ----------------------------------------------------------

TEST(ConfigFiles, MissingExplicitFileIsAnError) {
  TempDir dir;
  std::string missing = dir.path() + "/none.toml";
  auto c = load_config(missing, {});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().stage, Stage::config);
  EXPECT_TRUE(c.error().permanent());
  EXPECT_THAT(c.error().detail, StartsWith("config " + missing + ": cannot open"));
  EXPECT_THAT(c.error().detail, HasSubstr("No such file"));
}

TEST(ConfigFiles, DirectoryIsNotAConfigFile) {
  TempDir dir;
  auto c = load_config_file(dir.path());
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().detail, HasSubstr("not a regular file"));
}

TEST(ConfigFiles, ErrorsNameTheFileRead) {
  TempDir dir;
  std::string p = dir.write("c.toml", "[defaults]\n\nbogus = 1\n", 0644);
  auto c = load_config_file(p);
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().detail, StartsWith("config " + p + ":3: unknown key 'bogus'"));
}

TEST(ConfigFiles, MissingDefaultsGiveEmptyConfig) {
  TempDir dir;
  auto c = load_config(std::nullopt, {dir.path() + "/a.toml", dir.path() + "/sub/b.toml"});
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  EXPECT_TRUE(c->path.empty());
  EXPECT_TRUE(c->transports.empty());
}

TEST(ConfigFiles, FirstExistingDefaultWins) {
  TempDir dir;
  std::string second = dir.write("b.toml", "[defaults]\nhelo = \"b.example\"\n", 0644);
  std::string third = dir.write("c.toml", "[defaults]\nhelo = \"c.example\"\n", 0644);
  auto c = load_config(std::nullopt, {dir.path() + "/a.toml", second, third});
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  EXPECT_EQ(c->path, second);
  EXPECT_EQ(c->defaults.helo, "b.example");
}

TEST(ConfigFiles, ExplicitFileOverridesDefaults) {
  TempDir dir;
  std::string def = dir.write("d.toml", "[defaults]\nhelo = \"d.example\"\n", 0644);
  std::string exp = dir.write("e.toml", "[defaults]\nhelo = \"e.example\"\n", 0644);
  auto c = load_config(exp, {def});
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  EXPECT_EQ(c->defaults.helo, "e.example");
}

TEST(ConfigFiles, BrokenDefaultIsAnErrorNotSkipped) {
  TempDir dir;
  std::string bad = dir.write("bad.toml", "nonsense = 1\n", 0644);
  std::string good = dir.write("good.toml", "", 0644);
  auto c = load_config(std::nullopt, {bad, good});
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().detail, HasSubstr("unknown key 'nonsense'"));
}

TEST(ConfigFiles, DefaultSearchOrder) {
  EXPECT_THAT(default_config_paths("/x/cfg", "/home/u"),
              ElementsAre("/x/cfg/mxclient/config.toml", "/etc/mxclient/config.toml"));
  EXPECT_THAT(default_config_paths(nullptr, "/home/u"),
              ElementsAre("/home/u/.config/mxclient/config.toml", "/etc/mxclient/config.toml"));
  // XDG Base Directory: an empty or relative XDG_CONFIG_HOME is ignored.
  EXPECT_THAT(default_config_paths("", "/home/u"),
              ElementsAre("/home/u/.config/mxclient/config.toml", "/etc/mxclient/config.toml"));
  EXPECT_THAT(default_config_paths("rel", "/home/u"),
              ElementsAre("/home/u/.config/mxclient/config.toml", "/etc/mxclient/config.toml"));
  EXPECT_THAT(default_config_paths(nullptr, nullptr), ElementsAre("/etc/mxclient/config.toml"));
}

TEST(ConfigFiles, DefaultSearchReadsTheEnvironment) {
  ::setenv("XDG_CONFIG_HOME", "/tmp/xdg-test", 1);
  auto paths = default_config_paths();
  ::unsetenv("XDG_CONFIG_HOME");
  EXPECT_THAT(paths,
              ElementsAre("/tmp/xdg-test/mxclient/config.toml", "/etc/mxclient/config.toml"));
}

// --- passwords -----------------------------------------------------------------------------

SubmissionTransport with_file(const std::string& path) {
  SubmissionTransport s;
  s.password_file = path;
  return s;
}

TEST(Password, FileWithOwnerOnlyModeIsRead) {
  TempDir dir;
  auto pw = load_password(with_file(dir.write("pw", "s3cret\n", 0600)));
  ASSERT_TRUE(pw.has_value()) << pw.error().detail;
  EXPECT_EQ(*pw, "s3cret");
  pw = load_password(with_file(dir.write("pw2", "no-newline", 0400)));
  ASSERT_TRUE(pw.has_value()) << pw.error().detail;
  EXPECT_EQ(*pw, "no-newline");
  pw = load_password(with_file(dir.write("pw3", "crlf\r\n", 0700)));
  ASSERT_TRUE(pw.has_value()) << pw.error().detail;
  EXPECT_EQ(*pw, "crlf");
  pw = load_password(with_file(dir.write("pw4", "spaces kept \n", 0600)));
  ASSERT_TRUE(pw.has_value()) << pw.error().detail;
  EXPECT_EQ(*pw, "spaces kept ");
}

TEST(Password, GroupOrOtherAccessIsRefused) {
  TempDir dir;
  for (mode_t mode : {0644, 0640, 0620, 0604, 0602, 0666}) {
    std::string p = dir.write("pw", "topsecret\n", mode);
    ::chmod(p.c_str(), mode);
    auto pw = load_password(with_file(p));
    ASSERT_FALSE(pw.has_value()) << std::oct << mode;
    EXPECT_EQ(pw.error().stage, Stage::config);
    EXPECT_TRUE(pw.error().permanent());
    EXPECT_THAT(pw.error().detail, HasSubstr("group and others must have no access"));
    EXPECT_THAT(pw.error().detail, HasSubstr(p));
    EXPECT_THAT(pw.error().detail, Not(HasSubstr("topsecret")));
  }
  // Group or other execute alone grants no access to the secret.
  auto pw = load_password(with_file(dir.write("pwx", "ok\n", 0611)));
  EXPECT_TRUE(pw.has_value());
}

TEST(Password, NotARegularFileIsRefused) {
  TempDir dir;
  std::string sub = dir.path() + "/d";
  fs::create_directory(sub);
  ::chmod(sub.c_str(), 0700);
  auto pw = load_password(with_file(sub));
  ASSERT_FALSE(pw.has_value());
  EXPECT_THAT(pw.error().detail, HasSubstr("not a regular file"));

  std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  pw = load_password(with_file(fifo));  // must not block waiting for a writer
  ASSERT_FALSE(pw.has_value());
  EXPECT_THAT(pw.error().detail, HasSubstr("not a regular file"));
}

TEST(Password, BadFileContentsAreRefused) {
  TempDir dir;
  auto pw = load_password(with_file(dir.path() + "/missing"));
  ASSERT_FALSE(pw.has_value());
  EXPECT_THAT(pw.error().detail, HasSubstr("cannot open the password file"));

  pw = load_password(with_file(dir.write("empty", "", 0600)));
  ASSERT_FALSE(pw.has_value());
  EXPECT_THAT(pw.error().detail, HasSubstr("empty"));
  pw = load_password(with_file(dir.write("nl", "\n", 0600)));
  ASSERT_FALSE(pw.has_value());
  EXPECT_THAT(pw.error().detail, HasSubstr("empty"));

  pw = load_password(with_file(dir.write("two", "first\nsecond\n", 0600)));
  ASSERT_FALSE(pw.has_value());
  EXPECT_THAT(pw.error().detail, HasSubstr("more than one line"));
  EXPECT_THAT(pw.error().detail, Not(HasSubstr("first")));
  pw = load_password(with_file(dir.write("twonl", "pw\n\n", 0600)));  // only one newline goes
  ASSERT_FALSE(pw.has_value());

  pw = load_password(with_file(dir.write("big", std::string(5000, 'x'), 0600)));
  ASSERT_FALSE(pw.has_value());
  EXPECT_THAT(pw.error().detail, HasSubstr("larger than"));
}

TEST(Password, FromEnvironment) {
  SubmissionTransport s;
  s.password_env = "MXCLIENT_TEST_PW";
  ::setenv("MXCLIENT_TEST_PW", "from env\n", 1);
  auto pw = load_password(s);
  ASSERT_TRUE(pw.has_value());
  EXPECT_EQ(*pw, "from env\n");  // taken verbatim

  ::setenv("MXCLIENT_TEST_PW", "", 1);
  pw = load_password(s);
  ASSERT_FALSE(pw.has_value());
  EXPECT_THAT(pw.error().detail, HasSubstr("MXCLIENT_TEST_PW is empty"));

  ::unsetenv("MXCLIENT_TEST_PW");
  pw = load_password(s);
  ASSERT_FALSE(pw.has_value());
  EXPECT_EQ(pw.error().stage, Stage::config);
  EXPECT_THAT(pw.error().detail, HasSubstr("MXCLIENT_TEST_PW is not set"));
}

TEST(Password, NoSourceIsAnError) {
  auto pw = load_password(SubmissionTransport{});
  ASSERT_FALSE(pw.has_value());
  EXPECT_EQ(pw.error().stage, Stage::config);
}

TEST(Password, ParsedTransportLoadsItsRelativeFile) {
  TempDir dir;
  dir.write("secret.pw", "abc\n", 0600);
  std::string cfg = dir.write("c.toml",
                              "[transports.s]\ntype = \"submission\"\nhost = \"s.example\"\n"
                              "username = \"u\"\npassword_file = \"secret.pw\"\n",
                              0644);
  auto c = load_config_file(cfg);
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  auto pw = load_password(*c->find_transport("s")->submission());
  ASSERT_TRUE(pw.has_value()) << pw.error().detail;
  EXPECT_EQ(*pw, "abc");
}

}  // namespace
}  // namespace mx::config
