// One reassembled PostgreSQL 15 WAL record, decoded for the ChangeMap: its
// CRC-32C checked, its fragment headers parsed (DecodeXLogRecord's layout)
// and the records that change files without block references read. Internal
// to incr/: WalDecoder (incr/wal_decoder.h) finds the records, this reads one.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "incr/change_map.h"

namespace cellar::incr {

// XLogRecord, the fixed header every record opens with.
inline constexpr uint32_t kRecordHeaderSize = 24;

enum class RecordKind { other, xlog_switch };

// Adds what `record` (tot_len bytes, starting at `lsn`) changes to `changes`
// and counts it. Fails naming `lsn` on a bad CRC, fragment headers that do
// not add up, a record flagged XLR_SPECIAL_REL_UPDATE this code does not
// know, or wal_level set below replica.
Result<RecordKind> decode_record(std::string_view record, uint64_t lsn, ChangeMap& changes);

}  // namespace cellar::incr
