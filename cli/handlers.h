// Handler and option-declaration functions of every command, one pair per
// command, defined in cli/cmd_*.cpp and referenced by the table in commands.cpp.
#pragma once

#include "cli/command.h"

namespace cellar::cli {

int run_list_servers(Invocation& inv);
int run_show_servers(Invocation& inv);
void declare_check(po::options_description& d);
int run_check(Invocation& inv);
void declare_receive_wal(po::options_description& d);
int run_receive_wal(Invocation& inv);
int run_archive_wal(Invocation& inv);
void declare_get_wal(po::options_description& d);
int run_get_wal(Invocation& inv);
void declare_switch_wal(po::options_description& d);
int run_switch_wal(Invocation& inv);
void declare_locks(po::options_description& d);
int run_locks(Invocation& inv);
void declare_lock(po::options_description& d);
int run_lock(Invocation& inv);
void declare_backup(po::options_description& d);
int run_backup(Invocation& inv);
int run_list_backups(Invocation& inv);
int run_show_backup(Invocation& inv);
int run_verify_backup(Invocation& inv);
int run_delete(Invocation& inv);
void declare_keep(po::options_description& d);
int run_keep(Invocation& inv);
// recover (cmd_recover.cpp)
void declare_recover(po::options_description& d);
int run_recover(Invocation& inv);
void declare_cron(po::options_description& d);
int run_cron(Invocation& inv);
int run_status(Invocation& inv);

// config-update (cmd_config_update.cpp)
int run_config_update(Invocation& inv);
// passive node (cmd_sync.cpp)
int run_sync_info(Invocation& inv);
int run_sync_send(Invocation& inv);
int run_sync_wal(Invocation& inv);
int run_sync_backup(Invocation& inv);

}  // namespace cellar::cli
