#include "s3/s3_reader.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <future>

namespace cellar::s3 {
namespace {

// "bytes <first>-<last>/<total>" of a 206 answer.
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t total = 0;
};

std::optional<ContentRange> parse_content_range(const std::string& text) {
  ContentRange r;
  unsigned long long first = 0, last = 0, total = 0;
  if (std::sscanf(text.c_str(), "bytes %llu-%llu/%llu", &first, &last, &total) != 3 || last < first || last >= total)
    return std::nullopt;
  r.first = first;
  r.last = last;
  r.total = total;
  return r;
}

// Why the answer to a GET of [first, last] is not that range, or "".
std::string check_range(const HttpResponse& response, uint64_t first, uint64_t last) {
  if (response.status != 206) return "";  // 416 (past the end) or 200 (the whole object)
  auto range = parse_content_range(response.header("content-range"));
  if (!range) return "a 206 answer without a valid Content-Range";
  const uint64_t want_last = std::min(last, range->total - 1);
  if (range->first != first || range->last != want_last || response.body.size() != range->last - first + 1)
    return "short body: " + std::to_string(response.body.size()) + " bytes for bytes " + std::to_string(first) + "-" +
           std::to_string(want_last);
  return "";
}

struct Piece {
  std::string data;
  uint64_t total = 0;  // the object's size
  std::string etag;
};

// One ranged GET of [first, last] (inclusive), with retries. `etag` pins the
// object version when not empty.
Result<Piece> get_range(const Client& client, const std::string& key, uint64_t first, uint64_t last,
                        const std::string& etag) {
  Call call("GET", key, "could not read");
  call.headers.emplace_back("Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last));
  if (!etag.empty()) call.headers.emplace_back("If-Match", etag);
  call.also_ok = {416};
  call.check = [first, last](const HttpResponse& r) { return check_range(r, first, last); };
  auto response = client.call(call);
  if (!response) return response.status();
  Piece piece;
  piece.etag = response->header("etag");
  if (response->status == 416) {
    piece.total = first;  // at or past the end: nothing to read
  } else if (response->status == 206) {
    piece.total = parse_content_range(response->header("content-range"))->total;
    piece.data = std::move(response->body);
  } else {
    piece.total = response->body.size();
    const uint64_t from = std::min<uint64_t>(first, piece.total);
    piece.data = response->body.substr(from, last - from + 1);
  }
  return piece;
}

// A chunk behind the first: every byte of [first, last] or an error, never
// less (the object shrank, or was replaced without the ETag noticing).
Result<Piece> get_chunk(const Client& client, const std::string& key, uint64_t first, uint64_t last,
                        const std::string& etag) {
  auto piece = get_range(client, key, first, last, etag);
  if (piece && piece->data.size() != last - first + 1)
    return Status::failed("could not read \"" + client.url_of(key) + "\": it changed while it was read (" +
                          std::to_string(piece->data.size()) + " bytes at offset " + std::to_string(first) +
                          " instead of " + std::to_string(last - first + 1) + ")");
  return piece;
}

class S3Reader final : public storage::Reader {
 public:
  S3Reader(std::shared_ptr<Core> core, std::string key, Piece first, uint64_t end)
      : core_(std::move(core)), key_(std::move(key)), etag_(std::move(first.etag)), end_(end) {
    current_ = std::move(first.data);
  }

  // Starts the read-ahead behind the first chunk.
  void start(uint64_t next) {
    next_ = next;
    schedule();
  }

  Result<size_t> read(char* buf, size_t size) override {
    if (pos_ == current_.size()) {
      if (ahead_.empty()) return size_t{0};
      auto piece = ahead_.front().get();
      ahead_.pop_front();
      if (!piece) return piece.status();
      current_ = std::move(piece->data);
      pos_ = 0;
      schedule();
    }
    const size_t n = std::min(size, current_.size() - pos_);
    std::memcpy(buf, current_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  // Keeps read_ahead chunks (at least one) requested beyond the current one.
  void schedule() {
    const Options& o = core_->client.options();
    const uint64_t chunk = std::max<uint64_t>(o.read_chunk, 1);
    while (ahead_.size() < std::max(1u, o.read_ahead) && next_ < end_) {
      const uint64_t first = next_, last = std::min(end_, next_ + chunk) - 1;
      ahead_.push_back(std::async(std::launch::async, [core = core_, key = key_, etag = etag_, first, last] {
        return get_chunk(core->client, key, first, last, etag);
      }));
      next_ = last + 1;
    }
  }

  std::shared_ptr<Core> core_;
  std::string key_;
  std::string etag_;   // of the first answer: a replaced object fails the read (412)
  uint64_t end_;       // one past the last byte to read
  uint64_t next_ = 0;  // first byte not yet requested
  std::string current_;
  size_t pos_ = 0;
  std::deque<std::future<Result<Piece>>> ahead_;  // their destructors wait for them
};

}  // namespace

Result<std::unique_ptr<storage::Reader>> open_reader(std::shared_ptr<Core> core, const std::string& key,
                                                     uint64_t offset, uint64_t length) {
  const uint64_t chunk = std::max<uint64_t>(core->client.options().read_chunk, 1);
  const uint64_t wanted = length == 0 ? 1 : std::min(length, chunk);  // a HEAD would do for 0; one byte is as cheap
  const uint64_t first_last = offset > UINT64_MAX - wanted ? UINT64_MAX - 1 : offset + wanted - 1;
  auto first = get_range(core->client, key, offset, first_last, "");
  if (!first) return first.status();
  const uint64_t end = std::min(first->total, length > UINT64_MAX - offset ? UINT64_MAX : offset + length);
  if (length == 0 || offset >= end) first->data.clear();
  if (first->data.size() > end - std::min(offset, end)) first->data.resize(end - std::min(offset, end));
  const uint64_t next = offset + first->data.size();
  auto reader = std::make_unique<S3Reader>(std::move(core), key, std::move(*first), end);
  reader->start(next);
  return std::unique_ptr<storage::Reader>(std::move(reader));
}

}  // namespace cellar::s3
