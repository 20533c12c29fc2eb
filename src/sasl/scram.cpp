// RFC 5802 SCRAM client with the "y" channel-binding flag; key derivation through GNU SASL,
// HMAC through OpenSSL's libcrypto.
#include "sasl/scram.hpp"

#include <gsasl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <memory>
#include <vector>

#include "core/shared_library.hpp"
#include "sasl/gsasl_api.hpp"
#include "sasl/mechanisms.hpp"

namespace mx::sasl::detail {

namespace {

using GsaslString = std::unique_ptr<char, FreeThrough<&GsaslApi::free>>;

// Beyond this the server is either broken or trying to burn our CPU.
constexpr unsigned long kMaxIterations = 10'000'000;

Error protocol(std::string detail) {
  Error e = temporary_error(Stage::smtp, std::move(detail));
  e.reason = Reason::protocol;
  return e;
}

Error refused(std::string detail) {
  Error e = permanent_error(Stage::smtp, std::move(detail));
  e.reason = Reason::auth_refused;
  return e;
}

// RFC 5802 §5.1: saslname escapes "=" and ",".
std::string saslname(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '=')
      out += "=3D";
    else if (c == ',')
      out += "=2C";
    else
      out += c;
  }
  return out;
}

std::optional<std::string> saslprep(const GsaslApi& api, const std::string& in) {
  char* out = nullptr;
  if (api.saslprep(in.c_str(), GSASL_ALLOW_UNASSIGNED, &out, nullptr) != GSASL_OK) return {};
  GsaslString owned(out, {&api});
  return std::string(owned.get());
}

// Splits "a=x,b=y" into attributes; values may contain '='.
std::vector<std::pair<char, std::string_view>> attributes(std::string_view msg) {
  std::vector<std::pair<char, std::string_view>> out;
  while (!msg.empty()) {
    auto comma = msg.find(',');
    std::string_view part = msg.substr(0, comma);
    if (part.size() < 2 || part[1] != '=') return {};
    out.emplace_back(part[0], part.substr(2));
    if (comma == std::string_view::npos) break;
    msg.remove_prefix(comma + 1);
    if (msg.empty()) return {};  // trailing comma
  }
  return out;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(md, key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len) == nullptr)
    return {};
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

ScramYClient::ScramYClient(const GsaslApi& gsasl, std::string mechanism, std::string authcid,
                           std::string password, std::optional<std::string> authzid)
    : gs_(&gsasl),
      mechanism_(std::move(mechanism)),
      authcid_(std::move(authcid)),
      password_(std::move(password)),
      authzid_(std::move(authzid)) {}

Result<std::string> ScramYClient::step(std::string_view server_data) {
  switch (state_) {
    case State::initial: {
      auto user = saslprep(*gs_, authcid_);
      if (!user || user->empty())
        return fail(permanent_error(Stage::config, "the SASL user name is not valid (SASLprep)"));
      char nonce[18];
      if (gs_->nonce(nonce, sizeof nonce) != GSASL_OK)
        return fail(temporary_error(Stage::internal, "cannot make a SCRAM nonce"));
      client_nonce_ = base64_encode(std::string_view(nonce, sizeof nonce));
      // RFC 5802 §6: "y": we support channel binding but the server did not offer -PLUS.
      gs2_header_ = "y,";
      if (authzid_) gs2_header_ += "a=" + saslname(*authzid_);
      gs2_header_ += ",";
      client_first_bare_ = "n=" + saslname(*user) + ",r=" + client_nonce_;
      state_ = State::sent_first;
      return gs2_header_ + client_first_bare_;
    }
    case State::sent_first: {
      state_ = State::failed;
      auto out = client_final(server_data);
      if (out) state_ = State::sent_final;
      return out;
    }
    case State::sent_final: {
      state_ = State::failed;
      auto out = verify_server(server_data);
      if (out) state_ = State::done;
      return out;
    }
    case State::done:
    case State::failed:
      break;
  }
  return fail(protocol("SASL " + mechanism_ + ": unexpected challenge after the exchange ended"));
}

Result<std::string> ScramYClient::client_final(std::string_view server_first) {
  const std::string what = "SASL " + mechanism_ + ": ";
  auto attrs = attributes(server_first);
  // RFC 5802 §7: server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
  if (attrs.size() < 3 || attrs[0].first != 'r' || attrs[1].first != 's' || attrs[2].first != 'i')
    return fail(protocol(what + "malformed server-first-message"));
  std::string_view nonce = attrs[0].second;
  if (nonce.size() <= client_nonce_.size() || !nonce.starts_with(client_nonce_))
    return fail(refused(what + "the server's nonce does not extend ours"));
  auto salt = base64_decode(attrs[1].second);
  if (!salt || salt->empty()) return fail(protocol(what + "malformed salt"));
  unsigned long iterations = 0;
  std::string_view it = attrs[2].second;
  auto [ptr, ec] = std::from_chars(it.data(), it.data() + it.size(), iterations);
  if (ec != std::errc() || ptr != it.data() + it.size() || iterations == 0)
    return fail(protocol(what + "malformed iteration count"));
  if (iterations > kMaxIterations)
    return fail(protocol(what + "iteration count " + std::string(it) + " is too large"));

  const GsaslApi& gs = *gs_;
  Gsasl_hash hash = mechanism_ == "SCRAM-SHA-1" ? GSASL_HASH_SHA1 : GSASL_HASH_SHA256;
  const EVP_MD* md = hash == GSASL_HASH_SHA1 ? EVP_sha1() : EVP_sha256();
  std::size_t len = gs.hash_length(hash);
  auto password = saslprep(gs, password_);
  if (!password)
    return fail(permanent_error(Stage::config, "the password is not valid (SASLprep)"));
  char salted[GSASL_HASH_MAX_SIZE], client_key[GSASL_HASH_MAX_SIZE],
      server_key[GSASL_HASH_MAX_SIZE], stored_key[GSASL_HASH_MAX_SIZE];
  int rc = gs.scram_secrets_from_password(hash, password->c_str(),
                                          static_cast<unsigned int>(iterations), salt->data(),
                                          salt->size(), salted, client_key, server_key, stored_key);
  OPENSSL_cleanse(password->data(), password->size());
  if (rc != GSASL_OK) return fail(temporary_error(Stage::internal, what + "key derivation failed"));

  // RFC 5802 §3: AuthMessage, ClientProof and the ServerSignature we expect.
  std::string without_proof = "c=" + base64_encode(gs2_header_) + ",r=" + std::string(nonce);
  std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  std::string signature = hmac(md, std::string_view(stored_key, len), auth_message);
  server_signature_ = hmac(md, std::string_view(server_key, len), auth_message);
  OPENSSL_cleanse(salted, sizeof salted);
  OPENSSL_cleanse(stored_key, sizeof stored_key);
  OPENSSL_cleanse(server_key, sizeof server_key);
  if (signature.size() != len || server_signature_.size() != len)
    return fail(temporary_error(Stage::internal, what + "HMAC failed"));
  std::string proof(len, '\0');
  for (std::size_t i = 0; i < len; ++i) proof[i] = static_cast<char>(client_key[i] ^ signature[i]);
  OPENSSL_cleanse(client_key, sizeof client_key);
  return without_proof + ",p=" + base64_encode(proof);
}

Result<std::string> ScramYClient::verify_server(std::string_view server_final) {
  const std::string what = "SASL " + mechanism_ + ": ";
  auto attrs = attributes(server_final);
  if (attrs.empty()) return fail(protocol(what + "malformed server-final-message"));
  if (attrs[0].first == 'e')  // RFC 5802 §7 server-error
  {
    std::string reported;  // server-chosen text: printable ASCII only, bounded
    for (char c : attrs[0].second.substr(0, 100)) reported += (c >= 0x20 && c < 0x7f) ? c : '?';
    return fail(refused(what + "the server reported " + reported));
  }
  auto v = attrs[0].first == 'v' ? base64_decode(attrs[0].second) : std::nullopt;
  if (!v) return fail(protocol(what + "malformed server-final-message"));
  if (v->size() != server_signature_.size() ||
      CRYPTO_memcmp(v->data(), server_signature_.data(), v->size()) != 0)
    return fail(refused(what + "the server signature does not verify"));
  return std::string();
}

}  // namespace mx::sasl::detail
