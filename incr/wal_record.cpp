#include "incr/wal_record.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "pg/wal_names.h"

namespace cellar::incr {
namespace {

// Resource managers and infos (rmgrlist.h, xlog.h, xact.h, smgr.h, dbcommands_xlog.h).
constexpr uint8_t kRmXlog = 0, kRmXact = 1, kRmSmgr = 2, kRmDbase = 4;
constexpr uint8_t kSpecialRelUpdate = 0x01;
constexpr uint8_t kRmgrInfoMask = 0xF0;
constexpr uint8_t kXlogSwitch = 0x40, kXlogParameterChange = 0x60;
constexpr uint8_t kXactOpMask = 0x70, kXactHasInfo = 0x80;
constexpr uint8_t kXactCommit = 0x00, kXactAbort = 0x20, kXactCommitPrepared = 0x30, kXactAbortPrepared = 0x40;
constexpr uint32_t kXinfoHasDbinfo = 1u << 0, kXinfoHasSubxacts = 1u << 1, kXinfoHasRelfilenodes = 1u << 2;
constexpr uint8_t kSmgrCreate = 0x10, kSmgrTruncate = 0x20;
constexpr int32_t kTruncateHeap = 1, kTruncateVm = 2;
constexpr uint8_t kDbaseCreateFileCopy = 0x00, kDbaseCreateWalLog = 0x10, kDbaseDrop = 0x20;
constexpr int32_t kWalLevelReplica = 1;
// Fragment ids and flags (xlogrecord.h, v15).
constexpr uint8_t kMaxBlockId = 32, kDataShort = 255, kDataLong = 254, kOrigin = 253, kToplevelXid = 252;
constexpr uint8_t kForkMask = 0x0F, kHasImage = 0x10, kHasData = 0x20, kSameRel = 0x80;
constexpr uint8_t kImageHasHole = 0x01, kImageCompressed = 0x04 | 0x08 | 0x10;
constexpr uint8_t kForkMain = 0, kForkVm = 2, kForkInit = 3;

// Little-endian fields of unaligned bytes; reading past the end marks it.
struct Bytes {
  std::string_view data;
  size_t pos = 0;
  bool overrun = false;

  template <typename T>
  T get() {
    T v{};
    if (data.size() - pos < sizeof(T)) {
      overrun = true;
      pos = data.size();
      return v;
    }
    std::memcpy(&v, data.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  void skip(uint64_t n) {
    if (data.size() - pos < n) overrun = true;
    pos = overrun ? data.size() : pos + static_cast<size_t>(n);
  }
  size_t left() const { return data.size() - pos; }
};

struct BlockRef {
  RelFork fork;
  uint32_t block = 0;
};

struct Fragments {
  std::array<BlockRef, 33> blocks;  // block ids 0..32 (XLR_MAX_BLOCK_ID), each at most once
  size_t count = 0;
  std::string_view main_data;
};

std::string hex2(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", v);
  return buf;
}

bool crc_matches(std::string_view record) {
  uint32_t stored = 0;
  std::memcpy(&stored, record.data() + 20, 4);
  Crc32c crc;
  crc.update(record.substr(kRecordHeaderSize));
  crc.update(record.substr(0, 20));
  return crc.value() == stored;
}

// One block reference's header after its id; "" or what is wrong.
std::string parse_block(Bytes& in, uint8_t id, RelFork& rel, bool& have_rel, uint64_t& payload, BlockRef& out) {
  const auto flags = in.get<uint8_t>();
  const auto data_len = in.get<uint16_t>();
  if (((flags & kHasData) != 0) != (data_len != 0))
    return "has block " + std::to_string(id) + " with a data length of " + std::to_string(data_len) +
           " that contradicts its flags";
  payload += data_len;
  if ((flags & kHasImage) != 0) {
    payload += in.get<uint16_t>();  // image length
    in.skip(2);                     // hole offset
    const auto info = in.get<uint8_t>();
    if ((info & kImageCompressed) != 0 && (info & kImageHasHole) != 0) in.skip(2);  // hole length
  }
  if ((flags & kSameRel) == 0) {
    rel.spc = in.get<uint32_t>();
    rel.db = in.get<uint32_t>();
    rel.rel = in.get<uint32_t>();
    have_rel = true;
  } else if (!have_rel) {
    return "has block " + std::to_string(id) + " on the same relation as a previous block, but there is none";
  }
  out.fork = rel;
  out.fork.fork = flags & kForkMask;
  out.block = in.get<uint32_t>();
  return {};
}

// The fragment headers after the record header (DecodeXLogRecord); "" or what is wrong.
std::string parse_fragments(std::string_view record, Fragments& out) {
  Bytes in{record, kRecordHeaderSize};
  uint64_t payload = 0, main_len = 0;
  int last_id = -1;
  RelFork rel;
  bool have_rel = false;
  while (in.left() > payload && !in.overrun) {
    const auto id = in.get<uint8_t>();
    if (id == kDataShort || id == kDataLong) {
      main_len = id == kDataShort ? in.get<uint8_t>() : in.get<uint32_t>();
      payload += main_len;
      break;
    }
    if (id == kOrigin) in.skip(2);
    if (id == kToplevelXid) in.skip(4);
    if (id == kOrigin || id == kToplevelXid) continue;
    if (id > kMaxBlockId) return "has an invalid block id " + std::to_string(id);
    if (id <= last_id) return "has block id " + std::to_string(id) + " out of order";
    last_id = id;
    BlockRef ref;
    if (auto bad = parse_block(in, id, rel, have_rel, payload, ref); !bad.empty()) return bad;
    out.blocks[out.count++] = ref;
  }
  if (in.overrun || in.left() != payload) return "has fragment lengths that do not add up to its length";
  out.main_data = record.substr(record.size() - main_len);
  return {};
}

void drop_relations(Bytes& in, int32_t n, ChangeMap& changes) {
  for (int32_t i = 0; i < n && !in.overrun; ++i) {
    RelFork rel;
    rel.spc = in.get<uint32_t>();
    rel.db = in.get<uint32_t>();
    rel.rel = in.get<uint32_t>();
    if (in.overrun) return;
    for (uint8_t fork : {kForkMain, kForkVm, kForkInit}) {
      rel.fork = fork;
      changes.limit(rel, 0);
    }
  }
}

// Commit and abort records (ParseCommitRecord, ParseAbortRecord): the
// relations they drop lose all their blocks.
std::string apply_xact(uint8_t info, std::string_view main, ChangeMap& changes) {
  const uint8_t op = info & kXactOpMask;
  if (op != kXactCommit && op != kXactAbort && op != kXactCommitPrepared && op != kXactAbortPrepared) return {};
  Bytes in{main};
  in.skip(8);  // xact_time
  const uint32_t xinfo = (info & kXactHasInfo) != 0 ? in.get<uint32_t>() : 0;
  if ((xinfo & kXinfoHasDbinfo) != 0) in.skip(8);
  if ((xinfo & kXinfoHasSubxacts) != 0) in.skip(4 * static_cast<uint64_t>(std::max(in.get<int32_t>(), 0)));
  if ((xinfo & kXinfoHasRelfilenodes) != 0) drop_relations(in, in.get<int32_t>(), changes);
  return in.overrun ? "is a transaction end too short for what it lists" : "";
}

// SMGR create and truncate; "" or what is wrong. `known` says whether it was one.
std::string apply_smgr(uint8_t info, std::string_view main, ChangeMap& changes, bool& known) {
  Bytes in{main};
  RelFork rel;
  uint32_t block = 0;
  int32_t what = 0;
  if (info == kSmgrTruncate) block = in.get<uint32_t>();
  rel.spc = in.get<uint32_t>();
  rel.db = in.get<uint32_t>();
  rel.rel = in.get<uint32_t>();
  what = in.get<int32_t>();  // fork (create) or flags (truncate)
  known = info == kSmgrCreate || info == kSmgrTruncate;
  if (!known) return {};
  if (in.overrun) return "is an SMGR record too short for its kind";
  if (info == kSmgrCreate) {
    rel.fork = static_cast<uint8_t>(what & kForkMask);
    changes.limit(rel, 0);
    return {};
  }
  rel.fork = kForkMain;
  if ((what & kTruncateHeap) != 0) changes.limit(rel, block);
  rel.fork = kForkVm;
  if ((what & kTruncateVm) != 0) changes.limit(rel, block);
  return {};
}

// DBASE create (either strategy) and drop; "" or what is wrong.
std::string apply_dbase(uint8_t info, std::string_view main, ChangeMap& changes, bool& known) {
  Bytes in{main};
  known = info == kDbaseCreateFileCopy || info == kDbaseCreateWalLog || info == kDbaseDrop;
  if (!known) return {};
  const auto db = in.get<uint32_t>();
  if (info != kDbaseDrop) {
    const auto spc = in.get<uint32_t>();
    if (!in.overrun) changes.whole_databases.insert({spc, db});
  } else {
    const auto n = in.get<int32_t>();
    for (int32_t i = 0; i < n && !in.overrun; ++i) {
      const auto spc = in.get<uint32_t>();
      if (!in.overrun) changes.whole_databases.insert({spc, db});
    }
  }
  return in.overrun ? "is a database record too short for its kind" : "";
}

std::string apply_xlog(uint8_t info, std::string_view main) {
  if (info != kXlogParameterChange) return {};
  Bytes in{main};
  in.skip(20);  // MaxConnections .. max_locks_per_xact
  const auto wal_level = in.get<int32_t>();
  if (in.overrun) return "is a parameter change too short for its kind";
  if (wal_level < kWalLevelReplica) return "sets wal_level to minimal, so changes after it may be missing from WAL";
  return {};
}

// The records that change files without block references; "" or what is wrong.
std::string apply_special(uint8_t rmid, uint8_t xl_info, std::string_view main, ChangeMap& changes) {
  const uint8_t info = xl_info & kRmgrInfoMask;
  bool known = rmid == kRmXact;  // like pg_rewind: only commits and aborts drop files
  std::string bad;
  if (rmid == kRmXlog) bad = apply_xlog(info, main);
  if (rmid == kRmXact) bad = apply_xact(info, main, changes);
  if (rmid == kRmSmgr) bad = apply_smgr(info, main, changes, known);
  if (rmid == kRmDbase) bad = apply_dbase(info, main, changes, known);
  if (bad.empty() && (xl_info & kSpecialRelUpdate) != 0 && !known)
    bad = "of resource manager " + std::to_string(rmid) + " (info " + hex2(info) +
          ") changes relation files in a way this decoder does not know";
  return bad;
}

}  // namespace

Result<RecordKind> decode_record(std::string_view record, uint64_t lsn, ChangeMap& changes) {
  auto fail = [&](const std::string& what) {
    return Status::failed("WAL record at " + pg::format_lsn(lsn) + " " + what);
  };
  if (!crc_matches(record)) return fail("has an incorrect checksum");
  Fragments parts;
  if (auto bad = parse_fragments(record, parts); !bad.empty()) return fail(bad);
  const auto xl_info = static_cast<uint8_t>(record[16]);
  const auto rmid = static_cast<uint8_t>(record[17]);
  if (auto bad = apply_special(rmid, xl_info, parts.main_data, changes); !bad.empty()) return fail(bad);
  for (size_t i = 0; i < parts.count; ++i) changes.blocks[parts.blocks[i].fork].insert(parts.blocks[i].block);
  ++changes.records;
  const bool is_switch = rmid == kRmXlog && (xl_info & kRmgrInfoMask) == kXlogSwitch;
  return is_switch ? RecordKind::xlog_switch : RecordKind::other;
}

}  // namespace cellar::incr
