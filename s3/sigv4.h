// AWS Signature Version 4 for S3 requests sent with an Authorization header:
// the canonical request, the string to sign, the signing key chain and the
// header value, built from common/crypto.h's sha256 and hmac_sha256.
//
// Why not libcurl's CURLOPT_AWS_SIGV4: the libcurl of Debian 12 (7.88)
// signs the query string exactly as it is spelled in the URL. Checked
// against Swift's s3api: `?list-type=2&prefix=a` passes, the same
// parameters as `?prefix=a&list-type=2` get 403 SignatureDoesNotMatch, and
// so does `?uploads` (CreateMultipartUpload) unless spelled `?uploads=`
// (curl issues #9717 and #8107). It does not add the x-amz-content-sha256
// header S3 and Swift require either (it signs one the caller sets). So the
// canonical query would have to be built here anyway; signing here as well
// keeps the payload-hash choice, the signed Content-MD5 and the date in
// one place and testable against AWS's published examples. (An access key
// id with a ':' such as Swift's "test:tester" is not the obstacle: it
// passes through CURLOPT_USERNAME; only `curl --user` splits it.)
//
// What it does not own: which headers a request carries (the caller passes
// every header it wants signed, host and x-amz-date included) or the
// payload hash (the caller passes the hex SHA-256 or "UNSIGNED-PAYLOAD").
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cellar::s3 {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct SigningRequest {
  std::string method;        // "GET", "PUT", ...
  std::string path;          // the URI path as sent, already encoded: "/bucket/a%20b"
  Pairs query;               // raw (unencoded) names and values; order does not matter
  Pairs headers;             // every signed header, names in any case
  std::string payload_hash;  // lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigningKey {
  std::string key_id;
  std::string secret;
  std::string region;
  std::string service = "s3";
};

// S3's URI encoding: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX
// (uppercase hex); '/' stays when `keep_slash` (object key paths).
std::string uri_encode(std::string_view text, bool keep_slash);

// The canonical query string: names and values encoded, sorted by name then
// value, "name=value" joined by '&' ("uploads" becomes "uploads=").
std::string canonical_query(const Pairs& query);

// "20130524T000000Z" for `when` (UTC).
std::string amz_date(std::time_t when);

// The canonical request text of AWS's "Create a canonical request" step.
std::string canonical_request(const SigningRequest& request);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>".
std::string string_to_sign(const SigningRequest& request, const SigningKey& key, const std::string& amz_date);

// The value of the Authorization header:
// "AWS4-HMAC-SHA256 Credential=<id>/<scope>,SignedHeaders=<names>,Signature=<hex>".
std::string authorization(const SigningRequest& request, const SigningKey& key, const std::string& amz_date);

}  // namespace cellar::s3
