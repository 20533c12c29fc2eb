// mxclient entry point: everything lives in the library; this only hands over argv.
#include "cli/app.hpp"

int main(int argc, char** argv) {
  return mx::cli::run(argc, argv);
}
