#pragma once
// The bot's memory across restarts, in SQLite (WAL): which updates arrived, what became of them and
// the replies sent. Only ids, kinds and statuses are kept, never a message's text or a photo, so
// there is nothing to forget once a reply is sent (/privacy says so).
//
// The order of events makes replies exactly-once except for one window: an update is recorded when
// it arrives, its reply is sent, the reply is recorded, and only then is the update confirmed to
// Telegram (getUpdates' offset passes it). After a crash Telegram hands back every unconfirmed
// update, and those recorded as answered are skipped. Only a crash between Telegram accepting a
// reply and the database recording it sends that reply twice.
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace emopost::bot {

enum class Status {
  received,  // arrived, not yet answered
  answered,  // its text reply was sent; the annotated photo may still be due
  done,      // every reply sent
  failed,    // a reply failed for good (403, 400, retries spent); not retried
  skipped,   // nothing to answer (a group message not meant for the bot, a malformed update)
};
const char* status_name(Status s);

struct Arrival {
  int64_t update_id = 0;
  int64_t chat_id = 0;
  std::string kind;  // photo, text, document, sticker, ...
};

class StateStore {
 public:
  // Opens or creates the database; throws emopost::Error (invalid_input) naming the file.
  explicit StateStore(const std::filesystem::path& file);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Records updates as received; those already known keep their status.
  void received(const std::vector<Arrival>& arrivals);
  // The status of an update, if it was ever recorded.
  std::optional<Status> status(int64_t update_id) const;
  // Why an update failed, as recorded ("bad_model: ..."); nullopt when it did not, or is unknown.
  std::optional<std::string> error(int64_t update_id) const;
  // Sets the status of updates answered together (an album), with the reply's message id and, for
  // failures, why (never the token: callers pass masked text). One transaction.
  void set_status(const std::vector<int64_t>& update_ids, Status status, std::optional<int64_t> reply_message_id = {},
                  const std::string& error = {});
  // How many updates have each status (for tests and /metrics).
  int64_t count(Status status) const;
  // The highest update id recorded, or nullopt for a new database.
  std::optional<int64_t> last_update_id() const;
  // Forgets the updates that finished (done, failed or skipped) before `finished_before` (seconds
  // since the epoch) and returns how many. Telegram keeps an unconfirmed update for 24 hours at
  // most, so older rows can never be asked about again; they would only grow the file.
  int64_t prune(double finished_before);

 private:
  void exec(const char* sql) const;
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;
};

}  // namespace emopost::bot
