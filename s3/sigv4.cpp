#include "s3/sigv4.h"

#include <algorithm>
#include <cctype>

#include "common/crypto.h"

namespace cellar::s3 {
namespace {

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Header values are trimmed and inner runs of spaces become one space.
std::string canonical_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// (lowercase name, canonical value), sorted by name.
Pairs canonical_headers(const Pairs& headers) {
  Pairs out;
  for (const auto& [name, value] : headers) out.emplace_back(lowercase(name), canonical_value(value));
  std::sort(out.begin(), out.end());
  return out;
}

std::string signed_header_names(const Pairs& canonical) {
  std::string out;
  for (const auto& [name, value] : canonical) out += (out.empty() ? "" : ";") + name;
  return out;
}

std::string scope(const SigningKey& key, const std::string& amz_date) {
  return amz_date.substr(0, 8) + "/" + key.region + "/" + key.service + "/aws4_request";
}

std::string signature(const SigningKey& key, const std::string& amz_date, const std::string& to_sign) {
  std::string k = hmac_sha256("AWS4" + key.secret, amz_date.substr(0, 8));
  k = hmac_sha256(k, key.region);
  k = hmac_sha256(k, key.service);
  k = hmac_sha256(k, "aws4_request");
  return to_hex(hmac_sha256(k, to_sign));
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash)) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

std::string canonical_query(const Pairs& query) {
  Pairs encoded;
  for (const auto& [name, value] : query) encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) out += (out.empty() ? "" : "&") + name + "=" + value;
  return out;
}

std::string amz_date(std::time_t when) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string canonical_request(const SigningRequest& request) {
  const Pairs headers = canonical_headers(request.headers);
  std::string out = request.method + "\n" + request.path + "\n" + canonical_query(request.query) + "\n";
  for (const auto& [name, value] : headers) out += name + ":" + value + "\n";
  return out + "\n" + signed_header_names(headers) + "\n" + request.payload_hash;
}

std::string string_to_sign(const SigningRequest& request, const SigningKey& key, const std::string& amz_date) {
  return "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope(key, amz_date) + "\n" + sha256_hex(canonical_request(request));
}

std::string authorization(const SigningRequest& request, const SigningKey& key, const std::string& amz_date) {
  return "AWS4-HMAC-SHA256 Credential=" + key.key_id + "/" + scope(key, amz_date) +
         ",SignedHeaders=" + signed_header_names(canonical_headers(request.headers)) +
         ",Signature=" + signature(key, amz_date, string_to_sign(request, key, amz_date));
}

}  // namespace cellar::s3
