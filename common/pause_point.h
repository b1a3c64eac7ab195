// Test injection points: named places where a process can be held still so
// that a multi-process test forces an interleaving instead of hoping for it
// (a kill -9 while a backup is STARTED, a delete while recover holds the
// backup). Nothing happens unless the environment variable
//
//   CELLAR_PAUSE_AT=NAME:SOCKET
//
// names the point; then the first time the process reaches NAME it connects
// to the Unix-domain stream socket SOCKET (the test listens there), sends
// "NAME PID\n", and blocks until the test writes a line or closes the
// connection. A test that dies therefore never leaves the process hanging.
// A SOCKET that cannot be reached is a warning and the process goes on. With
// the variable unset a point costs one call that reads a cached pointer.
//
// The points (grep for the name to find the place):
//   backup-started    run_backup, right after backup.info says STARTED (on
//                     disk) and before BASE_BACKUP starts; holds the server's
//                     backup lock and the new backup's id lock.
//   incremental-first-pass  backup --incremental, after the files it copies
//                     whole whatever the map says were read, before it
//                     waits for the map (the copy workers go on).
//   recover-copying   recover, after the first file is restored into DEST;
//                     the other copy workers stop at their next file; holds
//                     the backup's id lock.
//
// Not here: the test side (tests/support/pause_listener.h).
#pragma once

#include <string_view>

namespace cellar {

namespace detail {
bool pause_points_enabled();
void pause_here(std::string_view name);
}  // namespace detail

inline void pause_point(std::string_view name) {
  if (detail::pause_points_enabled()) detail::pause_here(name);
}

}  // namespace cellar
