// Reading the small local files the resolvers are configured with (trust anchors, root hints,
// resolv.conf), with failures as configuration errors rather than exceptions.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mx::dns {

/// The whole content of a regular file of at most 1 MiB. Missing, unreadable, not a regular
/// file or too big: Error{Stage::config, permanent} naming `what` and the path.
Result<std::string> read_config_file(const std::string& path, std::string_view what);

}  // namespace mx::dns
