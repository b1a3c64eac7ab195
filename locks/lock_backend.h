// The lock manager a configuration chose (lock_backend and its keys): one per
// process and configuration, made on first use and kept, so that every lock a
// command takes goes through the same backend (and, for etcd, the same
// lease). Making one never contacts etcd; the first acquire does.
#pragma once

#include "config/config.h"
#include "locks/lock_manager.h"

namespace cellar::locks {

// The manager for `config`'s lock_backend: the file backend on
// lock_directory, or the etcd backend on etcd_endpoints / etcd_prefix /
// lock_ttl for every kind but global-cron and cron, which stay files of this
// host's lock_directory (they guard this host's spool and children). Lives
// until the process exits.
LockManager& lock_manager(const Config& config);

// The file backend on `lock_dir`, whatever the configuration says (`cellar
// locks --lock-directory DIR`, tests). Lives until the process exits.
LockManager& file_lock_manager(const std::string& lock_dir);

}  // namespace cellar::locks
