// The human-readable posture table of `mxclient --probe DOMAIN`, and its verdict.
#pragma once

#include <ostream>

#include "delivery/record.hpp"

namespace mx::cli {

/// Prints the domain's posture: MX and DNSSEC, TLSA and the DANE decision per host, MTA-STS,
/// and per address STARTTLS, TLS version, certificate, DANE match and extensions.
/// Returns true when every MX host and address would accept mail securely under the policy.
bool print_probe(const delivery::DomainRecord& record, std::ostream& out);

}  // namespace mx::cli
