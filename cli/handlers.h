// Handler and option-declaration functions of every command, one pair per
// command, defined in cli/cmd_*.cpp and referenced by the table in commands.cpp.
#pragma once

#include "cli/command.h"

namespace cellar::cli {

int run_list_servers(Invocation& inv);
int run_show_servers(Invocation& inv);

}  // namespace cellar::cli
