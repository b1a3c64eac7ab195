#include "s3/s3_writer.h"

#include <algorithm>

#include "common/log.h"
#include "s3/xml.h"

namespace cellar::s3 {
namespace {

// One object on its way up, shared by the Writer and the tasks uploading
// its parts (each task holds it, so it lives until the last part is done).
class Upload : public std::enable_shared_from_this<Upload> {
 public:
  Upload(Core& core, std::string key)
      : core_(core), key_(std::move(key)), part_size_(part_size_of(core.client.options())) {}

  Status add(std::string_view data);
  // The commit: one PUT, or the last part and the completion. A failed
  // multipart upload is aborted.
  Status finish();
  // The bytes it holds now (its filling buffer).
  uint64_t buffered() const { return buffer_.size(); }
  // Drops the object; a multipart upload is aborted once its parts in
  // flight are done (a part finishing after the abort would linger).
  void abort();

 private:
  Status put_whole();
  Status start_multipart();
  Status send_part();
  void upload_part(unsigned number, std::string_view data);
  Status wait_parts();
  Status complete();
  void abort_multipart();
  Status failure();

  Core& core_;
  const std::string key_;
  const uint64_t part_size_;
  std::string buffer_;
  uint64_t written_ = 0;
  std::string upload_id_;  // "" until the object outgrows one part
  unsigned parts_ = 0;     // parts handed out so far

  std::mutex mutex_;  // guards what the part tasks touch
  std::condition_variable parts_done_;
  unsigned in_flight_ = 0;
  std::vector<std::string> etags_;  // of part n at n - 1
  Status failure_;                  // of the first failed part
};

Status Upload::failure() {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

Status Upload::add(std::string_view data) {
  if (Status st = failure(); !st) return st;
  while (!data.empty()) {
    // A full buffer goes up only once more data comes: an object of exactly
    // part_size bytes stays a single PUT.
    if (buffer_.size() == part_size_) {
      if (Status st = send_part(); !st) return st;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(data.size(), part_size_ - buffer_.size()));
    // Small objects never reserve a whole part; large ones stop regrowing.
    if (buffer_.size() + take > (1u << 20) && buffer_.capacity() < part_size_) buffer_.reserve(part_size_);
    buffer_.append(data.substr(0, take));
    data.remove_prefix(take);
    written_ += take;
  }
  return Status::ok();
}

Status Upload::finish() {
  if (upload_id_.empty()) return put_whole();
  if (Status st = failure(); !st) {
    abort_multipart();
    return st;
  }
  const unsigned last = ++parts_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++in_flight_;
    etags_.resize(last);
  }
  upload_part(last, buffer_);  // on this thread: the caller's, or a deferred commit's task
  buffer_ = std::string();
  Status st = wait_parts();
  if (st) st = complete();
  if (!st) abort_multipart();
  return st;
}

void Upload::abort() {
  buffer_ = std::string();
  if (!upload_id_.empty()) abort_multipart();
}

Status Upload::put_whole() {
  Call call("PUT", key_, "could not upload", {}, buffer_);
  if (!core_.client.options().storage_class.empty())
    call.headers.emplace_back("x-amz-storage-class", core_.client.options().storage_class);
  auto response = core_.client.call(call);
  buffer_ = std::string();
  return response.status();
}

Status Upload::start_multipart() {
  Call call("POST", key_, "could not start the multipart upload of", {{"uploads", ""}});
  if (!core_.client.options().storage_class.empty())
    call.headers.emplace_back("x-amz-storage-class", core_.client.options().storage_class);
  auto response = core_.client.call(call);
  if (!response) return response.status();
  auto id = parse_upload_id(response->body);
  if (!id)
    return Status::failed("could not start the multipart upload of \"" + core_.client.url_of(key_) +
                          "\": " + id.status().message());
  upload_id_ = *id;
  return Status::ok();
}

// Hands the full buffer to the pool as the next part; blocks while
// upload_concurrency uploads, or kPartsInFlight parts' bytes, are in flight.
Status Upload::send_part() {
  if (upload_id_.empty()) {
    if (Status st = start_multipart(); !st) return st;
  }
  if (parts_ + 1 >= kMaxParts)
    return Status::failed("could not upload \"" + core_.client.url_of(key_) + "\": more than " +
                          std::to_string(kMaxParts) + " parts of " + std::to_string(part_size_) + " bytes");
  const unsigned number = ++parts_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++in_flight_;
    etags_.resize(number);
  }
  const uint64_t bytes = buffer_.size();
  core_.uploads.submit(
      [self = shared_from_this(), number, data = std::move(buffer_)] { self->upload_part(number, data); }, bytes);
  buffer_ = std::string();
  return Status::ok();
}

void Upload::upload_part(unsigned number, std::string_view data) {
  Call call("PUT", key_, "could not upload part " + std::to_string(number) + " of",
            {{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}}, data);
  call.check = [](const HttpResponse& r) { return r.header("etag").empty() ? "no ETag in the answer" : ""; };
  auto response = core_.client.call(call);
  std::lock_guard<std::mutex> lock(mutex_);
  if (response)
    etags_[number - 1] = response->header("etag");
  else if (failure_.is_ok())
    failure_ = response.status();
  --in_flight_;
  parts_done_.notify_all();
}

Status Upload::wait_parts() {
  std::unique_lock<std::mutex> lock(mutex_);
  parts_done_.wait(lock, [&] { return in_flight_ == 0; });
  return failure_;
}

Status Upload::complete() {
  const std::string body = complete_body(etags_);
  Call call("POST", key_, "could not complete the upload of", {{"uploadId", upload_id_}}, body);
  // S3 may answer 200 and still fail: the error is then the body.
  call.check = [](const HttpResponse& r) {
    auto error = parse_error(r.body);
    return error ? error->code + ": " + error->message : "";
  };
  call.also_ok = {404};
  auto response = core_.client.call(call);
  if (!response) return response.status();
  if (response->status != 404) return Status::ok();
  // NoSuchUpload after a retry: the first attempt completed the upload and
  // its answer was lost. The object is there with every byte written.
  if (response->attempts > 1) {
    auto head = core_.client.call(Call("HEAD", key_, "could not check the upload of"));
    if (head && head->header("content-length") == std::to_string(written_)) return Status::ok();
  }
  return core_.client.fail(call, *response);
}

void Upload::abort_multipart() {
  (void)wait_parts();
  Call call("DELETE", key_, "could not abort the multipart upload of", {{"uploadId", upload_id_}});
  call.also_ok = {404};
  auto response = core_.client.call(call);
  if (!response)
    log::warning(response.status().message() +
                 "; its parts stay in the bucket until it is aborted or a lifecycle rule removes them");
  upload_id_.clear();
}

class S3Writer final : public storage::Writer {
 public:
  S3Writer(std::shared_ptr<Core> core, std::string path, std::string key, bool defer)
      : core_(std::move(core)),
        path_(std::move(path)),
        upload_(std::make_shared<Upload>(*core_, std::move(key))),
        defer_(defer) {}
  ~S3Writer() override { abandon(); }

  Status write(std::string_view data) override {
    if (!upload_) return Status::failed("write to \"" + path_ + "\" after it was committed or abandoned");
    Status st = upload_->add(data);
    if (st) written_ += data.size();
    return st;
  }

  Status commit() override {
    if (!upload_) return Status::failed("\"" + path_ + "\" was already committed or abandoned");
    std::shared_ptr<Upload> upload = std::move(upload_);
    if (!defer_) return upload->finish();
    Core* core = core_.get();
    core->deferred.begin();
    const uint64_t bytes = upload->buffered();
    core->uploads.submit([core, upload] { core->deferred.end(upload->finish()); }, bytes);
    return Status::ok();
  }

  void abandon() override {
    if (upload_) upload_->abort();
    upload_.reset();
  }

  uint64_t written() const override { return written_; }
  const std::string& path() const override { return path_; }

 private:
  std::shared_ptr<Core> core_;
  std::string path_;
  std::shared_ptr<Upload> upload_;  // null once committed or abandoned
  bool defer_;
  uint64_t written_ = 0;
};

}  // namespace

std::unique_ptr<storage::Writer> make_writer(std::shared_ptr<Core> core, std::string path, std::string key,
                                             bool defer) {
  return std::make_unique<S3Writer>(std::move(core), std::move(path), std::move(key), defer);
}

}  // namespace cellar::s3
