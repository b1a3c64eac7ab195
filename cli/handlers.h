// Handler and option-declaration functions of every command, one pair per
// command, defined in cli/cmd_*.cpp and referenced by the table in commands.cpp.
// Each handler has the shape of its command's ServerArity (cli/command.h):
// dispatch has already resolved SERVER, and reports the returned Outcome.
#pragma once

#include "cli/command.h"

namespace cellar::cli {

Outcome run_list_servers(Invocation& inv);
Outcome run_show_servers(Invocation& inv, const ServerList& servers);
void declare_check(po::options_description& d);
Outcome run_check(Invocation& inv, const ServerList& servers);
Outcome check_server_error(Invocation& inv, const Status& error);
void declare_receive_wal(po::options_description& d);
Outcome run_receive_wal(Invocation& inv, const ServerConfig& server);
Outcome run_archive_wal(Invocation& inv, const ServerConfig& server);
Outcome run_rebuild_xlogdb(Invocation& inv, const ServerConfig& server);
void declare_get_wal(po::options_description& d);
Outcome run_get_wal(Invocation& inv, const ServerConfig& server);
void declare_switch_wal(po::options_description& d);
Outcome run_switch_wal(Invocation& inv, const ServerConfig& server);
void declare_locks(po::options_description& d);
Outcome run_locks(Invocation& inv);
void declare_lock(po::options_description& d);
Outcome run_lock(Invocation& inv);
void declare_hold(po::options_description& d);
Outcome run_hold(Invocation& inv);
void declare_release(po::options_description& d);
Outcome run_release(Invocation& inv);
Outcome run_holds(Invocation& inv);
void declare_backup(po::options_description& d);
Status validate_backup(const Invocation& inv);
Outcome run_backup(Invocation& inv, const ServerConfig& server);
Outcome run_list_backups(Invocation& inv, const ServerList& servers);
Outcome run_show_backup(Invocation& inv, const ServerConfig& server);
Outcome run_verify_backup(Invocation& inv, const ServerConfig& server);
Outcome run_delete(Invocation& inv, const ServerConfig& server);
void declare_keep(po::options_description& d);
Outcome run_keep(Invocation& inv, const ServerConfig& server);
// recover (cmd_recover.cpp)
void declare_recover(po::options_description& d);
Outcome run_recover(Invocation& inv, const ServerConfig& server);
void declare_cron(po::options_description& d);
Outcome run_cron(Invocation& inv);
Outcome run_status(Invocation& inv, const ServerList& servers);
Outcome run_metrics(Invocation& inv, const ServerList& servers);
// daemon (cmd_daemon.cpp)
void declare_daemon(po::options_description& d);
Outcome run_daemon(Invocation& inv);

// config-update (cmd_config_update.cpp)
Outcome run_config_update(Invocation& inv);
// passive node (cmd_sync.cpp)
Outcome run_sync_info(Invocation& inv, const ServerConfig& server);
Outcome run_sync_send(Invocation& inv, const ServerConfig& server);
Outcome run_sync_wal(Invocation& inv, const ServerConfig& server);
Outcome run_sync_backup(Invocation& inv, const ServerConfig& server);

}  // namespace cellar::cli
