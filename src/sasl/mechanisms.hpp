// Which SASL mechanism to use: the ones we implement, their properties, and the choice
// between what the server offers (RFC 4954 §3 AUTH keyword) and what the user configured.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mx::sasl {

/// Every mechanism we implement, in our default order of preference (strongest first);
/// EXTERNAL comes last because it is only chosen on request or without a password.
const std::vector<std::string>& supported_mechanisms();

/// Case-insensitive.
bool is_supported(std::string_view mechanism);
/// SCRAM-*-PLUS: needs channel binding.
bool is_plus(std::string_view mechanism);
/// SCRAM-SHA-*, with or without -PLUS.
bool is_scram(std::string_view mechanism);
/// Uses the password (all but EXTERNAL).
bool needs_password(std::string_view mechanism);
/// The client sends the first message, i.e. AUTH carries an initial response (RFC 4954 §4).
bool has_initial_response(std::string_view mechanism);

struct Selection {
  std::optional<std::string> mechanism;  // explicit: this one or a clear failure
  std::vector<std::string> allowed;      // restricts the default choice; empty = all
  bool have_password = false;
  bool have_client_certificate = false;
  bool have_channel_binding = false;  // the TLS layer can give binding data we support
};

/// Picks the mechanism from the server's AUTH list (upper-case names). Default order:
/// SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (with channel binding only), SCRAM-SHA-256,
/// SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN; EXTERNAL only with a client certificate, and then when
/// explicitly requested (mechanism or allowed) or when there is no password — it comes first.
/// Errors: permanent, Stage::config — "the server does not offer AUTH X (it offers: ...)",
/// "no usable SASL mechanism ...", an unknown or unusable explicit mechanism.
Result<std::string> choose_mechanism(const std::vector<std::string>& offered,
                                     const Selection& selection);

/// RFC 4648 §4 base64 with padding.
std::string base64_encode(std::string_view raw);
/// Strict RFC 4648 §4 decoding: padding required, no whitespace or other characters.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace mx::sasl
