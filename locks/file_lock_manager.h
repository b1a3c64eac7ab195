// The file lock backend (lock_backend = "file", the default): SPEC §5
// exactly. A process lock is the flock of the Barman-named lock file in the
// lock directory (lock_file.h); beside it, per resource, two files of its own
// (lock_names.h):
//   .<resource>.token  the fencing counter: "<n>\n", incremented under the
//                      flock by every acquisition (process lock or hold);
//                      never removed, so tokens keep increasing even when
//                      `locks --clean` removes the lock file.
//   .<resource>.hold   a client hold: one JSON object {client, reason, host,
//                      since, expires, token}, written durably (temp, fsync,
//                      rename) under the flock and removed under it, so it
//                      survives process exits and reboots.
// An acquirer takes the flock, then looks for a hold: an unexpired one makes
// it release the flock and report busy; an expired one it removes. Writers of
// the hold file hold the flock, so "no hold" seen under the flock stays true
// until the flock is released.
//
// On one host a flock cannot be taken over while its holder lives (even
// stopped), so check_current() only fails when the counter moved on, e.g.
// the lock directory was shared and cleaned behind the holder's back.
#pragma once

#include <memory>
#include <string>

#include "locks/lock_manager.h"

namespace cellar::locks {

std::unique_ptr<LockManager> make_file_lock_manager(std::string lock_dir);

}  // namespace cellar::locks
