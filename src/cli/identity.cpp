// See identity.hpp. No resolver is consulted: the machine's resolver may be anywhere, and a
// sendmail replacement must not leak or stall on it before delivery even starts.
#include "cli/identity.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace mx::cli {

std::string local_fqdn() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  std::string name(buf);
  if (name.find('.') != std::string::npos) return name;
  std::ifstream hosts("/etc/hosts");
  std::string line;
  while (std::getline(hosts, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string addr, canonical, alias;
    if (!(words >> addr >> canonical)) continue;
    bool listed = canonical == name;
    while (!listed && words >> alias) listed = alias == name;
    if (listed && canonical.find('.') != std::string::npos) return canonical;
  }
  return name;
}

std::string local_user() {
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') return u;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr)
    return pw->pw_name;
  return "nobody";
}

}  // namespace mx::cli
