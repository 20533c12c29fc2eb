// A SCRAM client (RFC 5802) for the one case GNU SASL 2.2 gets wrong: plain SCRAM-SHA-* when
// we could bind to the channel but the server did not advertise -PLUS. RFC 5802 §6 then
// requires the "y" GS2 flag, and libgsasl 2.2.0 fails instead of sending it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "sasl/gsasl_api.hpp"

namespace mx::sasl::detail {

class ScramYClient {
 public:
  /// `mechanism`: "SCRAM-SHA-1" or "SCRAM-SHA-256"; `gsasl`: the loaded GNU SASL (SASLprep,
  /// nonce, key derivation).
  ScramYClient(const GsaslApi& gsasl, std::string mechanism, std::string authcid,
               std::string password, std::optional<std::string> authzid);

  /// Step 0: client-first-message; step 1: client-final-message; step 2: checks the server
  /// signature and completes with an empty response.
  Result<std::string> step(std::string_view server_data);
  bool complete() const { return state_ == State::done; }

 private:
  enum class State { initial, sent_first, sent_final, done, failed };

  Result<std::string> client_final(std::string_view server_first);
  Result<std::string> verify_server(std::string_view server_final);

  const GsaslApi* gs_;
  std::string mechanism_;
  std::string authcid_;
  std::string password_;
  std::optional<std::string> authzid_;
  State state_ = State::initial;
  std::string gs2_header_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string server_signature_;  // expected, raw
};

}  // namespace mx::sasl::detail
