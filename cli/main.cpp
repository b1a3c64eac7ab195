#include "cli/dispatch.h"

int main(int argc, char** argv) { return cellar::cli::run(argc, argv); }
