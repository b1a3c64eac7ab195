// Where archived WAL files live (SPEC §3): wals/<first 16 hex>/<name><suffix>
// for segments and backup labels (<segment>.<offset>.backup), wals/<name> for
// TTTTTTTT.history files; <suffix> is the codec's (.zst .lz4 .gz, "" for
// none). Shared by archive-wal (writer) and get-wal (reader). Names reaching
// these functions are already validated WAL file names (pg/wal_names.h).
#pragma once

#include <optional>
#include <string>

#include "common/codec.h"

namespace cellar::wal {

// <server_dir>/wals
std::string wals_dir(const std::string& server_dir);

// The directory `name` is stored in: wals/ for history files, else the hash dir.
std::string archive_dir_for(const std::string& wals, const std::string& name);

struct ArchivedFile {
  std::string path;  // the stored file, with its codec suffix
  codec::Codec codec;
};

// The stored file of `name` under any codec suffix, or nothing.
std::optional<ArchivedFile> find_archived(const std::string& wals, const std::string& name);

// True once `name` is stored in <server_dir>/wals (find_archived).
bool is_archived(const std::string& server_dir, const std::string& name);

}  // namespace cellar::wal
