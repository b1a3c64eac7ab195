// The S3 storage driver: a Storage (common/storage.h) on a bucket of an
// S3-compatible object store (AWS S3, or OpenStack Swift's S3 API in the
// tests). A storage path "a/b" is the object key "<prefix>/a/b"; there are
// no directories, only keys that share a prefix up to a '/'.
//
// How each Storage operation maps onto S3:
// - open_write: the Writer buffers up to part_size bytes. An object that
//   stays within part_size is one PUT at commit(). A larger one becomes a
//   multipart upload started when the first part is full; parts upload in
//   the background, at most upload_concurrency uploads per Storage in
//   flight holding at most kPartsInFlight (3) parts' bytes together
//   (s3/core.h), and write() blocks while either limit is reached, so
//   memory stays near (3 + writers) * part_size however high
//   upload_concurrency is, while small objects still go up
//   upload_concurrency at a time. commit() uploads the
//   last part, waits for the others and completes the upload; abandon() or
//   the destructor aborts it. Nothing is visible under the key before the
//   PUT or the completion succeeds. With WriteOptions::sync_dir == false,
//   commit() returns once the final upload is queued and sync_dir() waits
//   for it (for every deferred commit of this Storage, whatever directory it
//   names) and fails with the first error.
// - open_read: ranged GETs of read_chunk bytes, the next read_ahead chunks
//   fetched in the background as the reader advances. Every body is checked
//   against its Content-Length and Content-Range; a short body is retried,
//   never returned as the end of the file. The object's ETag is pinned by
//   the first response (If-Match): an object replaced meanwhile fails the
//   read instead of mixing two versions.
// - list: ListObjectsV2 with delimiter '/', pages followed through
//   continuation tokens; common prefixes are directories. list_tree: one
//   listing without delimiter, directories inferred from the keys.
// - info: HEAD; on 404, a one-key listing of "<key>/" tells a directory.
// - remove: DELETE (a missing key is fine). remove_tree: the keys under
//   "<key>/" deleted 1000 at a time with multi-object delete (POST ?delete).
// - append: S3 has no append: GET the object (missing = empty) and PUT it
//   again with the data added. Two concurrent appenders lose one update;
//   callers serialise them (the catalogue's xlog.db is written under a lock).
// - make_dir writes an empty marker object "<key>/" (what bucket browsers
//   show as a folder), so an empty directory survives; list_tree reports
//   it. link fails (callers then
//   write a copy), local_path is nothing, describe is "s3://bucket/key".
//
// Every request is signed with SigV4 (s3/sigv4.h); every body carries
// Content-MD5, which the server checks. Errors are ErrorCode::failed with
// one line naming the operation, s3://bucket/key, the HTTP status, the S3
// error code and message, and the method, e.g.
//   could not upload "s3://bkt/main/x/backup.info": HTTP 403 AccessDenied: Access Denied (PUT)
// never a credential or a signature. HTTP 5xx, S3's RequestTimeout (a 400
// that AWS documents as transient), connection failures, stalls and short
// bodies are retried `retries` times with exponential backoff and full
// jitter; every other 4xx fails at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "common/storage.h"

namespace cellar::s3 {

struct Credentials {
  std::string key_id;
  std::string secret;
  std::string session_token;  // temporary credentials: sent as x-amz-security-token
};

struct Options {
  std::string endpoint;  // "http://127.0.0.1:18080" or "https://s3.us-east-1.amazonaws.com"
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;       // key prefix without leading or trailing '/'; may be empty
  bool path_style = false;  // "endpoint/bucket/key"; else virtual-hosted "bucket.host/key"
  Credentials credentials;
  std::string ca_file;        // PEM bundle to verify the server with; "" = the system's
  bool verify_tls = true;     // false: accept any certificate and host name
  std::string storage_class;  // x-amz-storage-class of new objects when set

  uint64_t part_size = 16 << 20;    // multipart part size; raised to S3's minimum of 5 MiB
  unsigned upload_concurrency = 4;  // uploads (parts or whole objects) in flight per Storage
  uint64_t read_chunk = 8 << 20;    // bytes per ranged GET
  unsigned read_ahead = 2;          // ranged GETs a reader keeps in flight ahead of itself
  unsigned list_page = 1000;        // max-keys of one listing page (S3's maximum; tests use less)

  unsigned retries = 4;                        // further attempts after a transient failure
  std::chrono::milliseconds retry_base{200};   // backoff before retry n: random in [0, base * 2^n]
  std::chrono::milliseconds retry_cap{10000};  // ... capped at this
  std::chrono::seconds connect_timeout{10};
  // A transfer that moves no byte for this long fails (and is retried); also
  // bounds the wait for a response. Whole seconds, at least one.
  std::chrono::seconds stall_timeout{30};
};

// A storage on `options.bucket`. Cannot fail: nothing is contacted until
// the first operation (see probe).
std::unique_ptr<storage::Storage> make_s3(Options options);

// Checks that `storage` is reachable and writable: writes, reads back and
// removes a small probe object at its root. The error is the failing
// step's, naming the bucket, the key, the HTTP status and the S3 error code,
// with a hint on what to check. Works on any Storage.
Status probe(storage::Storage& storage);

}  // namespace cellar::s3
