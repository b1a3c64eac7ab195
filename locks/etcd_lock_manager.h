// The etcd lock backend (SPEC §9, lock_backend = "etcd"): a LockManager
// whose resources are keys <prefix><resource> (lock_names.h) in etcd.
//   - A process lock is the key created (only if absent) on the manager's
//     one lease (locks/etcd_lease.h), which a background thread renews; its
//     fencing token is the key's create_revision, which etcd makes greater
//     than every earlier revision. Released by deleting the key while its
//     create_revision is still ours.
//   - A client hold is the key created without a lease, so it survives
//     every process; its TTL is the expires field of its value
//     (locks/etcd_records.h). A hold past it counts as free: acquire() and
//     hold() replace it, list() shows it expired, clean() deletes it.
//   - Every change of an existing key is guarded by its mod_revision or
//     create_revision, so two managers never undo each other's work.
//
// Failure modes: etcd unreachable or refusing is ErrorCode::failed naming the
// endpoints, with a hint; a holder is ErrorCode::busy naming it; a password
// file that cannot be read makes every operation fail naming the file.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "locks/lock_manager.h"

namespace cellar::locks {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", ...; tried in order
  std::string prefix = "/cellar/";     // every key starts with it
  std::chrono::seconds ttl{10};        // the lease's TTL (etcd grants at least 2 s)
  std::string ca_file;                 // TLS trust, "" = the system's
  std::string cert_file;               // TLS client certificate, "" = none
  std::string key_file;                // its key
  std::string user;                    // etcd user, "" = no authentication
  std::string password_file;           // holds the user's password (a trailing newline is dropped)
};

// Contacts etcd only when first used (no lease until the first acquire).
std::unique_ptr<LockManager> make_etcd_lock_manager(EtcdOptions options);

}  // namespace cellar::locks
