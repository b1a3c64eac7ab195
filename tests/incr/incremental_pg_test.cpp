// Incremental backups against a real PostgreSQL 15 (docs/incremental.md),
// driving the real binary: a full backup, then five rounds of workload each
// followed by an incremental (a chain of five), then a full at about the
// same time; both restored to one restore point after them and compared
// with each other and with the primary: every table of every database
// (an md5 over all rows), the relations, the sequences; pg_amcheck
// --heapallindexed on the running restores and pg_checksums --check on the
// stopped ones. The workload covers what changes files without block
// references: extension, truncation by VACUUM, TRUNCATE, DROP TABLE, both
// CREATE DATABASE strategies, DROP DATABASE, VACUUM FULL, CLUSTER, REINDEX,
// a new tablespace, SET TABLESPACE, unlogged tables, TOAST, sequences.
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "catalog/backup_info.h"
#include "catalog/manifest.h"
#include "common/fs.h"
#include "incr/incremental_file.h"
#include "locks/lock_file.h"
#include "locks/lock_names.h"
#include "pg/connection.h"
#include "support/cellar_env.h"
#include "support/pause_listener.h"
#include "support/pg_server.h"
#include "support/pg_workload.h"
#include "support/restored.h"

using namespace cellar;
using namespace cellar::test;
namespace fs = std::filesystem;

namespace {

// One md5 per user table (all columns, all rows), one line.
const char* const kTableSums =
    "SELECT coalesce(string_agg(c.oid::regclass::text || '=' || (xpath('/row/m/text()', query_to_xml(format("
    "'SELECT md5(coalesce(string_agg(t::text, '','' ORDER BY t::text), '''')) AS m FROM %s t', c.oid::regclass),"
    " false, true, '')))[1]::text, ' ' ORDER BY c.oid::regclass::text), '')"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind = 'r' AND c.relpersistence = 'p'"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";
// Every user relation: name, kind, persistence, tablespace.
const char* const kRelations =
    "SELECT coalesce(string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || c.relpersistence::text || "
    "':' ||"
    " coalesce(t.spcname, '-'), ',' ORDER BY n.nspname, c.relname), '')"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_tablespace t ON t.oid = "
    "c.reltablespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";
const char* const kSequences =
    "SELECT coalesce(string_agg(sequencename || '=' || coalesce(last_value::text, '-'), ',' ORDER BY sequencename), "
    "'') FROM pg_sequences";
const char* const kDatabases = "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datallowconn";

// What a cluster holds, per database.
struct State {
  std::map<std::string, std::string> tables, relations, sequences;
};

std::string value(const std::string& conninfo, const std::string& sql) {
  auto conn = pg::Connection::open(conninfo, pg::ConnectionKind::normal, "cellar_tests");
  if (!conn) throw std::runtime_error(conn.status().message());
  auto v = conn->query_value(sql);
  if (!v) throw std::runtime_error(v.status().message() + " in " + conninfo);
  return *v;
}

// `base` is a conninfo without dbname.
State state_of(const std::string& base) {
  State s;
  std::string dbs = value(base + " dbname=postgres", kDatabases);
  for (size_t at = 0; at <= dbs.size();) {
    size_t comma = dbs.find(',', at);
    std::string db = dbs.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    std::string ci = base + " dbname=" + db;
    s.tables[db] = value(ci, kTableSums);
    s.relations[db] = value(ci, kRelations);
    s.sequences[db] = value(ci, kSequences);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return s;
}

std::string base_of(const Restored& r) { return "host=" + r.sock + " port=5432 user=postgres"; }

struct Fixture {
  std::unique_ptr<PgServer> pg;  // declared first: stopped last
  std::unique_ptr<CellarEnv> env = std::make_unique<CellarEnv>();
  Child receiver;
  std::string full, full2;
  std::vector<std::string> chain;  // the incrementals, oldest first
  std::string tbs2;
  State primary;

  ~Fixture() {
    if (receiver.pid() > 0) env->run({"receive-wal", "--stop", "main"});
  }
  RunResult run(const std::vector<std::string>& args) const { return env->run(args); }
  // Each ';'-separated statement on its own (CREATE DATABASE refuses a transaction block).
  void sql(const std::string& text, const std::string& db = "postgres") const {
    for (size_t at = 0; at < text.size();) {
      size_t semi = text.find(';', at);
      std::string one = text.substr(at, semi == std::string::npos ? std::string::npos : semi - at);
      if (one.find_first_not_of(' ') != std::string::npos) pg->psql(one, db);
      if (semi == std::string::npos) break;
      at = semi + 1;
    }
  }
  void pgbench(const std::vector<std::string>& args) const { run_pgbench(*pg, args); }
  std::string backup(const std::vector<std::string>& extra) const {
    std::vector<std::string> args{
        "backup", "main", "--wait", "--wait-timeout", "60", "--no-progress", "--immediate-checkpoint"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(args);
    if (r.exit_code != 0 || r.out.find(" is DONE") == std::string::npos)
      throw std::runtime_error("backup failed: " + r.out + r.err);
    if (r.err.find("WARNING") != std::string::npos) throw std::runtime_error("backup warned: " + r.err);
    size_t at = r.out.find("Starting backup ") + 16;
    return r.out.substr(at, 15);
  }
  catalog::BackupInfo info(const std::string& id) const {
    auto i = catalog::load_backup_info(env->server_dir("main") + "/base/" + id);
    if (!i) throw std::runtime_error(i.status().to_string());
    return *i;
  }
};

void start(Fixture& f) {
  f.pg = PgServer::start();
  f.pgbench({"-i", "-s", "2", "-q"});
  f.pg->create_tablespace("tbs1");
  f.sql("ALTER SYSTEM SET archive_command = 'true'");
  f.sql(
      "CREATE TABLE t_ext (id int PRIMARY KEY, v text);"
      "CREATE TABLE t_trunc_end AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g;"
      "CREATE TABLE t_trunc AS SELECT g AS id FROM generate_series(1, 5000) g;"
      "CREATE TABLE t_drop AS SELECT g AS id FROM generate_series(1, 5000) g;"
      "CREATE TABLE t_toast (id int, big text);"
      "ALTER TABLE t_toast ALTER big SET STORAGE EXTERNAL;"
      "INSERT INTO t_toast SELECT i, (SELECT string_agg(md5(i::text || g::text), '') FROM generate_series(1, 3000) g)"
      " FROM generate_series(1, 20) i;"
      "CREATE TABLE t_vf AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g;"
      "DELETE FROM t_vf WHERE id % 2 = 0;"
      "CREATE TABLE t_cl AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g;"
      "CREATE INDEX t_cl_i ON t_cl (v);"
      "CREATE TABLE t_ri (id int PRIMARY KEY, v text);"
      "INSERT INTO t_ri SELECT g, md5(g::text) FROM generate_series(1, 10000) g;"
      "CREATE TABLE t_move AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g;"
      "CREATE TABLE t_spc TABLESPACE tbs1 AS SELECT g AS id FROM generate_series(1, 3000) g;"
      "CREATE UNLOGGED TABLE t_unlogged AS SELECT g AS id FROM generate_series(1, 1000) g;"
      "CREATE SEQUENCE s1; SELECT nextval('s1') FROM generate_series(1, 5);"
      "CREATE DATABASE db_gone;");
  f.sql("CREATE TABLE gone AS SELECT g FROM generate_series(1, 100) g", "db_gone");
  f.env->add_server("main", f.pg->conninfo(), "slot_name = \"cellar_incr\"\ncompression = \"lz4\"\nparallel_jobs = 2");
  auto slot = f.run({"receive-wal", "--create-slot", "main"});
  if (slot.exit_code != 0) throw std::runtime_error("create-slot failed: " + slot.err);
  f.receiver = f.env->spawn_cellar({"receive-wal", "main"});
  std::string lock = f.env->home() + "/" + locks::make_lock_file_name({locks::LockKind::receive_wal, "main", ""});
  if (!wait_until([&] { return locks::LockFile(lock).owner_pid().has_value(); }, 10))
    throw std::runtime_error("receive-wal did not start");
}

// Round k of the workload, then an incremental.
void round(Fixture& f, int k) {
  f.pgbench({"-t", "200", "-c", "2", "-n"});
  switch (k) {
    case 1:
      f.sql(
          "INSERT INTO t_ext SELECT g, md5(g::text) FROM generate_series(1, 30000) g;"
          "DELETE FROM t_trunc_end WHERE id > 5000; VACUUM t_trunc_end;"
          "TRUNCATE t_trunc; INSERT INTO t_trunc SELECT g FROM generate_series(1, 100) g;"
          "DROP TABLE t_drop;"
          "UPDATE t_toast SET big = big || 'x' WHERE id < 5;");
      break;
    case 2:
      f.sql("CREATE DATABASE db_wal STRATEGY wal_log; CREATE DATABASE db_fc STRATEGY file_copy; DROP DATABASE db_gone");
      f.sql("CREATE TABLE w AS SELECT g, md5(g::text) FROM generate_series(1, 5000) g", "db_wal");
      f.sql("CREATE TABLE c AS SELECT g, md5(g::text) FROM generate_series(1, 5000) g", "db_fc");
      break;
    case 3:
      f.sql(
          "VACUUM FULL t_vf; CLUSTER t_cl USING t_cl_i; REINDEX TABLE t_ri;"
          "UPDATE t_ri SET v = 'r' || v WHERE id % 7 = 0;");
      break;
    case 4:
      f.tbs2 = f.pg->create_tablespace("tbs2");
      f.sql(
          "CREATE TABLE t_new_spc TABLESPACE tbs2 AS SELECT g, md5(g::text) FROM generate_series(1, 4000) g;"
          "ALTER TABLE t_move SET TABLESPACE tbs1; UPDATE t_move SET v = 'm' WHERE id < 100;");
      break;
    default:
      f.sql(
          "INSERT INTO t_unlogged SELECT g FROM generate_series(1, 500) g;"
          "SELECT nextval('s1') FROM generate_series(1, 3);"
          "UPDATE t_ext SET v = 'u' WHERE id % 1000 = 0;");
      f.sql("INSERT INTO w SELECT g, 'late' FROM generate_series(1, 50) g", "db_wal");
      break;
  }
  f.chain.push_back(f.backup({"--incremental"}));
}

// receive-wal for server 'main' of `env`, running until destroyed.
struct Receiver {
  const CellarEnv& env;
  Child child;
  explicit Receiver(const CellarEnv& e) : env(e) {
    auto slot = env.run({"receive-wal", "--create-slot", "main"});
    if (slot.exit_code != 0) throw std::runtime_error("create-slot failed: " + slot.err);
    child = env.spawn_cellar({"receive-wal", "main"});
    std::string lock = env.home() + "/" + locks::make_lock_file_name({locks::LockKind::receive_wal, "main", ""});
    if (!wait_until([&] { return locks::LockFile(lock).owner_pid().has_value(); }, 10))
      throw std::runtime_error("receive-wal did not start");
  }
  ~Receiver() { env.run({"receive-wal", "--stop", "main"}); }
};

Fixture& fixture() {
  static std::string failure;
  if (!failure.empty()) throw std::runtime_error("the fixture failed earlier: " + failure);
  try {
    static std::unique_ptr<Fixture> f = [] {
      auto p = std::make_unique<Fixture>();
      start(*p);
      p->full = p->backup({});
      for (int k = 1; k <= 5; ++k) round(*p, k);
      p->full2 = p->backup({"--full"});
      p->sql("SELECT pg_create_restore_point('after_both')");
      p->primary =
          state_of("host=" + p->pg->socket_dir() + " port=" + std::to_string(p->pg->port()) + " user=postgres");
      archive_current_wal(*p->env);
      return p;
    }();
    return *f;
  } catch (const std::exception& e) {
    failure = e.what();
    throw;
  }
}

// Restores `id` to the restore point and starts it; its state once promoted.
State restore(const Fixture& f, Restored& r, const std::string& id) {
  std::vector<std::string> args{"--target-name", "after_both", "--target-action", "promote"};
  for (const auto& spc : f.info(id).tablespaces) {
    args.push_back("--tablespace");
    args.push_back(spc.name + ":" + r.tbs + "/" + spc.name);
  }
  auto rec = r.recover(*f.env, "main", id, args);
  INFO(rec.out << rec.err);
  REQUIRE(rec.exit_code == 0);
  r.start();
  bool promoted = wait_until([&] { return r.query("SELECT pg_is_in_recovery()") == "f"; }, 90);
  INFO(r.log());
  REQUIRE(promoted);
  return state_of(base_of(r));
}

void amcheck(const Restored& r) {
  auto check = run_program({pg_bindir() + "/pg_amcheck", "-h", r.sock, "-p", "5432", "-U", "postgres", "--all",
                            "--heapallindexed", "--install-missing"});
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
}

void stop_and_check_pages(Restored& r) {
  auto stop = run_as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", r.dest, "-m", "fast", "-w"});
  REQUIRE(stop.exit_code == 0);
  r.started = false;
  auto sums = run_as_postgres({pg_bindir() + "/pg_checksums", "--check", "-D", r.dest});
  INFO(sums.out << sums.err);
  CHECK(sums.exit_code == 0);
}

}  // namespace

TEST_CASE("an incremental chain of five stores what changed and each backup of it has the backup's files",
          "[incr][pg][slow]") {
  Fixture& f = fixture();
  REQUIRE(f.chain.size() == 5);
  auto full = f.info(f.full);
  CHECK(full.type == "full");
  CHECK(full.parent_backup_id.empty());
  std::string parent = f.full;
  for (const auto& id : f.chain) {
    auto i = f.info(id);
    INFO(id);
    CHECK(i.type == "incremental");
    CHECK(i.parent_backup_id == parent);
    // Only the changes: well below the full backup's bytes before compression
    // (round 2 creates two databases, which are new files copied whole).
    CHECK(i.cluster_size.value_or(0) * (id == f.chain[1] ? 2 : 4) < full.cluster_size.value_or(1));
    parent = id;
  }
  // The segments with changed blocks are stored as INCREMENTAL files, each
  // longer than a header (at least one block); the unchanged ones are in the
  // manifest only, with no stored file.
  const std::string dir = f.env->server_dir("main") + "/base/" + f.chain[0];
  auto manifest = catalog::parse_manifest(read_text(dir + "/backup_manifest"));
  REQUIRE(manifest);
  size_t stored = 0, unchanged = 0;
  for (const auto& mf : manifest->files) {
    if (!incr::whole_path_of(mf.path)) continue;
    INFO(mf.path);
    const std::string file = catalog::stored_path_of(dir, mf.path, codec::Codec::lz4);
    if (mf.unchanged_blocks) {
      ++unchanged;
      CHECK(mf.size == incr::encode_incremental_header({*mf.unchanged_blocks, {}}).size());
      CHECK(!fs::exists(file));
    } else {
      ++stored;
      CHECK(mf.size >= incr::IncrementalHeader{0, {0}}.file_size());
      CHECK(fs::exists(file));
    }
  }
  CHECK(stored > 0);
  CHECK(unchanged > 100);
  auto list = f.run({"--format", "json", "list-backups", "main"});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("\"parent_backup_id\": \"" + f.chain[3] + "\"") != std::string::npos);
  auto text = f.run({"list-backups", "main"});
  CHECK(text.out.find("main " + f.chain[4] + " - ") != std::string::npos);
  CHECK(text.out.find(" - Incremental on " + f.chain[3]) != std::string::npos);
  auto show = f.run({"show-backup", "main", f.chain[4]});
  CHECK(show.out.find("  type: incremental\n") != std::string::npos);
  CHECK(show.out.find("  parent_backup_id: " + f.chain[3] + "\n") != std::string::npos);
}

TEST_CASE("verify-backup checks an incremental and the chain it builds on", "[incr][pg][slow]") {
  Fixture& f = fixture();
  auto ok = f.run({"verify-backup", "main", f.chain[4]});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("of it and the 5 backup(s) it builds on") != std::string::npos);
  // A damaged incremental in the middle of the chain fails the end's verification.
  std::string victim;
  for (const auto& e : fs::recursive_directory_iterator(f.env->server_dir("main") + "/base/" + f.chain[1] + "/data"))
    if (e.path().filename().string().rfind("INCREMENTAL.", 0) == 0 && e.file_size() > 0) victim = e.path();
  REQUIRE(!victim.empty());
  std::string saved = read_text(victim);
  write_text(victim, saved.substr(0, saved.size() / 2));
  auto bad = f.run({"verify-backup", "main", f.chain[4]});
  write_text(victim, saved);
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("ERROR: backup " + f.chain[1] + ": \"") != std::string::npos);
}

TEST_CASE("the end of an incremental chain and a full backup restore to the same data", "[incr][pg][slow]") {
  Fixture& f = fixture();
  Restored from_chain, from_full;
  State a = restore(f, from_chain, f.chain.back());
  State b = restore(f, from_full, f.full2);
  CHECK(a.tables == f.primary.tables);
  CHECK(a.relations == f.primary.relations);
  CHECK(a.tables == b.tables);
  CHECK(a.relations == b.relations);
  CHECK(a.sequences == b.sequences);
  CHECK(a.tables.count("db_wal") == 1);
  CHECK(a.tables.count("db_fc") == 1);
  CHECK(a.tables.count("db_gone") == 0);
  CHECK(a.tables.at("postgres").find("t_drop") == std::string::npos);
  CHECK(a.relations.at("postgres").find("t_new_spc:rp:tbs2") != std::string::npos);
  CHECK(a.relations.at("postgres").find("t_move:rp:tbs1") != std::string::npos);
  CHECK(from_chain.query("SELECT count(*) FROM t_ext") == "30000");
  amcheck(from_chain);
  amcheck(from_full);
  stop_and_check_pages(from_chain);
  stop_and_check_pages(from_full);
}

TEST_CASE("a backup in the middle of the chain restores to the same data as the chain's end", "[incr][pg][slow]") {
  Fixture& f = fixture();
  Restored middle;
  State m = restore(f, middle, f.chain[1]);
  CHECK(m.tables == f.primary.tables);
  CHECK(m.relations == f.primary.relations);
  amcheck(middle);
}

TEST_CASE("delete refuses a backup that incrementals depend on, naming them", "[incr][pg][slow]") {
  Fixture& f = fixture();
  for (auto [doomed, dependant] : {std::pair{f.full, f.chain[0]}, std::pair{f.chain[2], f.chain[3]}}) {
    auto r = f.run({"delete", "main", doomed});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("ERROR: cannot delete backup " + doomed + " of server 'main': incremental backups depend on it (" +
                     dependant + ")") != std::string::npos);
    CHECK(r.err.find("HINT: delete those first") != std::string::npos);
    CHECK(path_exists(f.env->server_dir("main") + "/base/" + doomed + "/backup_manifest"));
  }
}

TEST_CASE("an incremental without a parent or with a WAL gap is taken as a full backup with a warning", "[incr][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(), "slot_name = \"cellar_fallback\"");
  Receiver receiver(env);
  auto backup = [&] {
    return env.run({"backup", "main", "--incremental", "--wait", "--wait-timeout", "60", "--no-progress",
                    "--immediate-checkpoint"});
  };
  auto id_of = [](const RunResult& r) { return r.out.substr(r.out.find("Starting backup ") + 16, 15); };
  auto first = backup();
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  const std::string full = id_of(first);
  CHECK(first.err.find("WARNING: backup " + full +
                       " of server 'main' is taken as a full backup: there is no DONE backup of this cluster to "
                       "build on") != std::string::npos);
  // A segment after the full backup's start goes missing from the archive.
  pg->psql("CREATE TABLE gap AS SELECT g FROM generate_series(1, 10000) g");
  std::string lost = archive_current_wal(env);
  REQUIRE(std::filesystem::remove(lost));
  auto second = backup();
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  const std::string id = id_of(second);
  std::string segment = lost.substr(lost.rfind('/') + 1, 24);
  CHECK(second.err.find("WARNING: backup " + id + " of server 'main' is taken as a full backup: the WAL since " + full +
                        " cannot be trusted: WAL segment " + segment + " is not archived") != std::string::npos);
  auto info = catalog::load_backup_info(env.server_dir("main") + "/base/" + id);
  REQUIRE(info);
  CHECK(info->type == "full");
  CHECK(info->parent_backup_id.empty());
  CHECK(info->status == catalog::BackupStatus::done);
  // With the gap behind the newest backup, the next one is incremental again.
  auto third = backup();
  INFO(third.out << third.err);
  REQUIRE(third.exit_code == 0);
  CHECK(third.err.find("WARNING") == std::string::npos);
  auto next = catalog::load_backup_info(env.server_dir("main") + "/base/" + id_of(third));
  REQUIRE(next);
  CHECK(next->type == "incremental");
  CHECK(next->parent_backup_id == id);

  // A fall-back removes what the incremental's first pass stored before the
  // map failed: a file stored then and gone from the server before the full
  // backup is not left in it.
  const std::string extra = pg->data_dir() + "/cellar_extra_file";
  write_text(extra, "only for the first pass");
  pg->psql("CREATE TABLE gap2 AS SELECT g FROM generate_series(1, 10000) g");
  std::string lost2 = archive_current_wal(env);
  REQUIRE(std::filesystem::remove(lost2));
  PauseListener paused("incremental-first-pass");
  Child fourth = env.spawn_cellar(
      {"backup", "main", "--incremental", "--wait", "--wait-timeout", "60", "--no-progress", "--immediate-checkpoint"},
      {paused.env()});
  REQUIRE(paused.wait_reached());
  std::string newest;
  for (const auto& e : std::filesystem::directory_iterator(env.server_dir("main") + "/base"))
    newest = std::max(newest, e.path().filename().string());
  const std::string data = env.server_dir("main") + "/base/" + newest + "/data";
  auto stored_extra = [&] {
    for (const auto& e : std::filesystem::directory_iterator(data))
      if (e.path().filename().string().rfind("cellar_extra_file", 0) == 0) return true;
    return false;
  };
  CHECK(wait_until(stored_extra, 10));  // stored by the first pass
  REQUIRE(std::filesystem::remove(extra));
  paused.release();
  CHECK(fourth.wait() == 0);
  auto fell_back = catalog::load_backup_info(env.server_dir("main") + "/base/" + newest);
  REQUIRE(fell_back);
  CHECK(fell_back->type == "full");
  CHECK(fell_back->status == catalog::BackupStatus::done);
  CHECK_FALSE(stored_extra());
}

TEST_CASE("with backup_type incremental a plain backup builds chains of full_backup_every backups", "[incr][pg]") {
  auto pg = PgServer::start();
  CellarEnv env;
  env.add_server("main", pg->conninfo(),
                 "slot_name = \"cellar_every\"\nbackup_type = \"incremental\"\nfull_backup_every = 3");
  Receiver receiver(env);
  std::vector<std::string> types, parents;
  for (int i = 0; i < 5; ++i) {
    pg->psql("CREATE TABLE IF NOT EXISTS t (x int); INSERT INTO t SELECT generate_series(1, 1000)");
    auto r = env.run({"backup", "main", "--wait", "--wait-timeout", "60", "--no-progress", "--immediate-checkpoint"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("WARNING") == std::string::npos);  // the first full is no fall-back
    std::string id = r.out.substr(r.out.find("Starting backup ") + 16, 15);
    auto info = catalog::load_backup_info(env.server_dir("main") + "/base/" + id);
    REQUIRE(info);
    types.push_back(info->type);
    parents.push_back(info->parent_backup_id);
  }
  CHECK(types == std::vector<std::string>{"full", "incremental", "incremental", "full", "incremental"});
  CHECK(parents[0].empty());
  CHECK(parents[3].empty());
  CHECK_FALSE(parents[1].empty());
  // --full wins over backup_type.
  auto forced = env.run({"backup", "main", "--full", "--wait", "--wait-timeout", "60", "--no-progress"});
  REQUIRE(forced.exit_code == 0);
  auto info = catalog::load_backup_info(env.server_dir("main") + "/base/" +
                                        forced.out.substr(forced.out.find("Starting backup ") + 16, 15));
  REQUIRE(info);
  CHECK(info->type == "full");
  CHECK(env.run({"backup", "main", "--full", "--incremental"}).exit_code == 2);
  CHECK(env.run({"backup", "main", "--from", "latest"}).exit_code == 2);
}
