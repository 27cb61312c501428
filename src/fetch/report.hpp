// corun::fetch report file: the JSON-lines report as a file (the record codec,
// to_json_line / parse_json_line, is fetch.hpp's). Private to the fetch layer;
// the local frontier (frontier_local.hpp) is its one user.
//
//   - scan_report: what a report already holds, for --resume: the URLs done
//     (as hashes, so ten million fit), the files they wrote (names no new page
//     may take), and where its last whole line ends (a crash can leave a torn
//     last line; open() cuts it off).
//   - ReportWriter: records appended to a buffer and written in large pieces;
//     a failed write cuts the file back to its last whole record, so the
//     report is always whole JSON lines. Disk space for the next records is
//     reserved past the report's end (fallocate, FALLOC_FL_KEEP_SIZE), so that
//     pages filling the disk (the report lives among them by default) do not
//     take the report's room: their failures can still be recorded.
//   - remove_stale_temp_files: the named temporary files a kill -9 can leave
//     in the output folder (fs::kTempSuffix), removed by a resumed run.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>

#include "corun/fetch/fetch.hpp"
#include "corun/fetch/naming.hpp"

namespace corun::fetch {

struct ReportScan {
  FlatCounter done;         // stable_hash(url) -> how many done records
  NameRegistry names;       // the done records' paths, reserved
  std::size_t records = 0;  // lines read as records (done or failed)
  // Where the last complete line ends; -1 when there is no report.
  off_t whole_lines = -1;
};

// Reads an existing report (blocking). A missing file is an empty scan
// (whole_lines = -1); malformed lines and failed records are not done.
ReportScan scan_report(const std::filesystem::path& path);

// Takes the report's lock (flock, exclusive, without waiting), held until fd is
// closed: false when another process holds it (another run writing the same
// report). On a filesystem without locks: true (nothing to hold back).
bool lock_report(int fd) noexcept;

class ReportWriter {
 public:
  static constexpr std::size_t kFlushBytes = std::size_t{64} * 1024;
  // Room kept for records past the end of the file (about 4,000 records),
  // topped up after a write leaves less than half of it. Best effort: where
  // the filesystem cannot (no fallocate, or already full) nothing is kept.
  static constexpr off_t kReserveBytes = off_t{1} << 20;
  // Below this much room left, on a filesystem with no more to give, the run
  // stops (short_of_room): about 1,000 records, for those still in flight.
  static constexpr off_t kLowRoom = off_t{256} << 10;

  ReportWriter() = default;
  ~ReportWriter();
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  // Opens path (blocking): truncated, or with append kept and cut back to
  // whole_lines when that is >= 0 and shorter than the file (the torn tail of a
  // crash). Throws SetupError naming the file, also when another run holds its
  // lock (lock_report; checked before anything is cut). "-" is standard output
  // (a copy of it; nothing reserved, nothing cut back, no lock).
  void open(const std::filesystem::path& path, bool append, off_t whole_lines = -1);
  bool is_open() const noexcept { return fd_ >= 0; }

  // Appends one record; writes once the buffer holds kFlushBytes.
  void add(const Record& record);
  // Writes the buffer (blocking). On failure the file is cut back to its last
  // whole record, the records stay buffered (the next flush tries again) and
  // error() says why; a later flush that succeeds clears it.
  void flush() noexcept;
  const std::string& error() const noexcept { return error_; }
  // True once the next records may find no room: a write failed, or the
  // filesystem is full and less than kLowRoom of the reserved room is left.
  // The engine then stops taking URLs (the rest is for --resume).
  bool short_of_room() const noexcept { return out_of_room_ || !error_.empty(); }
  // Bytes the report could still have had when it found itself short of room
  // (free on its filesystem and reserved), for the message.
  off_t room_when_short() const noexcept { return free_when_short_; }
  std::size_t buffered() const noexcept { return buffer_.size(); }
  // Records added and not (yet) written: the buffer's lines.
  std::size_t buffered_records() const noexcept;
  // Room reserved past the end of the file and not yet written (for tests).
  off_t reserved() const noexcept { return reserved_end_ > size_ ? reserved_end_ - size_ : 0; }
  // The run's end: flushes, gives the reserved room back and keeps no more
  // (records added later are still written by later flushes).
  void finish() noexcept;

 private:
  void reserve() noexcept;
  void release_reserve() noexcept;

  std::filesystem::path path_;
  int fd_ = -1;
  std::string buffer_;
  off_t size_ = 0;          // bytes of whole records in the file
  off_t reserved_end_ = 0;  // the file's blocks are allocated up to here
  bool reserving_ = true;
  bool stream_ = false;  // standard output: what was written stays written
  bool out_of_room_ = false;
  off_t free_when_short_ = 0;
  std::string error_;
};

// Removes the named temporary files (".name" + fs::kTempSuffix) under dir,
// recursively; unreadable folders are skipped. Blocking.
void remove_stale_temp_files(const std::filesystem::path& dir);

}  // namespace corun::fetch
