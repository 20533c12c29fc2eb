// SMTP client state machine: greeting, EHLO/HELO, STARTTLS, one mail transaction, QUIT.
// Pure logic: bytes in via feed(), actions out via next().
#include "smtp/session.hpp"

#include <algorithm>
#include <utility>

#include "smtp/address.hpp"

namespace mx::smtp {

namespace {

Permanence permanence_of(const Reply& r) {
  return r.permanent() ? Permanence::permanent : Permanence::temporary;
}

// The enhanced code is recorded whenever the reply carried one on every line.
Error reply_error(std::string detail, const std::string& command, const Reply& r,
                  Stage stage = Stage::smtp) {
  Error e;
  e.stage = stage;
  e.permanence = permanence_of(r);
  e.detail = std::move(detail);
  e.smtp_code = r.code;
  e.enhanced = r.enhanced;
  e.command = command;
  e.server_text = r.text();
  return e;
}

Error protocol_error(const std::string& command, const Reply& r) {
  Error e = reply_error("unexpected reply " + std::to_string(r.code) + " to " +
                            (command.empty() ? std::string("the connection") : command),
                        command, r);
  e.permanence = Permanence::temporary;
  e.reason = Reason::protocol;
  return e;
}

// RFC 3463 §3.2: X.1.1 bad destination mailbox, X.1.2 bad destination system;
// RFC 7505: X.1.10 recipient domain has a null MX.
Reason rcpt_reason(const Reply& r) {
  if (!r.permanent()) return Reason::generic;
  if (r.enhanced == "5.1.1") return Reason::no_such_user;
  if (r.enhanced == "5.1.2" || r.enhanced == "5.1.10") return Reason::no_such_domain;
  return Reason::generic;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

Session::Session(Envelope envelope, SessionOptions options)
    : env_(std::move(envelope)), opts_(std::move(options)), tls_active_(opts_.tls_active) {
  expect_.push_back({Cmd::greeting, ""});
  need_utf8_ = env_.smtputf8;
  // Nothing unvalidated is ever pasted into a command line: check everything up front and
  // stop before any byte is sent if something is wrong.
  if (auto ok = validate_domain(opts_.helo_name); !ok || !is_ascii(opts_.helo_name)) {
    Error e = permanent_error(Stage::config, "invalid EHLO/HELO name");
    e.reason = Reason::bad_data;
    end(std::move(e), false);
    return;
  }
  if (!env_.reverse_path.empty() && env_.reverse_path != "<>") {
    auto mb = parse_mailbox(env_.reverse_path);
    if (!mb) {
      Error e = std::move(mb).error();
      e.detail = "sender: " + e.detail;
      end(std::move(e), false);
      return;
    }
    reverse_path_ = mb->to_string();
    need_utf8_ = need_utf8_ || !mb->is_ascii();
  }
  if (env_.recipients.empty()) {
    Error e = permanent_error(Stage::input, "no recipients");
    e.reason = Reason::bad_data;
    end(std::move(e), false);
    return;
  }
  for (const auto& r : env_.recipients) {
    auto mb = parse_mailbox(r);
    if (!mb) {
      Error e = std::move(mb).error();
      e.detail = "recipient: " + e.detail;
      end(std::move(e), false);
      return;
    }
    need_utf8_ = need_utf8_ || !mb->is_ascii();
    outcome_.recipients.push_back({mb->to_string(), false, std::nullopt});
  }
}

void Session::feed(std::string_view server_bytes) {
  if (wait_ != Wait::done) parser_.feed(server_bytes);
}

void Session::queue(Cmd cmd, std::string command, std::size_t rcpt) {
  out_.bytes += command;
  out_.bytes += "\r\n";
  out_.log_lines.push_back(command);
  expect_.push_back({cmd, std::move(command), rcpt});
}

void Session::end(Error error, bool send_quit) {
  if (!outcome_.error) outcome_.error = std::move(error);
  expect_.clear();
  out_ = Send{};
  wait_ = Wait::done;
  if (send_quit) this->send_quit();
}

// RFC 5321 §4.1.1.10: QUIT ends the session; its reply cannot change the outcome, so the
// session is done once QUIT is handed to the driver.
void Session::send_quit() {
  expect_.clear();
  out_.bytes += "QUIT\r\n";
  out_.log_lines.push_back("QUIT");
  quit_sent_ = true;
  wait_ = Wait::done;
}

Action Session::next() {
  for (;;) {
    if (!out_.bytes.empty()) return std::exchange(out_, Send{});
    switch (wait_) {
      case Wait::done:
        return Done{};
      case Wait::tls:
        return StartTls{};
      case Wait::body:
        return SendBody{};
      case Wait::reply:
        break;
    }
    if (expect_.empty()) {
      wait_ = Wait::done;
      continue;
    }
    auto r = parser_.next();
    if (!r) {
      const Pending& p = expect_.front();
      Error e = std::move(r).error();
      e.command = p.command;
      // Without a readable reply to the final dot we cannot know what the server did.
      if (p.cmd == Cmd::dot) e.maybe_delivered = true;
      end(std::move(e), false);
      continue;
    }
    if (!r->has_value()) return Receive{};
    Pending p = std::move(expect_.front());
    expect_.pop_front();
    handle(p, std::move(**r));
  }
}

void Session::handle(const Pending& p, Reply r) {
  if (p.cmd == Cmd::empty_dot) {
    // RFC 2920 §3.1: whatever the server says to the empty message, nothing was delivered.
    end(std::move(*rcpt_error_), r.code != 421);
    return;
  }
  // RFC 5321 §3.8: 421 means the server is closing the channel; no QUIT after it.
  if (r.code == 421) {
    if (p.cmd == Cmd::dot) outcome_.final_reply = r;
    end(reply_error("server is closing the connection", p.command, r), false);
    return;
  }
  switch (p.cmd) {
    case Cmd::greeting:
      return on_greeting(p, std::move(r));
    case Cmd::ehlo:
    case Cmd::helo:
      return on_ehlo(p, std::move(r));
    case Cmd::starttls:
      return on_starttls(p, std::move(r));
    case Cmd::mail:
      if (r.positive_completion()) {
        if (!pipelining_) queue_rcpt(0);
      } else if (r.transient() || r.permanent()) {
        end(reply_error("sender rejected", p.command, r), true);
      } else {
        end(protocol_error(p.command, r), true);
      }
      return;
    case Cmd::rcpt:
      return on_rcpt(p, std::move(r));
    case Cmd::data:
      return on_data(p, std::move(r));
    case Cmd::dot:
      return on_final_dot(p, std::move(r));
    case Cmd::empty_dot:
      return;  // handled above
  }
}

void Session::on_greeting(const Pending& p, Reply r) {
  // RFC 5321 §4.3.2: 220 to proceed, 554 (or 4xx) to refuse; the client then sends QUIT.
  if (r.positive_completion()) {
    queue(Cmd::ehlo, "EHLO " + opts_.helo_name);
  } else if (r.transient() || r.permanent()) {
    end(reply_error("server refused the connection", p.command, r), true);
  } else {
    end(protocol_error(p.command, r), true);
  }
}

void Session::on_ehlo(const Pending& p, Reply r) {
  if (r.positive_completion()) {
    if (p.cmd == Cmd::ehlo) {
      caps_ = parse_capabilities(r);
    } else {
      caps_ = Capabilities{};  // HELO: no extensions at all
      caps_.greeting = r.lines.empty() ? std::string() : r.lines.front();
    }
    after_hello();
  } else if (p.cmd == Cmd::ehlo && r.code >= 500 && r.code <= 504) {
    // RFC 5321 §3.2: a server that does not understand EHLO gets HELO.
    queue(Cmd::helo, "HELO " + opts_.helo_name);
  } else if (r.transient() || r.permanent()) {
    end(reply_error(p.cmd == Cmd::ehlo ? "EHLO rejected" : "HELO rejected", p.command, r), true);
  } else {
    end(protocol_error(p.command, r), true);
  }
}

void Session::after_hello() {
  if (!tls_active_ && opts_.tls != TlsMode::none && caps_.starttls) {
    queue(Cmd::starttls, "STARTTLS");
    return;
  }
  if (!tls_active_ && opts_.tls == TlsMode::required) {
    end(temporary_error(Stage::tls, "TLS is required but the server does not offer STARTTLS"),
        true);
    return;
  }
  start_transaction();
}

void Session::injection_detected() {
  // CVE-2011-0411 class: plaintext pipelined after the 220 would be read as if it came
  // through TLS. Drop the connection; never interpret those bytes.
  Error e = temporary_error(Stage::tls, "STARTTLS response injection: server sent data after 220");
  e.reason = Reason::protocol;
  e.command = "STARTTLS";
  e.smtp_code = 220;
  end(std::move(e), false);
}

void Session::on_starttls(const Pending& p, Reply r) {
  if (r.code == 220) {  // RFC 3207 §4: 220 Ready to start TLS
    if (parser_.buffered() != 0) {
      injection_detected();
      return;
    }
    wait_ = Wait::tls;
  } else if (r.transient() || r.permanent()) {
    if (opts_.tls == TlsMode::required) {
      Error e = reply_error("STARTTLS refused but TLS is required", p.command, r, Stage::tls);
      e.permanence = Permanence::temporary;
      end(std::move(e), true);
      return;
    }
    start_transaction();  // RFC 3207 §4: the client may go on without TLS
  } else {
    end(protocol_error(p.command, r), true);
  }
}

void Session::tls_started() {
  if (wait_ != Wait::tls) return;
  if (parser_.buffered() != 0) {  // bytes fed between the 220 and the handshake
    injection_detected();
    return;
  }
  // RFC 3207 §4.2: discard everything learnt before TLS and start over with EHLO.
  tls_active_ = true;
  caps_ = Capabilities{};
  wait_ = Wait::reply;
  queue(Cmd::ehlo, "EHLO " + opts_.helo_name);
}

void Session::tls_failed(Error why) {
  if (wait_ == Wait::done) return;
  end(std::move(why), false);
}

void Session::start_transaction() {
  // RFC 6152 §3: a server without 8BITMIME cannot take the body, and we never alter it.
  if (env_.body_8bit && !caps_.eightbitmime) {
    end(permanent_error(Stage::smtp, "server lacks 8BITMIME"), true);
    return;
  }
  // RFC 6531 §3.4: UTF-8 addresses need SMTPUTF8.
  if (need_utf8_ && !caps_.smtputf8) {
    end(permanent_error(Stage::smtp, "server lacks SMTPUTF8"), true);
    return;
  }
  // RFC 1870 §6.1: do not send a message larger than the announced maximum.
  if (caps_.size && *caps_.size != 0 && env_.size > *caps_.size) {
    end(permanent_error(Stage::smtp, "message size " + std::to_string(env_.size) +
                                         " exceeds the server's limit of " +
                                         std::to_string(*caps_.size) + " octets"),
        true);
    return;
  }
  std::string mail = "MAIL FROM:<" + reverse_path_ + ">";
  if (env_.body_8bit) mail += " BODY=8BITMIME";
  if (caps_.size && env_.size != 0) mail += " SIZE=" + std::to_string(env_.size);
  if (need_utf8_) mail += " SMTPUTF8";
  // RFC 2920 §3.1: MAIL, every RCPT and DATA may go as one group; DATA ends the group.
  pipelining_ = caps_.pipelining;
  queue(Cmd::mail, std::move(mail));
  if (pipelining_) {
    for (std::size_t i = 0; i < outcome_.recipients.size(); ++i) queue_rcpt(i);
    queue(Cmd::data, "DATA");
  }
}

void Session::queue_rcpt(std::size_t index) {
  queue(Cmd::rcpt, "RCPT TO:<" + outcome_.recipients[index].recipient + ">", index);
}

void Session::on_rcpt(const Pending& p, Reply r) {
  RecipientResult& rr = outcome_.recipients[p.rcpt];
  bool ok = r.positive_completion();
  bool rejected = r.transient() || r.permanent();
  rr.reply = r;
  if (!ok && !rejected) {
    end(protocol_error(p.command, r), true);
    return;
  }
  if (ok) {
    rr.accepted = true;
    ++accepted_;
  }
  if (pipelining_) return;
  if (p.rcpt + 1 < outcome_.recipients.size()) {
    queue_rcpt(p.rcpt + 1);
  } else if (accepted_ > 0) {
    queue(Cmd::data, "DATA");
  } else {
    end(all_rejected_error(), true);
  }
}

Error Session::all_rejected_error() const {
  // Permanent only when every rejection is 5xx: report the first rejection then, else the first
  // 4xx one, so the picked reply's class is the permanence.
  bool all_permanent =
      std::all_of(outcome_.recipients.begin(), outcome_.recipients.end(),
                  [](const RecipientResult& rr) { return rr.reply && rr.reply->permanent(); });
  const RecipientResult* pick = nullptr;
  for (const auto& rr : outcome_.recipients) {
    if (!rr.reply) continue;
    if (all_permanent || rr.reply->transient()) {
      pick = &rr;
      break;
    }
  }
  if (!pick) return temporary_error(Stage::smtp, "all recipients were rejected");
  Error e = reply_error("all recipients were rejected", "RCPT TO:<" + pick->recipient + ">",
                        *pick->reply);
  e.reason = rcpt_reason(*pick->reply);
  return e;
}

void Session::on_data(const Pending& p, Reply r) {
  if (accepted_ == 0) {  // only with PIPELINING: DATA went out before the RCPT replies came
    if (r.code == 354) {
      // RFC 2920 §3.1: the server wants a body it cannot deliver; end it at once.
      rcpt_error_ = all_rejected_error();
      queue(Cmd::empty_dot, ".");
      return;
    }
    end(all_rejected_error(), true);
    return;
  }
  if (r.code == 354) {
    wait_ = Wait::body;
  } else if (r.transient() || r.permanent()) {
    end(reply_error("DATA rejected", p.command, r), true);
  } else {
    end(protocol_error(p.command, r), true);
  }
}

void Session::body_sent() {
  if (wait_ != Wait::body) return;
  wait_ = Wait::reply;
  expect_.push_back({Cmd::dot, "end of data"});
}

void Session::on_final_dot(const Pending& p, Reply r) {
  outcome_.final_reply = r;
  if (r.positive_completion()) {
    outcome_.delivered = true;
    send_quit();
  } else if (r.transient() || r.permanent()) {
    end(reply_error("message rejected", p.command, r), true);
  } else {
    Error e = protocol_error(p.command, r);
    e.maybe_delivered = true;  // we cannot tell what the server did with the message
    end(std::move(e), true);
  }
}

void Session::connection_lost(Error why) {
  if (wait_ == Wait::done) return;  // the outcome is already final (e.g. QUIT failed to write)
  Phase ph = phase();
  Error e = std::move(why);
  std::string cause = std::move(e.detail);
  e.permanence = Permanence::temporary;
  if (ph == Phase::data_end) {
    // RFC 5321 §6.1: the server may have taken responsibility just before the loss.
    e.maybe_delivered = true;
    e.detail = "connection lost after the final dot: the message may have been delivered";
  } else {
    e.detail = std::string("connection lost during ") + phase_name(ph);
  }
  if (!cause.empty()) e.detail += " (" + cause + ")";
  if (e.command.empty() && !expect_.empty()) e.command = expect_.front().command;
  end(std::move(e), false);
}

Phase Session::phase() const {
  if (quit_sent_ && !out_.bytes.empty()) return Phase::quit;  // QUIT not yet handed out
  switch (wait_) {
    case Wait::done:
      return Phase::done;
    case Wait::tls:
      return Phase::starttls;
    case Wait::body:
      return Phase::data;
    case Wait::reply:
      break;
  }
  if (expect_.empty()) return Phase::done;
  switch (expect_.front().cmd) {
    case Cmd::greeting:
      return Phase::greeting;
    case Cmd::ehlo:
      return Phase::ehlo;
    case Cmd::helo:
      return Phase::helo;
    case Cmd::starttls:
      return Phase::starttls;
    case Cmd::mail:
      return Phase::mail;
    case Cmd::rcpt:
      return Phase::rcpt;
    case Cmd::data:
      return Phase::data;
    case Cmd::dot:
    case Cmd::empty_dot:
      return Phase::data_end;
  }
  return Phase::done;
}

}  // namespace mx::smtp
