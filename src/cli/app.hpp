// The mxclient command: parse options, read the message, deliver, map the outcome to an exit code.
#pragma once

namespace mx::cli {

int run(int argc, char** argv);

}  // namespace mx::cli
