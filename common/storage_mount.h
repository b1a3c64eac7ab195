// The process's storage namespace, storage::root(): the local disk with
// absolute paths, on which repositories are mounted where SPEC §3 puts them
// (a kernel mount table in miniature). A server's repository (base/, wals/,
// identity.json) may live in a bucket or on a shared filesystem; its spool
// (streaming/, incoming/, errors/, state, log and lock files) always stays on
// the local disk under <home>/<server>/. Mounting <home>/<server>/base and
// .../wals onto the repository's driver keeps every caller on the one set of
// paths config/layout.h makes, whatever the repository is.
//
// A mount may carry a Filter (encryption at rest): it wraps the writers and
// readers of the files it applies to, below any codec, so a file is
// compressed, then encrypted, then handed to the driver.
//
// Mounts are set up once, before any thread starts (cli dispatch, tests), and
// read without locks afterwards; unmount_all() is for tests.
#pragma once

#include <memory>
#include <string>

#include "common/storage.h"

namespace cellar::storage {

class Filter {
 public:
  virtual ~Filter() = default;
  // Whether the file at `path` (relative to the mount) is filtered.
  virtual bool applies(const std::string& path) const = 0;
  virtual Result<std::unique_ptr<Writer>> wrap(std::unique_ptr<Writer> inner) const = 0;
  // `name` is how a message names the file.
  virtual Result<std::unique_ptr<Reader>> wrap(std::unique_ptr<Reader> inner, const std::string& name) const = 0;
  // The size a reader sees of a filtered file that the driver stores in `stored` bytes.
  virtual uint64_t plain_size(uint64_t stored) const = 0;
  // What catalogues record about filtered files: "aes-256-gcm:<key id>".
  virtual std::string id() const = 0;
};

struct Mount {
  std::string at;                        // an absolute local path (a directory or one file) the mount replaces
  std::shared_ptr<Storage> driver;       // where the files really are
  std::string under;                     // `at` in the driver's paths
  std::shared_ptr<const Filter> filter;  // optional
};

// Adds `mount`; a later mount at the same place replaces the earlier one.
void mount(Mount mount);
void unmount_all();

// The mounted driver that `path` resolves to, or nothing for the local disk.
const Mount* mount_of(const std::string& path);

// The filter's id for the file `path` (absolute), "" when it is stored as written.
std::string filter_id_of(const std::string& path);

// The namespace: paths are absolute; mounted paths go to their driver.
Storage& root();

}  // namespace cellar::storage
