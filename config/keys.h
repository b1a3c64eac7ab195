// The key table (SPEC §4.2): every configuration key once, with the C++ type
// it reads as, its default, the rule its value must follow and its meaning.
// Everything about keys comes from these two lists: the Key enum, the specs of
// key_specs() (used by the loader, config-update, show-servers, sync-info and
// the docs test), and the typed accessors of ServerConfig and Config
// (config.h). A key that is not listed here has no enumerator and no
// accessor, so asking for it does not compile.
//
// Adding a key is one line in the list of its scope, plus its row in
// docs/commands.md (a test checks it is there).
//
// Not here: reading files (config.h), and the grammars of durations,
// retention policies and schedules (grammar.h), which the rules call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/grammar.h"

namespace cellar {

// X(NAME, TYPE, DEFAULT, RULE, MEANING)
//   TYPE     what the accessor returns: std::string, bool, int64_t, Duration,
//            or, for a key that may be unset, std::optional of one of those or
//            of RetentionPolicy or Schedule. A std::string key with no default
//            reads as "" when unset (ServerConfig::has tells the difference).
//   DEFAULT  the default as TOML text would give it, or nullptr for none
//            (or a default the loader derives: see config.h)
//   RULE     what a value of the right type must also satisfy (keys.cpp)

// Keys only [global] may set.
#define CELLAR_GLOBAL_KEYS(X)                                                                                      \
  X(home, std::string, "/var/lib/cellar", absolute_path(), "catalogue root")                                       \
  X(lock_directory, std::string, nullptr, absolute_path(), "where lock files live (default: home)")                \
  X(log_file, std::string, nullptr, absolute_path_or_empty(),                                                      \
    "spdlog file sink (default: <home>/cellar.log; \"\" disables)")                                                \
  X(config_dir, std::string, "conf.d", not_empty(""), "extra *.toml files, relative to the main file")             \
  X(lock_backend, std::string, "file", one_of({"file", "etcd"}), "file (flock, one host) or etcd (several hosts)") \
  X(etcd_endpoints, StringList, "http://127.0.0.1:2379", url_list_rule(),                                          \
    "etcd client URLs: a list, or one URL as a string")                                                            \
  X(etcd_prefix, std::string, "/cellar/", key_prefix_rule(), "etcd key prefix of cellar's locks")                  \
  X(lock_ttl, Duration, "10", duration_in(2, 3600), "lease TTL of an etcd lock (a duration)")                      \
  X(etcd_ca_file, std::string, nullptr, absolute_path(), "CA bundle for etcd's TLS certificate")                   \
  X(etcd_cert_file, std::string, nullptr, absolute_path(), "client certificate for etcd (TLS)")                    \
  X(etcd_key_file, std::string, nullptr, absolute_path(), "client key for etcd (TLS)")                             \
  X(etcd_user, std::string, nullptr, not_empty(""), "etcd user (authentication)")                                  \
  X(etcd_password_file, std::string, nullptr, absolute_path(), "0600 file holding the etcd user's password")       \
  X(daemon_socket, std::string, nullptr, socket_path_rule(),                                                       \
    "control socket of cellar daemon (default: <lock_directory>/.cellar-daemon.sock)")                             \
  X(daemon_interval, Duration, "60", duration_in(1, 86400), "time between the daemon's maintenance passes")        \
  X(daemon_exit_codes, StringList, "0,2", exit_code_list_rule(), "receive-wal exit statuses never restarted")      \
  X(daemon_forever, bool, "true", anything(), "false: give up after backoff-limit fast crashes in a row")          \
  X(daemon_transcript, std::string, nullptr, absolute_path(), "output of a detached daemon (<home>/daemon.log)")   \
  X(daemon_lockable, StringList, "", lockable_rule(), "KIND:SERVER patterns `daemon lock` may take")               \
  X(daemon_metrics_listen, std::string, "off", listen_rule(), "off, or 127.0.0.1:PORT serving /metrics")

// Keys [global] sets as a default for every server, and [servers.<name>] for one.
#define CELLAR_SERVER_KEYS(X)                                                                                         \
  X(log_level, std::string, "info", one_of({"debug", "info", "warning", "error", "off"}),                             \
    "debug, info, warning, error or off")                                                                             \
  X(description, std::string, "", anything(), "free text")                                                            \
  X(active, bool, "true", anything(), "inactive servers are skipped by cron and all")                                 \
  X(conninfo, std::string, nullptr, anything(), "libpq conninfo for normal connections (required)")                   \
  X(streaming_conninfo, std::string, nullptr, anything(),                                                             \
    "libpq conninfo for replication connections (default: conninfo)")                                                 \
  X(slot_name, std::string, "cellar", slot_name_rule(), "physical replication slot used by receive-wal")              \
  X(create_slot, std::string, "manual", one_of({"auto", "manual"}), "auto: receive-wal creates a missing slot")       \
  X(streaming_archiver, bool, "true", anything(), "cron keeps receive-wal running")                                   \
  X(compression, std::string, "none", one_of({"none", "gzip", "lz4", "zstd"}), "none, gzip, lz4 or zstd")             \
  X(compression_level, std::optional<int64_t>, nullptr, in_range(1, 19), "codec level (default: the codec's)")        \
  X(parallel_jobs, int64_t, "1", in_range(1, 64), "worker threads for backup and recover")                            \
  X(reuse_backup, std::string, "link", one_of({"link", "off"}), "link or off")                                        \
  X(backup_type, std::string, "full", one_of({"full", "incremental"}),                                                \
    "what `backup` takes without --incremental/--full")                                                               \
  X(full_backup_every, int64_t, "7", in_range(1, 1000),                                                               \
    "with backup_type incremental: a full once a chain has N backups")                                                \
  X(retention_policy, std::optional<RetentionPolicy>, nullptr, anything(),                                            \
    "REDUNDANCY n or RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS")                                                         \
  X(wal_retention_policy, std::string, "main", one_of({"main"}), "main")                                              \
  X(minimum_redundancy, int64_t, "0", in_range(0, 1000), "backups never deleted below this count")                    \
  X(last_backup_maximum_age, std::optional<Duration>, nullptr, at_least(60),                                          \
    "a duration, e.g. \"1 DAYS\"; check fails past it")                                                               \
  X(backup_schedule, std::optional<Schedule>, nullptr, anything(), "\"daily HH:MM\" or an interval \"6 HOURS\"")      \
  X(primary_ssh_command, std::string, nullptr, not_empty(" (remove the key instead)"), "makes this a passive node")   \
  X(primary_repository, std::string, nullptr, primary_repository_rule(),                                              \
    "makes this a passive node that reads the primary's repository (a path or s3://) directly")                       \
  X(receive_wal_backoff_limit, Duration, "10", duration_in(1, 3600), "seconds or a duration; reconnect delay cap")    \
  X(receive_wal_timeout, Duration, "60", duration_in(2, 3600), "receive-wal gives a silent connection up after this") \
  X(backup_stall_timeout, Duration, "300", duration_in(5, 86400), "a backup receiving nothing this long fails")       \
  X(primary_conninfo, std::string, nullptr, anything(),                                                               \
    "conninfo of the primary when conninfo names a standby (restore point, WAL switch)")                              \
  X(repository, std::string, "local", repository_rule(), "\"local\", an absolute path or \"s3://BUCKET[/PREFIX]\"")   \
  X(s3_endpoint, std::string, nullptr, url_rule(), "S3 endpoint URL (default: https://s3.<region>.amazonaws.com)")    \
  X(s3_region, std::string, "us-east-1", not_empty(""), "SigV4 signing region")                                       \
  X(s3_uri_style, std::string, "host", one_of({"host", "path"}), "host (virtual-hosted) or path")                     \
  X(s3_key_id, std::string, nullptr, not_empty(""), "access key id (default: $AWS_ACCESS_KEY_ID)")                    \
  X(s3_secret_file, std::string, nullptr, absolute_path(), "0600 file holding the secret access key")                 \
  X(s3_ca_file, std::string, nullptr, absolute_path(), "CA bundle for the endpoint's TLS certificate")                \
  X(s3_verify_tls, bool, "true", anything(), "verify the endpoint's TLS certificate and host name")                   \
  X(s3_storage_class, std::string, nullptr, not_empty(""), "x-amz-storage-class of uploads (default: the bucket's)")  \
  X(s3_part_size, int64_t, "16", in_range(5, 5120), "multipart part size in MiB")                                     \
  X(upload_concurrency, int64_t, "4", in_range(1, 64), "S3 uploads in flight per command")                            \
  X(s3_retries, int64_t, "4", in_range(0, 20), "retries of a failed S3 request (5xx, reset, timeout)")                \
  X(encryption, std::string, "none", one_of({"none", "aes-256-gcm"}), "none or aes-256-gcm (repository files)")       \
  X(encryption_key_file, std::string, nullptr, absolute_path(), "0600 file holding the 256-bit key as 64 hex digits")

#define CELLAR_KEY_ENUMERATOR(name, ...) name,
enum class Key : uint8_t { CELLAR_GLOBAL_KEYS(CELLAR_KEY_ENUMERATOR) CELLAR_SERVER_KEYS(CELLAR_KEY_ENUMERATOR) };
#undef CELLAR_KEY_ENUMERATOR

#define CELLAR_KEY_PLUS_ONE(...) +1
inline constexpr size_t kKeyCount = 0 CELLAR_GLOBAL_KEYS(CELLAR_KEY_PLUS_ONE) CELLAR_SERVER_KEYS(CELLAR_KEY_PLUS_ONE);
#undef CELLAR_KEY_PLUS_ONE

// Where a value came from: a file and line, or the built-in default.
struct Source {
  std::string file;  // "" for a default
  int line = 0;      // 0 when unknown
  std::string describe() const;
};

// A value as TOML (or config-update's JSON) gave it, before its rule.
using ConfigValue = std::variant<std::string, bool, int64_t>;
std::string value_to_string(const ConfigValue& v);

// A value once its rule accepted it: the type of its key's accessor.
using TypedValue =
    std::variant<std::monostate, std::string, bool, int64_t, Duration, RetentionPolicy, Schedule, StringList>;

struct Setting {
  ConfigValue value;  // as written, for show-servers and config-update
  Source source;
  bool is_set = false;  // false: a key with no value ("none")
  TypedValue typed;     // set with is_set
};

enum class KeyScope { global_only, any };
// What TOML type a key accepts; a duration is a string or an integer
// (seconds); a string list is an array of strings or one string, kept as
// ConfigValue in one string joined with ",".
enum class KeyType { string, boolean, integer, duration, string_list };

struct KeySpec {
  Key key;
  const char* name;
  KeyType type;
  KeyScope scope;
  const char* default_value;  // textual default; nullptr = none
  const char* meaning;
  // Applies the key's type conversion and rule: "" and `out` set if the value
  // is fine, else what it must be ("must be ...").
  std::function<std::string(const ConfigValue& value, TypedValue& out)> parse;
};

// Every key, in documentation order: the [global]-only ones, then the others.
// spec.key indexes it. Aborts at start-up if a default breaks its own rule.
const std::vector<KeySpec>& key_specs();
const KeySpec& spec_of(Key key);
// nullptr for a name that is not a key: callers report it (unknown key).
const KeySpec* find_key(const std::string& name);

// "" if `value` (already of the key's TOML type) is valid, else what it must be.
std::string validate_value(const KeySpec& spec, const ConfigValue& value);

// The setting of a key's default, or an unset one for a key without.
Setting default_setting(const KeySpec& spec);

// One setting per key, indexed by Key.
class Settings {
 public:
  const Setting& operator[](Key k) const { return values_[static_cast<size_t>(k)]; }
  Setting& operator[](Key k) { return values_[static_cast<size_t>(k)]; }

 private:
  std::array<Setting, kKeyCount> values_;
};

// The value of `s` as an accessor of type T returns it: the typed value, T{}
// (nullopt, "", false, 0) when unset. A typed value of another type is a bug
// in the table and throws std::bad_variant_access, never a silent default.
template <typename T>
struct AccessorValue {
  using type = T;
};
template <typename T>
struct AccessorValue<std::optional<T>> {
  using type = T;
};
template <typename T>
T read_setting(const Setting& s) {
  if (!s.is_set) return T{};
  return T(std::get<typename AccessorValue<T>::type>(s.typed));
}

}  // namespace cellar
