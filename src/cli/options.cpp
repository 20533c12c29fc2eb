// Hand-written parser: sendmail's syntax (-faddr, -f addr, -oi, -o<anything>) does not fit a
// generic option library, and the grammar is small.
#include "cli/options.hpp"

#include <cstdlib>
#include <string_view>

namespace mx::cli {
namespace {

Error usage_error(std::string detail) {
  Error e = permanent_error(Stage::usage, std::move(detail));
  return e;
}

Result<double> parse_seconds(std::string_view flag, const std::string& value) {
  char* end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(v > 0) || v > 7 * 86400)
    return fail(usage_error(std::string(flag) + " needs a number of seconds, got '" + value + "'"));
  return v;
}

using Apply = Result<void> (*)(Options&, const std::string&);

struct LongOption {
  std::string_view name;
  bool takes_value;
  Apply apply;
};

// One row per long option: its name, whether it takes a value, and what it sets.
constexpr LongOption kLongOptions[] = {
    {"help", false,
     [](Options& o, const std::string&) -> Result<void> {
       o.help = true;
       return {};
     }},
    {"version", false,
     [](Options& o, const std::string&) -> Result<void> {
       o.version = true;
       return {};
     }},
    {"quiet", false,
     [](Options& o, const std::string&) -> Result<void> {
       o.quiet = true;
       return {};
     }},
    {"verbose", false,
     [](Options& o, const std::string&) -> Result<void> {
       o.verbose = true;
       return {};
     }},
    {"helo", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.helo = v;
       return {};
     }},
    {"resolver", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.resolver = v;
       return {};
     }},
    {"trust-anchor", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.trust_anchor = v;
       return {};
     }},
    {"root-hints", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.root_hints = v;
       return {};
     }},
    {"trust-ad", false,
     [](Options& o, const std::string&) -> Result<void> {
       o.trust_ad = true;
       return {};
     }},
    {"smtp-timeout", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.smtp_timeouts.push_back(v);
       return {};
     }},
    {"tls-policy", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.tls_policy = v;
       return {};
     }},
    {"require-tls", false,
     [](Options& o, const std::string&) -> Result<void> {
       o.require_tls = true;
       return {};
     }},
    {"ca-file", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.ca_file = v;
       return {};
     }},
    {"ca-path", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.ca_path = v;
       return {};
     }},
    {"sts-cache", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.sts_cache = v;
       return {};
     }},
    {"no-mta-sts", false,
     [](Options& o, const std::string&) -> Result<void> {
       o.mta_sts = false;
       return {};
     }},
    {"dsn-notify", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.dsn_notify = v;
       return {};
     }},
    {"dsn-ret", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.dsn_ret = v;
       return {};
     }},
    {"envid", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.envid = v;
       return {};
     }},
    {"config", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.config = v;
       return {};
     }},
    {"attempt", true,
     [](Options& o, const std::string& v) -> Result<void> {
       char* end = nullptr;
       long n = std::strtol(v.c_str(), &end, 10);
       if (v.empty() || *end != '\0' || n < 1 || n > 1000000)
         return fail(usage_error("--attempt needs a positive whole number, got '" + v + "'"));
       o.attempt = static_cast<int>(n);
       return {};
     }},
    {"probe", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.probe = v;
       return {};
     }},
    {"json", true,
     [](Options& o, const std::string& v) -> Result<void> {
       if (v.empty()) return fail(usage_error("--json needs a file name, or - for stdout"));
       o.json = v;
       return {};
     }},
    {"proxy", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.proxy = v;
       return {};
     }},
    {"proxy-command", true,
     [](Options& o, const std::string& v) -> Result<void> {
       o.proxy_command = v;
       return {};
     }},
    {"timeout", true,
     [](Options& o, const std::string& v) -> Result<void> {
       auto s = parse_seconds("--timeout", v);
       if (!s) return fail(std::move(s).error());
       o.overall_timeout = *s;
       return {};
     }},
};

}  // namespace

Result<Options> parse_options(const std::vector<std::string>& args) {
  Options o;
  std::size_t i = 0;
  auto take_value = [&](std::string_view flag, std::string_view attached) -> Result<std::string> {
    if (!attached.empty()) return std::string(attached);
    if (i + 1 >= args.size())
      return fail(usage_error("option " + std::string(flag) + " needs a value"));
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      o.recipients.emplace_back(a);
      continue;
    }
    if (a.starts_with("--")) {
      std::string_view body = a.substr(2);
      std::string_view name = body.substr(0, body.find('='));
      const LongOption* opt = nullptr;
      for (const auto& lo : kLongOptions)
        if (lo.name == name) opt = &lo;
      if (opt == nullptr) return fail(usage_error("unknown option --" + std::string(name)));
      std::string value;
      if (opt->takes_value) {
        if (auto eq = body.find('='); eq != std::string_view::npos) {
          value = std::string(body.substr(eq + 1));
        } else {
          auto v = take_value("--" + std::string(name), {});
          if (!v) return fail(std::move(v).error());
          value = *v;
        }
      } else if (body.find('=') != std::string_view::npos) {
        return fail(usage_error("option --" + std::string(name) + " takes no value"));
      }
      if (auto r = opt->apply(o, value); !r) return fail(std::move(r).error());
      continue;
    }
    // Short options; sendmail allows a value glued to its flag (-faddr).
    char flag = a[1];
    std::string_view rest = a.substr(2);
    switch (flag) {
      case 'f':
      case 'r': {  // -r is sendmail's old spelling of -f
        auto v = take_value(a.substr(0, 2), rest);
        if (!v) return fail(std::move(v).error());
        o.sender = *v;
        break;
      }
      case 'F': {
        auto v = take_value("-F", rest);
        if (!v) return fail(std::move(v).error());
        o.full_name = *v;
        break;
      }
      case 'o':  // -oi, -oem, -odb ...: sendmail queue/delivery knobs that do not apply here
        if (rest.empty()) {
          if (i + 1 >= args.size()) return fail(usage_error("option -o needs a value"));
          ++i;
        }
        break;
      case 'N': {
        auto v = take_value("-N", rest);
        if (!v) return fail(std::move(v).error());
        o.dsn_notify = *v;
        break;
      }
      case 'R': {
        auto v = take_value("-R", rest);
        if (!v) return fail(std::move(v).error());
        o.dsn_ret = *v;
        break;
      }
      case 'V': {
        auto v = take_value("-V", rest);
        if (!v) return fail(std::move(v).error());
        o.envid = *v;
        break;
      }
      case 't':
        if (!rest.empty()) return fail(usage_error("unknown option " + std::string(a)));
        o.recipients_from_headers = true;
        break;
      case 'i':  // a lone "." never ends the input anyway
        if (!rest.empty()) return fail(usage_error("unknown option " + std::string(a)));
        break;
      case 'q':
        if (!rest.empty()) return fail(usage_error("unknown option " + std::string(a)));
        o.quiet = true;
        break;
      case 'v':
        if (!rest.empty()) return fail(usage_error("unknown option " + std::string(a)));
        o.verbose = true;
        break;
      case 'h':
        if (!rest.empty()) return fail(usage_error("unknown option " + std::string(a)));
        o.help = true;
        break;
      default:
        return fail(usage_error("unknown option " + std::string(a)));
    }
  }
  for (; i < args.size(); ++i) o.recipients.push_back(args[i]);
  if (o.proxy && o.proxy_command)
    return fail(usage_error("--proxy and --proxy-command exclude each other"));
  if (o.resolver && o.root_hints)
    return fail(usage_error("--resolver and --root-hints exclude each other"));
  if (o.trust_ad && (o.resolver || o.root_hints || o.trust_anchor))
    return fail(
        usage_error("--trust-ad uses the resolv.conf resolver's AD bit; it takes no "
                    "--resolver, --root-hints or --trust-anchor"));
  if (o.probe && (!o.recipients.empty() || o.recipients_from_headers))
    return fail(usage_error("--probe takes a domain and no recipients"));
  if (!o.help && !o.version && !o.probe && o.recipients.empty() && !o.recipients_from_headers)
    return fail(usage_error("no recipients given"));
  return o;
}

const char* usage_text() {
  return R"(Usage: mxclient [options] [-f sender] recipient...

Delivers the message read from standard input (to end of file) directly to each
recipient domain's mail exchanger, validating DNS with DNSSEC.

Options:
  -f ADDR, -fADDR      envelope sender (default $USER@<this host's FQDN>; '' or '<>' = null)
  -F NAME              sender's full name (accepted for sendmail compatibility; ignored)
  -i, -oi, -o*         accepted for sendmail compatibility (a lone '.' never ends input)
  -q, --quiet          no progress output on stdout
  -v, --verbose        more detail in the progress output
  --helo NAME          name to send in EHLO (default: this host's FQDN)
  --resolver IP[@PORT] send DNS queries to this resolver, still validating DNSSEC locally
  --root-hints FILE    recursive mode: use these root hints instead of the built-in ones
  --trust-anchor FILE  DNSSEC trust anchor (default /usr/share/dns/root.key)
  --trust-ad           trust the AD bit of the resolv.conf resolver (original mxclient
                       behaviour; refused unless that resolver is on loopback)
  -t                   also read recipients from To, Cc and Bcc (Resent-* when present);
                       Bcc fields are removed from the message
  -N, --dsn-notify NOTIFY
                       DSN notify: never, or a list of success,failure,delay (RFC 3461)
  -R, --dsn-ret full|hdrs
                       DSN: return the full message or only its headers
  -V, --envid ENVID    DSN envelope identifier
  --tls-policy LEVEL   dane (default: DANE where published, else MTA-STS, else
                       opportunistic), dane-only, verify (PKIX), encrypt, may, none
  --require-tls        REQUIRETLS (RFC 8689): only over DANE- or MTA-STS-authenticated TLS
                       to a server that supports it; otherwise a permanent failure
  --ca-file FILE, --ca-path DIR
                       PKIX trust anchors for MTA-STS and --tls-policy verify
  --sts-cache DIR      MTA-STS policy cache (default $XDG_CACHE_HOME/mxclient/mta-sts)
  --no-mta-sts         do not look up MTA-STS policies
  --proxy socks5://[USER:PASS@]IP[:PORT]
                       connect to MX hosts (and MTA-STS policy hosts) through this SOCKS5
                       proxy; it is given IP addresses only, TLS still ends here
  --proxy-command CMD  connect through CMD's stdin/stdout, e.g. 'ssh -W %h:%p relay';
                       %h and %p become the chosen address and port
  --config FILE        transports and routes (default $XDG_CONFIG_HOME/mxclient/config.toml,
                       then /etc/mxclient/config.toml); its [defaults] apply unless a flag
                       says otherwise
  --attempt N          the delivery attempt number a queue is at (routes may depend on it)
  --probe DOMAIN       connect to every MX address of DOMAIN up to TLS and EHLO, send no mail,
                       and print its posture (MX, DNSSEC, TLSA, DANE, MTA-STS, TLS, extensions);
                       exit 0 only when every MX would accept mail securely, else 69 (or the
                       DNS failure's code)
  --json FILE|-        write a JSON report of the run (docs/report.md): outcomes, DNS path with
                       DNSSEC status, TLS and DANE/MTA-STS facts per attempt, RFC 8460 results
  --timeout SECONDS    give up (exit 75) when the whole run takes longer
  --smtp-timeout NAME=SECONDS
                       override one wait: connect, tls, greeting, ehlo, helo, starttls,
                       mail, rcpt, data, data_block, data_end, quit (RFC 5321 defaults)
  -h, --help           this text
  --version            print the version

Exit codes: 0 delivered, 64 usage, 65 bad message or address, 67 unknown user,
68 no such domain or null MX, 69 other permanent refusal, 70 internal error,
74 input read error, 75 temporary failure (try again later), 77 authentication
refused, 78 configuration error.
)";
}

}  // namespace mx::cli
