#include "emopost/bot/state.h"

#include <chrono>

#include <fmt/format.h>
#include <sqlite3.h>

#include "emopost/core/error.h"

namespace emopost::bot {

const char* status_name(Status s) {
  switch (s) {
    case Status::received: return "received";
    case Status::answered: return "answered";
    case Status::done: return "done";
    case Status::failed: return "failed";
    case Status::skipped: return "skipped";
  }
  return "unknown";
}

namespace {

std::optional<Status> parse_status(const std::string& s) {
  for (auto st : {Status::received, Status::answered, Status::done, Status::failed, Status::skipped})
    if (s == status_name(st)) return st;
  return std::nullopt;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A prepared statement, finalised on every path.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw Error(fmt::format("bot state: {}", sqlite3_errmsg(db)), Errc::internal);
  }
  ~Stmt() { sqlite3_finalize(s); }
  void step_done(sqlite3* db) {
    if (sqlite3_step(s) != SQLITE_DONE) throw Error(fmt::format("bot state: {}", sqlite3_errmsg(db)), Errc::internal);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

}  // namespace

StateStore::StateStore(const std::filesystem::path& file) {
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Error(fmt::format("cannot open the bot's state file {}: {}", file.string(), why), Errc::invalid_input);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    // WAL: a commit is one append, and readers never block the writer. NORMAL sync survives a
    // crash of this process (the case the bot guards against); only a power cut may lose the last
    // commits, which Telegram then hands back.
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("CREATE TABLE IF NOT EXISTS updates ("
         " update_id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, kind TEXT NOT NULL,"
         " status TEXT NOT NULL, reply_message_id INTEGER, error TEXT,"
         " received_at REAL NOT NULL, finished_at REAL)");
  } catch (const Error& e) {
    sqlite3_close(db_);
    throw Error(fmt::format("the bot's state file {} is not a usable SQLite database: {}", file.string(), e.what()),
                Errc::invalid_input);
  }
}

StateStore::~StateStore() { sqlite3_close(db_); }

void StateStore::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw Error(fmt::format("bot state: {}", why), Errc::internal);
  }
}

void StateStore::received(const std::vector<Arrival>& arrivals) {
  if (arrivals.empty()) return;
  std::lock_guard lock(mutex_);
  exec("BEGIN IMMEDIATE");
  try {
    Stmt st(db_, "INSERT OR IGNORE INTO updates (update_id, chat_id, kind, status, received_at) VALUES (?, ?, ?, 'received', ?)");
    for (const auto& a : arrivals) {
      sqlite3_bind_int64(st.s, 1, a.update_id);
      sqlite3_bind_int64(st.s, 2, a.chat_id);
      sqlite3_bind_text(st.s, 3, a.kind.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_double(st.s, 4, now_s());
      st.step_done(db_);
    }
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

std::optional<Status> StateStore::status(int64_t update_id) const {
  std::lock_guard lock(mutex_);
  Stmt st(db_, "SELECT status FROM updates WHERE update_id = ?");
  sqlite3_bind_int64(st.s, 1, update_id);
  if (sqlite3_step(st.s) != SQLITE_ROW) return std::nullopt;
  return parse_status(reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0)));
}

std::optional<std::string> StateStore::error(int64_t update_id) const {
  std::lock_guard lock(mutex_);
  Stmt st(db_, "SELECT error FROM updates WHERE update_id = ?");
  sqlite3_bind_int64(st.s, 1, update_id);
  if (sqlite3_step(st.s) != SQLITE_ROW || sqlite3_column_type(st.s, 0) == SQLITE_NULL) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0)));
}

void StateStore::set_status(const std::vector<int64_t>& ids, Status status, std::optional<int64_t> reply_message_id,
                            const std::string& error) {
  std::lock_guard lock(mutex_);
  exec("BEGIN IMMEDIATE");
  try {
    Stmt st(db_,
            "UPDATE updates SET status = ?, reply_message_id = COALESCE(?, reply_message_id),"
            " error = NULLIF(?, ''), finished_at = ? WHERE update_id = ?");
    for (int64_t id : ids) {
      sqlite3_bind_text(st.s, 1, status_name(status), -1, SQLITE_STATIC);
      if (reply_message_id) sqlite3_bind_int64(st.s, 2, *reply_message_id);
      else sqlite3_bind_null(st.s, 2);
      sqlite3_bind_text(st.s, 3, error.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_double(st.s, 4, now_s());
      sqlite3_bind_int64(st.s, 5, id);
      st.step_done(db_);
    }
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

int64_t StateStore::count(Status status) const {
  std::lock_guard lock(mutex_);
  Stmt st(db_, "SELECT COUNT(*) FROM updates WHERE status = ?");
  sqlite3_bind_text(st.s, 1, status_name(status), -1, SQLITE_STATIC);
  return sqlite3_step(st.s) == SQLITE_ROW ? sqlite3_column_int64(st.s, 0) : 0;
}

std::optional<int64_t> StateStore::last_update_id() const {
  std::lock_guard lock(mutex_);
  Stmt st(db_, "SELECT MAX(update_id) FROM updates");
  if (sqlite3_step(st.s) != SQLITE_ROW || sqlite3_column_type(st.s, 0) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(st.s, 0);
}

int64_t StateStore::prune(double finished_before) {
  std::lock_guard lock(mutex_);
  Stmt st(db_, "DELETE FROM updates WHERE status IN ('done', 'failed', 'skipped') AND finished_at < ?");
  sqlite3_bind_double(st.s, 1, finished_before);
  st.step_done(db_);
  return sqlite3_changes(db_);
}

}  // namespace emopost::bot
