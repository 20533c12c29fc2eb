// The SASL client: GNU SASL sessions (one Gsasl context each, properties set up front, no
// callback), plus the "y"-flag SCRAM client of scram.cpp where libgsasl cannot do it.
#include "sasl/client.hpp"

#include <gsasl.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/shared_library.hpp"
#include "sasl/gsasl_api.hpp"
#include "sasl/mechanisms.hpp"
#include "sasl/scram.hpp"

namespace mx::sasl {

namespace {

using GsaslCtx = std::unique_ptr<Gsasl, FreeThrough<&GsaslApi::done>>;
using GsaslSession = std::unique_ptr<Gsasl_session, FreeThrough<&GsaslApi::finish>>;
using GsaslString = std::unique_ptr<char, FreeThrough<&GsaslApi::free>>;

// GNU SASL 2.1.0 added tls-exporter (RFC 9266) to the SCRAM client.
constexpr bool kHaveTlsExporter = GSASL_VERSION_NUMBER >= 0x020100;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Error config_error(std::string detail) {
  return permanent_error(Stage::config, std::move(detail));
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

}  // namespace

bool binding_type_supported(std::string_view type) {
  return type == "tls-unique" || (type == "tls-exporter" && kHaveTlsExporter);
}

class Client::Impl {
 public:
  std::string mechanism;
  bool complete = false;
  char gs2_flag = 0;
  // Exactly one of the two is in use. The context outlives its session: ctx is declared first.
  GsaslCtx ctx;
  GsaslSession session;
  std::optional<detail::ScramYClient> scram_y;
  const GsaslApi* api = nullptr;

  Result<Step> step(std::string_view server_data);
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

const std::string& Client::mechanism() const {
  return impl_->mechanism;
}
bool Client::client_first() const {
  return has_initial_response(impl_->mechanism);
}
bool Client::complete() const {
  return impl_->complete;
}
char Client::gs2_flag() const {
  return impl_->gs2_flag;
}

Result<Client> Client::start(std::string_view mechanism_name, const Credentials& credentials,
                             const StartOptions& options) {
  std::string mech = upper(mechanism_name);
  if (!is_supported(mech)) return fail(config_error("unsupported SASL mechanism " + mech));
  if (has_nul(credentials.authcid) || has_nul(credentials.password) ||
      (credentials.authzid && has_nul(*credentials.authzid)))
    return fail(config_error("SASL credentials must not contain NUL characters"));
  if (needs_password(mech) && credentials.password.empty())
    return fail(config_error("AUTH " + mech + " needs a password"));
  if (needs_password(mech) && credentials.authcid.empty())
    return fail(config_error("AUTH " + mech + " needs a user name"));
  const std::optional<ChannelBinding>& cb = options.binding;
  if (cb && !binding_type_supported(cb->type))
    return fail(config_error("unsupported channel binding type \"" + cb->type + "\""));
  if (cb && cb->data.empty()) return fail(config_error("empty channel binding data"));
  if (is_plus(mech) && !cb)
    return fail(config_error("AUTH " + mech + " needs TLS channel binding"));

  auto api = gsasl_api();
  if (!api) return fail(std::move(api).error());
  const GsaslApi& gs = **api;
  auto impl = std::make_unique<Impl>();
  impl->mechanism = mech;
  impl->api = &gs;
  // RFC 5802 §6: a client that could bind but sees no -PLUS at the server must say "y", so
  // that a server which did offer -PLUS detects the downgrade. libgsasl 2.2.0 fails the
  // exchange when given binding data for plain SCRAM, so that case is ours.
  if (is_scram(mech) && !is_plus(mech) && cb && !options.server_offers_plus) {
    impl->scram_y.emplace(gs, mech, credentials.authcid, credentials.password, credentials.authzid);
    return Client(std::move(impl));
  }

  Gsasl* raw_ctx = nullptr;
  if (gs.init(&raw_ctx) != GSASL_OK)
    return fail(temporary_error(Stage::internal, "cannot initialise GNU SASL"));
  impl->ctx = GsaslCtx(raw_ctx, {&gs});
  Gsasl_session* raw_session = nullptr;
  int rc = gs.client_start(impl->ctx.get(), mech.c_str(), &raw_session);
  if (rc != GSASL_OK)
    return fail(config_error("GNU SASL cannot start " + mech + ": " + gs.strerror(rc)));
  impl->session = GsaslSession(raw_session, {&gs});
  Gsasl_session* s = impl->session.get();
  auto set = [&](Gsasl_property p, const std::string& v) {
    return gs.property_set(s, p, v.c_str()) == GSASL_OK;
  };
  bool ok = true;
  if (!credentials.authcid.empty()) ok = ok && set(GSASL_AUTHID, credentials.authcid);
  if (!credentials.password.empty() && needs_password(mech))
    ok = ok && set(GSASL_PASSWORD, credentials.password);
  if (credentials.authzid) ok = ok && set(GSASL_AUTHZID, *credentials.authzid);
  // Only for -PLUS: the SCRAM client takes whichever binding property is set (tls-exporter
  // first), so exactly the one the TLS layer chose is given. Plain SCRAM gets none: "n".
  if (is_plus(mech)) {
    std::string b64 = base64_encode(cb->data);
    if (cb->type == "tls-exporter") {
#if GSASL_VERSION_NUMBER >= 0x020100
      ok = ok && set(GSASL_CB_TLS_EXPORTER, b64);
#endif
    } else {
      ok = ok && set(GSASL_CB_TLS_UNIQUE, b64);
    }
  }
  if (!ok) return fail(temporary_error(Stage::internal, "cannot set SASL properties"));
  return Client(std::move(impl));
}

Result<Step> Client::step(std::string_view server_data) {
  return impl_->step(server_data);
}

Result<Step> Client::Impl::step(std::string_view server_data) {
  const std::string what = "SASL " + mechanism + ": ";
  if (complete) {
    Error e = temporary_error(Stage::smtp, what + "unexpected challenge after the exchange ended");
    e.reason = Reason::protocol;
    return fail(std::move(e));
  }
  if (scram_y) {
    gs2_flag = 'y';
    auto out = scram_y->step(server_data);
    if (!out) return fail(std::move(out).error());
    complete = scram_y->complete();
    return Step{std::move(*out), complete};
  }
  char* out = nullptr;
  std::size_t out_len = 0;
  int rc = api->step(session.get(), server_data.data(), server_data.size(), &out, &out_len);
  GsaslString owned(out, {api});
  if (rc == GSASL_OK || rc == GSASL_NEEDS_MORE) {
    std::string data = out != nullptr ? std::string(out, out_len) : std::string();
    if (is_scram(mechanism) && gs2_flag == 0 && !data.empty()) gs2_flag = data[0];
    complete = rc == GSASL_OK;
    return Step{std::move(data), complete};
  }
  // libgsasl's messages name the failed check, never the secret.
  Error e;
  e.stage = Stage::smtp;
  if (rc == GSASL_AUTHENTICATION_ERROR) {
    e.permanence = Permanence::permanent;
    e.reason = Reason::auth_refused;
    e.detail = what + "the server's response failed verification";
  } else if (rc == GSASL_MECHANISM_PARSE_ERROR || rc == GSASL_BASE64_ERROR ||
             rc == GSASL_MECHANISM_CALLED_TOO_MANY_TIMES) {
    e.permanence = Permanence::temporary;
    e.reason = Reason::protocol;
    e.detail = what + "malformed server challenge (" + api->strerror_name(rc) + ")";
  } else {
    e.stage = Stage::config;
    e.permanence = Permanence::permanent;
    e.detail = what + api->strerror(rc);
  }
  return fail(std::move(e));
}

}  // namespace mx::sasl
