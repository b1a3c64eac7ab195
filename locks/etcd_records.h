// What the etcd lock backend stores under <prefix><resource> (SPEC §9), a
// make and a parse for each shape, side by side. Values are JSON objects:
//   {"host","pid","command","since"}               a process lock (on a lease)
//   {"host","client","reason","since","expires"}   a client hold (no lease;
//                                                  expires null = until released)
// since and expires are unix seconds. Anything else under the prefix (not
// JSON, or neither shape) parses as unknown and keeps its text, so listings
// can show it; it is never an error. Also here: the words the backend uses
// to name a holder in its messages.
#pragma once

#include <cstdint>
#include <string>

#include "locks/lock_manager.h"

namespace cellar::locks {

enum class RecordKind { process, hold, unknown };

struct EtcdRecord {
  RecordKind kind = RecordKind::unknown;
  Owner owner;      // the fields of its shape; token is the caller's to fill
  std::string raw;  // the value as stored
};

std::string make_process_record(const Owner& owner);
std::string make_hold_record(const Owner& owner);
EtcdRecord parse_record(const std::string& value);

// A hold whose expires is at or before `now` (unix seconds).
bool expired_at(const EtcdRecord& record, int64_t now);

// "PID 4711 on host h1: cellar backup main", "client 'dba' since
// 2026-12-01T02:00:00Z: upgrade", "an unreadable value "...""
std::string describe_holder(const EtcdRecord& record);
// "PID 4711 on host h1", "'dba'": for "resource already held by ...".
std::string short_holder(const EtcdRecord& record);

// Unix seconds as "2026-12-01T02:00:00Z".
std::string utc_text(int64_t unix_seconds);

}  // namespace cellar::locks
