// This host's identity for EHLO and the default sender, found without any DNS query.
#pragma once

#include <string>

namespace mx::cli {

/// The host's fully qualified name: gethostname() when it has a dot, else the canonical name
/// /etc/hosts gives it (as `hostname -f` finds it from files), else the bare name.
std::string local_fqdn();

/// $USER (or the passwd entry of the real uid), for the default sender.
std::string local_user();

}  // namespace mx::cli
