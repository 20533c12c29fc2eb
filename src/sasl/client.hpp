// SASL client mechanisms (RFC 4422) over GNU SASL: one authentication exchange as a step
// function, so the SMTP session can run it without doing I/O itself.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mx::sasl {

struct Credentials {
  std::string authcid;                 // authentication identity (user name)
  std::string password;                // empty: no password (EXTERNAL only)
  std::optional<std::string> authzid;  // authorization identity, when acting for someone else
};

/// Channel-binding data of the TLS connection: "tls-exporter" (RFC 9266) or "tls-unique"
/// (RFC 5929), the raw bytes as the TLS layer computed them.
struct ChannelBinding {
  std::string type;
  std::string data;
};

struct Step {
  std::string client_data;  // raw octets; the SMTP layer base64-encodes them
  bool complete = false;    // the mechanism is finished on our side (SCRAM: server verified)
};

struct StartOptions {
  /// The connection's channel binding, when there is one. Required by the -PLUS mechanisms;
  /// with plain SCRAM it makes the client send the "y" GS2 flag (RFC 5802 §6) unless
  /// server_offers_plus.
  std::optional<ChannelBinding> binding;
  /// The server advertised some SCRAM-*-PLUS mechanism.
  bool server_offers_plus = false;
};

/// The channel-binding types the library can use ("tls-exporter" needs GNU SASL 2.1).
bool binding_type_supported(std::string_view type);

class Client {
 public:
  /// Errors: Stage::config, permanent — unknown mechanism, missing password, -PLUS without
  /// usable channel binding, NUL characters in the credentials.
  static Result<Client> start(std::string_view mechanism, const Credentials& credentials,
                              const StartOptions& options = {});

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  /// The mechanism name, upper-case.
  const std::string& mechanism() const;
  /// The client speaks first (PLAIN, EXTERNAL, SCRAM): the first step() takes "" and gives
  /// the initial response (RFC 4954 §4).
  bool client_first() const;
  /// The last step() completed the mechanism.
  bool complete() const;
  /// One round: the decoded server challenge in, our response out. Errors: Stage::smtp —
  /// permanent with Reason::auth_refused when the server's data fails verification (SCRAM
  /// server signature, nonce), temporary Reason::protocol when it cannot be parsed. Never
  /// contains credentials.
  Result<Step> step(std::string_view server_data);

  /// The GS2 channel-binding flag the SCRAM client sent ('n', 'y' or 'p'), 0 otherwise or
  /// before the first step. For tests and logs.
  char gs2_flag() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mx::sasl
