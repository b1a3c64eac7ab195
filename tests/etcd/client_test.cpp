// The etcd client against a real etcd (tests/support/etcd_server.h): leases,
// create-if-absent, reads, guarded writes, failover, authentication, and the
// words of its errors.
#include "etcd/client.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "support/etcd_server.h"
#include "support/fault_proxy.h"

namespace cellar::etcd {
namespace {

using test::shared_etcd;

struct Fixture {
  std::string prefix = shared_etcd().fresh_prefix();
  Client client{shared_etcd().client_options()};
  std::string key(const std::string& name) const { return prefix + name; }
};

std::string refused_endpoint() { return "http://127.0.0.1:" + std::to_string(test::unused_port()); }

}  // namespace

TEST_CASE("an etcd lease is granted, renewed while it lives, and gone once revoked", "[etcd]") {
  Fixture f;
  auto lease = f.client.grant(std::chrono::seconds(5));
  REQUIRE(lease);
  CHECK(lease->id != 0);
  CHECK(lease->ttl == 5);
  auto left = f.client.keepalive(lease->id);
  REQUIRE(left);
  CHECK(*left == 5);
  REQUIRE(f.client.revoke(lease->id));
  auto after = f.client.keepalive(lease->id);
  REQUIRE(after);
  CHECK(*after == 0);
  CHECK(f.client.revoke(lease->id));  // already gone: fine
}

TEST_CASE("etcd grants a lease asked for under 2 s as 2 s", "[etcd]") {
  Fixture f;
  auto lease = f.client.grant(std::chrono::seconds(1));
  REQUIRE(lease);
  CHECK(lease->ttl == 2);
  CHECK(f.client.revoke(lease->id));
}

TEST_CASE("an etcd create puts a key only when absent and shows the existing key otherwise", "[etcd]") {
  Fixture f;
  auto first = f.client.create(f.key("a"), "one");
  REQUIRE(first);
  CHECK(first->created);
  CHECK_FALSE(first->existing);
  auto second = f.client.create(f.key("a"), "two");
  REQUIRE(second);
  CHECK_FALSE(second->created);
  REQUIRE(second->existing);
  CHECK(second->existing->key == f.key("a"));
  CHECK(second->existing->value == "one");
  CHECK(second->existing->create_revision == first->revision);
  CHECK(second->existing->mod_revision == first->revision);
  CHECK(second->existing->lease == 0);
}

TEST_CASE("an etcd key created on a lease carries it and goes with it", "[etcd]") {
  Fixture f;
  auto lease = f.client.grant(std::chrono::seconds(10));
  REQUIRE(lease);
  auto made = f.client.create(f.key("leased"), "v", lease->id);
  REQUIRE(made);
  REQUIRE(made->created);
  auto kv = f.client.get(f.key("leased"));
  REQUIRE(kv);
  REQUIRE(*kv);
  CHECK((*kv)->lease == lease->id);
  CHECK((*kv)->create_revision == made->revision);
  REQUIRE(f.client.revoke(lease->id));
  auto gone = f.client.get(f.key("leased"));
  REQUIRE(gone);
  CHECK_FALSE(*gone);
}

TEST_CASE("an etcd create on a lease etcd does not know fails naming the lease", "[etcd]") {
  Fixture f;
  auto made = f.client.create(f.key("x"), "v", 12345);
  REQUIRE_FALSE(made);
  CHECK(made.status().message().find("lease not found") != std::string::npos);
}

TEST_CASE("etcd range_prefix returns only the keys under the prefix, sorted, with the store's revision", "[etcd]") {
  Fixture f;
  REQUIRE(f.client.create(f.key("b"), "2"));
  REQUIRE(f.client.create(f.key("a"), "1"));
  auto last = f.client.create(f.key("c/d"), "3");
  REQUIRE(last);
  REQUIRE(f.client.create(f.prefix.substr(0, f.prefix.size() - 1) + "x", "outside"));
  auto range = f.client.range_prefix(f.prefix);
  REQUIRE(range);
  REQUIRE(range->kvs.size() == 3);
  CHECK(range->kvs[0].key == f.key("a"));
  CHECK(range->kvs[1].key == f.key("b"));
  CHECK(range->kvs[2].key == f.key("c/d"));
  CHECK(range->kvs[2].value == "3");
  CHECK(range->revision >= last->revision);
  auto none = f.client.get(f.key("missing"));
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("etcd guarded writes and deletes change a key only at the expected revision", "[etcd]") {
  Fixture f;
  auto made = f.client.create(f.key("k"), "v1");
  REQUIRE(made);
  const int64_t created = made->revision;
  auto stale = f.client.put_if_mod_revision(f.key("k"), "v2", created - 1);
  REQUIRE(stale);
  CHECK_FALSE(*stale);
  auto put = f.client.put_if_mod_revision(f.key("k"), "v2", created);
  REQUIRE(put);
  CHECK(*put);
  auto kv = f.client.get(f.key("k"));
  REQUIRE((kv && *kv));
  CHECK((*kv)->value == "v2");
  CHECK((*kv)->create_revision == created);  // a put keeps the create_revision
  CHECK((*kv)->mod_revision > created);
  auto by_old_mod = f.client.delete_if_mod_revision(f.key("k"), created);
  REQUIRE(by_old_mod);
  CHECK_FALSE(*by_old_mod);
  auto by_wrong_create = f.client.delete_if_create_revision(f.key("k"), created + 100);
  REQUIRE(by_wrong_create);
  CHECK_FALSE(*by_wrong_create);
  auto by_create = f.client.delete_if_create_revision(f.key("k"), created);
  REQUIRE(by_create);
  CHECK(*by_create);
  auto missing = f.client.delete_if_mod_revision(f.key("k"), (*kv)->mod_revision);
  REQUIRE(missing);
  CHECK_FALSE(*missing);
}

TEST_CASE("etcd keys and values are bytes: binary and non-ASCII round trip", "[etcd]") {
  Fixture f;
  const std::string value("\x00\x01\xff{\"quote\"}\n\xc3\xa9", 13);
  REQUIRE(f.client.create(f.key("bin\xc3\xa9"), value));
  auto kv = f.client.get(f.key("bin\xc3\xa9"));
  REQUIRE((kv && *kv));
  CHECK((*kv)->value == value);
}

TEST_CASE("an unreachable etcd is a failed status naming the endpoint, with a hint", "[etcd]") {
  const std::string endpoint = refused_endpoint();
  Client client(ClientOptions{{endpoint}, "", "", "", "", "", std::chrono::milliseconds(2000)});
  auto kv = client.get("/x");
  REQUIRE_FALSE(kv);
  CHECK(kv.status().code() == ErrorCode::failed);
  CHECK(kv.status().message() == "cannot reach etcd at \"" + endpoint + "\": Connection refused");
  CHECK(kv.status().hint().find("etcd_endpoints") != std::string::npos);
}

TEST_CASE("an etcd client with no endpoints is a usage error", "[etcd]") {
  Client client(ClientOptions{});
  auto lease = client.grant(std::chrono::seconds(5));
  REQUIRE_FALSE(lease);
  CHECK(lease.status().code() == ErrorCode::usage);
}

TEST_CASE("an etcd client moves on to the next endpoint when one refuses connections", "[etcd]") {
  Fixture f;
  const std::string dead = refused_endpoint();
  ClientOptions options = shared_etcd().client_options();
  options.endpoints = {dead, shared_etcd().endpoint()};
  Client client(options);
  auto made = client.create(f.key("failover"), "v");
  REQUIRE(made);
  CHECK(made->created);
  auto kv = client.get(f.key("failover"));
  REQUIRE((kv && *kv));
  options.endpoints = {dead, refused_endpoint()};
  auto none = Client(options).get(f.key("failover"));
  REQUIRE_FALSE(none);
  CHECK(none.status().message().find("\"" + dead + "\" (Connection refused); \"") != std::string::npos);
}

TEST_CASE("an etcd request that gets no answer gives up after the request timeout", "[etcd]") {
  Fixture f;
  test::FaultProxy proxy("127.0.0.1", shared_etcd().port());
  ClientOptions options = shared_etcd().client_options();
  options.endpoints = {proxy.endpoint()};
  options.request_timeout = std::chrono::milliseconds(300);
  Client client(options);
  REQUIRE(client.get(f.key("k")));
  proxy.cut();
  const auto start = std::chrono::steady_clock::now();
  auto kv = client.get(f.key("k"));
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(kv);
  CHECK(kv.status().message() == "cannot reach etcd at \"" + proxy.endpoint() + "\": no answer within 300 ms");
  CHECK(took < std::chrono::milliseconds(1500));
  const auto soon = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  auto bounded = client.keepalive(1, soon);  // a deadline shortens the attempt
  REQUIRE_FALSE(bounded);
  CHECK(std::chrono::steady_clock::now() < soon + std::chrono::milliseconds(200));
  proxy.heal();
}

TEST_CASE("an etcd client authenticates, re-authenticates when its token is revoked, and never shows the password",
          "[etcd]") {
  auto server = test::EtcdServer::start();
  server->enable_auth("cellar", "s3cret-pw");
  ClientOptions options = server->client_options();
  options.user = "cellar";
  options.password = "s3cret-pw";
  Client client(options);
  auto made = client.create("/auth/k", "v");
  REQUIRE(made);
  CHECK(made->created);
  server->set_password("cellar", "s3cret-pw");  // same password, every token invalidated
  auto kv = client.get("/auth/k");
  REQUIRE(kv);
  REQUIRE(*kv);
  CHECK((*kv)->value == "v");

  ClientOptions wrong = options;
  wrong.password = "not-the-password";
  auto refused = Client(wrong).get("/auth/k");
  REQUIRE_FALSE(refused);
  CHECK(refused.status().message().find("refused user 'cellar'") != std::string::npos);
  CHECK(refused.status().to_string().find("not-the-password") == std::string::npos);
  CHECK(refused.status().hint().find("etcd_password_file") != std::string::npos);

  ClientOptions anonymous = server->client_options();
  auto denied = Client(anonymous).get("/auth/k");
  REQUIRE_FALSE(denied);
  CHECK(denied.status().message().find("etcd at \"" + server->endpoint() + "\" refused") == 0);
}

TEST_CASE("prefix_end is the prefix with its last byte incremented", "[etcd]") {
  CHECK(prefix_end("/cellar/") == "/cellar0");
  CHECK(prefix_end("a\xff") == "b");
  CHECK(prefix_end("") == std::string(1, '\0'));
}

TEST_CASE("an etcd client speaks TLS with a client certificate, and names the endpoint when TLS fails", "[etcd]") {
  auto server = test::EtcdServer::start(test::EtcdServer::Transport::tls);
  Client client(server->client_options());
  auto made = client.create("/tls/k", "v");
  REQUIRE(made);
  CHECK(made->created);

  ClientOptions no_certificate = server->client_options();
  no_certificate.cert_file.clear();
  no_certificate.key_file.clear();
  auto refused = Client(no_certificate).get("/tls/k");
  REQUIRE_FALSE(refused);
  CHECK(refused.status().message().find("cannot reach etcd at \"" + server->endpoint() + "\": ") == 0);

  ClientOptions untrusted = server->client_options();
  untrusted.ca_file.clear();
  auto unverified = Client(untrusted).get("/tls/k");
  REQUIRE_FALSE(unverified);
  CHECK(unverified.status().message().find("cannot reach etcd at \"" + server->endpoint() + "\": ") == 0);
  CHECK(unverified.status().message().find("certificate") != std::string::npos);
}

}  // namespace cellar::etcd
