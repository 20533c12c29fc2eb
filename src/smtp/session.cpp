// SMTP client state machine: greeting, EHLO/HELO, STARTTLS, AUTH, one or more mail transactions per
// message (RCPTMAX, 452 deferrals), DATA or BDAT, optionally further messages, QUIT.
// Pure logic: bytes in via feed(), actions out via next().
#include "smtp/session.hpp"

#include <algorithm>
#include <utility>

#include "sasl/mechanisms.hpp"
#include "smtp/address.hpp"
#include "smtp/dsn.hpp"

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

// RFC 5321 §4.5.3.1.10: 452 (RFC 3463: X.5.3) to RCPT = too many recipients for this transaction.
bool too_many_recipients(const Reply& r) {
  return r.code == 452 || (r.transient() && r.enhanced == "4.5.3");
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// RFC 8689 §5: the enhanced status for a message that cannot be sent with REQUIRETLS.
Error requiretls_error(std::string why) {
  Error e = permanent_error(Stage::tls, "REQUIRETLS support required: " + std::move(why));
  e.enhanced = "5.7.30";
  return e;
}

}  // namespace

Session::Session(Envelope envelope, SessionOptions options)
    : opts_(std::move(options)),
      tls_active_(opts_.tls_active),
      tls_authenticated_(opts_.tls_active && opts_.tls_authenticated) {
  if (opts_.tls_active) binding_ = opts_.channel_binding;
  expect_.push_back({Cmd::greeting, ""});
  // Nothing unvalidated is ever pasted into a command line: check everything up front and
  // stop before any byte is sent if something is wrong.
  if (auto ok = validate_domain(opts_.helo_name); !ok || !is_ascii(opts_.helo_name)) {
    Error e = permanent_error(Stage::config, "invalid EHLO/HELO name");
    e.reason = Reason::bad_data;
    end(std::move(e), false);
    return;
  }
  if (auto ok = prepare(std::move(envelope)); !ok) end(std::move(ok).error(), false);
}

// Validates and encodes a message's envelope into env_, outcome_ and the DSN parameters.
Result<void> Session::prepare(Envelope envelope) {
  env_ = std::move(envelope);
  outcome_ = Outcome{};
  reverse_path_.clear();
  dsn_params_.clear();
  envid_xtext_.clear();
  todo_.clear();
  need_utf8_ = env_.smtputf8;
  dsn_requested_ = env_.ret || env_.envid;
  auto bad = [](Error e, const char* what) {
    e.detail = what + e.detail;
    return fail(std::move(e));
  };
  if (!env_.reverse_path.empty() && env_.reverse_path != "<>") {
    auto mb = parse_mailbox(env_.reverse_path);
    if (!mb) return bad(std::move(mb).error(), "sender: ");
    reverse_path_ = mb->to_string();
    need_utf8_ = need_utf8_ || !mb->is_ascii();
  }
  if (env_.recipients.empty() && !opts_.probe) {
    Error e = permanent_error(Stage::input, "no recipients");
    e.reason = Reason::bad_data;
    return fail(std::move(e));
  }
  if (env_.ret) {
    auto ret = encode_ret(*env_.ret);
    if (!ret) return bad(std::move(ret).error(), "");
    env_.ret = *ret;
  }
  if (env_.envid) {
    auto x = encode_envid(*env_.envid);
    if (!x) return bad(std::move(x).error(), "");
    envid_xtext_ = std::move(*x);
  }
  for (const auto& r : env_.recipients) {
    auto mb = parse_mailbox(r.address);
    if (!mb) return bad(std::move(mb).error(), "recipient: ");
    need_utf8_ = need_utf8_ || !mb->is_ascii();
    std::string params;
    if (r.notify) params += " NOTIFY=" + notify_value(*r.notify);
    if (r.orcpt) {
      auto x = encode_orcpt(*r.orcpt);
      if (!x) return bad(std::move(x).error(), "recipient: ");
      params += " ORCPT=" + *x;
    }
    dsn_requested_ = dsn_requested_ || !params.empty();
    dsn_params_.push_back(std::move(params));
    todo_.push_back(outcome_.recipients.size());
    outcome_.recipients.push_back({mb->to_string(), false, false, std::nullopt, std::nullopt});
  }
  return {};
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
  // A failure already seen in the transaction explains the outcome better than what followed.
  if (!outcome_.error) outcome_.error = txn_error_ ? std::move(*txn_error_) : std::move(error);
  txn_error_.reset();
  draining_ = false;
  expect_.clear();
  out_ = Send{};
  bdat_pending_ = false;
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
      case Wait::idle:
        return Idle{};
      case Wait::tls:
        return StartTls{};
      case Wait::body:
        return SendBody{body_dot_stuffed_};
      case Wait::reply:
        break;
    }
    if (expect_.empty()) {  // not reached by the flows below; never wait for nothing
      wait_ = Wait::done;
      continue;
    }
    auto r = parser_.next();
    if (!r) {
      Error e = std::move(r).error();
      e.command = expect_.front().command;
      // Only the greeting answers no command: name it, so the error says where it happened.
      if (e.command.empty()) e.detail += " in the server's greeting";
      // Without a readable reply to the final dot (or BDAT) we cannot know what the server did.
      e.maybe_delivered = awaiting_final_reply();
      end(std::move(e), false);
      continue;
    }
    if (!r->has_value()) return Receive{};
    Pending p = std::move(expect_.front());
    expect_.pop_front();
    handle(p, std::move(**r));
  }
}

// Whether a loss now leaves the message possibly delivered (RFC 5321 §6.1; RFC 3030 §2 for BDAT:
// with PIPELINING the whole transaction is in flight once the body is written).
bool Session::awaiting_final_reply() const {
  if (bdat_pending_) {
    if (draining_ || txn_error_) return false;
    if (accepted_ > 0) return true;
    return std::any_of(expect_.begin(), expect_.end(),
                       [](const Pending& p) { return p.cmd == Cmd::mail || p.cmd == Cmd::rcpt; });
  }
  return !expect_.empty() && expect_.front().cmd == Cmd::dot;
}

void Session::handle(const Pending& p, Reply r) {
  if (p.cmd == Cmd::bdat) bdat_pending_ = false;
  // RFC 5321 §3.8: 421 means the server is closing the channel; no QUIT after it.
  if (r.code == 421) {
    if ((p.cmd == Cmd::dot || p.cmd == Cmd::bdat) && accepted_ > 0) outcome_.final_reply = r;
    // After an empty body every recipient may have been rejected: that is the better reason.
    if (p.cmd == Cmd::empty_dot && todo_.empty() && !outcome_.delivered) {
      end(all_rejected_error(), false);
      return;
    }
    end(reply_error("server is closing the connection", p.command, r), false);
    return;
  }
  if (draining_) {
    // A failed pipelined transaction: its remaining replies mean nothing, but a 354 still
    // needs a body (RFC 2920 §3.1); end it at once.
    if (p.cmd == Cmd::data && r.code == 354) {
      queue(Cmd::empty_dot, ".");
      return;
    }
    if (expect_.empty()) finish_transaction(false);
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
    case Cmd::auth:
      return on_auth(p, std::move(r));
    case Cmd::auth_cancel: {
      // RFC 4954 §4: the server answers "*" with 501; either way the exchange is over.
      Error e = auth_error_ ? std::move(*auth_error_) : protocol_error(p.command, r);
      auth_error_.reset();
      return end(std::move(e), true);
    }
    case Cmd::rset:
      return on_rset(p, std::move(r));
    case Cmd::mail:
      return on_mail(p, std::move(r));
    case Cmd::rcpt:
      return on_rcpt(p, std::move(r));
    case Cmd::data:
      return on_data(p, std::move(r));
    case Cmd::dot:
      return on_final_dot(p, std::move(r));
    case Cmd::bdat:
      return on_bdat(p, std::move(r));
    case Cmd::empty_dot:
      // RFC 2920 §3.1: whatever the server says to the empty message, nothing was delivered.
      return finish_transaction(false);
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
  proceed();
}

// After EHLO (and TLS, when there is any): AUTH if configured and not yet done, then mail.
void Session::proceed() {
  if (opts_.auth && !authenticated_) {
    begin_auth();
    return;
  }
  begin_message();
}

void Session::queue_secret(Cmd cmd, const std::string& line, std::string log_line,
                           std::string command) {
  out_.bytes += line;
  out_.bytes += "\r\n";
  out_.log_lines.push_back(std::move(log_line));
  expect_.push_back({cmd, std::move(command)});
}

void Session::begin_auth() {
  const AuthOptions& a = *opts_.auth;
  // Credentials and client identities never cross an unencrypted connection (RFC 4954 §4
  // lets the client decide; RFC 8314 §3 says to require TLS).
  if (!tls_active_) {
    end(permanent_error(Stage::tls, "refusing to authenticate over an unencrypted connection"),
        true);
    return;
  }
  if (caps_.auth.empty()) {
    end(permanent_error(Stage::smtp, "the server does not offer AUTH (RFC 4954)"), true);
    return;
  }
  std::optional<sasl::ChannelBinding> binding;
  if (binding_ && sasl::binding_type_supported(binding_->type)) binding = binding_;
  sasl::Selection sel;
  sel.mechanism = a.mechanism;
  sel.allowed = a.allowed;
  sel.have_password = !a.credentials.password.empty();
  sel.have_client_certificate = a.client_certificate;
  sel.have_channel_binding = binding.has_value();
  auto mech = sasl::choose_mechanism(caps_.auth, sel);
  if (!mech) {
    end(std::move(mech).error(), true);
    return;
  }
  sasl::StartOptions start;
  start.binding = binding;
  start.server_offers_plus = std::any_of(caps_.auth.begin(), caps_.auth.end(),
                                         [](const std::string& m) { return sasl::is_plus(m); });
  auto client = sasl::Client::start(*mech, a.credentials, start);
  if (!client) {
    end(std::move(client).error(), true);
    return;
  }
  sasl_.emplace(std::move(*client));
  std::string cmd = "AUTH " + *mech;
  if (!sasl_->client_first()) {
    queue(Cmd::auth, cmd);
    return;
  }
  auto first = sasl_->step("");
  if (!first) {
    end(std::move(first).error(), true);
    return;
  }
  // RFC 4954 §4: the initial response rides on AUTH; "=" stands for an empty one.
  if (first->client_data.empty()) {
    queue(Cmd::auth, cmd + " =");
  } else {
    queue_secret(Cmd::auth, cmd + " " + sasl::base64_encode(first->client_data),
                 cmd + " <redacted>", cmd);
  }
}

// RFC 4954 §4: "*" cancels the exchange; the failure is reported after the server's 501.
void Session::cancel_auth(const Pending& p, Error why) {
  if (why.command.empty()) why.command = p.command;
  auth_error_ = std::move(why);
  queue_secret(Cmd::auth_cancel, "*", "*", p.command);
}

void Session::on_auth(const Pending& p, Reply r) {
  if (r.code == 334) {
    auto malformed = [&](std::string what) {
      Error e = protocol_error(p.command, r);
      e.detail = std::move(what);
      return e;
    };
    if (sasl_->complete()) {
      cancel_auth(p, malformed("the server sent a challenge after the SASL exchange completed"));
      return;
    }
    auto challenge = r.lines.size() == 1 ? sasl::base64_decode(r.lines.front()) : std::nullopt;
    if (!challenge) {
      cancel_auth(p, malformed("malformed base64 in the AUTH challenge"));
      return;
    }
    auto st = sasl_->step(*challenge);
    if (!st) {
      cancel_auth(p, std::move(st).error());
      return;
    }
    queue_secret(Cmd::auth, sasl::base64_encode(st->client_data), "<redacted>", p.command);
    return;
  }
  if (r.code == 235) {
    if (!sasl_->complete()) {
      // SCRAM: the server never proved it knows the password; do not trust the session.
      Error e = protocol_error(p.command, r);
      e.detail = "the server accepted " + p.command +
                 " before the SASL exchange completed (server not verified)";
      end(std::move(e), true);
      return;
    }
    authenticated_ = true;
    sasl_.reset();
    begin_message();
    return;
  }
  if (r.transient() || r.permanent()) {
    // RFC 4954 §6: 535 (5.7.8) bad credentials; 534 (5.7.9) mechanism too weak; 538 (5.7.11)
    // encryption required; 454 (4.7.0) temporary failure.
    Error e =
        reply_error(r.code == 535 ? "authentication failed" : p.command + " refused", p.command, r);
    if (r.permanent()) e.reason = Reason::auth_refused;
    end(std::move(e), true);
    return;
  }
  end(protocol_error(p.command, r), true);
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
    proceed();  // RFC 3207 §4: the client may go on without TLS
  } else {
    end(protocol_error(p.command, r), true);
  }
}

void Session::tls_started(bool authenticated, std::optional<sasl::ChannelBinding> binding) {
  if (wait_ != Wait::tls) return;
  if (parser_.buffered() != 0) {  // bytes fed between the 220 and the handshake
    injection_detected();
    return;
  }
  // RFC 3207 §4.2: discard everything learnt before TLS and start over with EHLO.
  tls_active_ = true;
  tls_authenticated_ = authenticated;
  binding_ = std::move(binding);
  caps_ = Capabilities{};
  wait_ = Wait::reply;
  queue(Cmd::ehlo, "EHLO " + opts_.helo_name);
}

void Session::tls_failed(Error why) {
  if (wait_ == Wait::done) return;
  end(std::move(why), false);
}

// Checks that hold for the whole message, before its first MAIL.
std::optional<Error> Session::message_checks() const {
  // RFC 6152 §3: a server without 8BITMIME cannot take the body, and we never alter it.
  if (env_.body_8bit && !caps_.eightbitmime)
    return permanent_error(Stage::smtp, "server lacks 8BITMIME");
  // RFC 6531 §3.4: UTF-8 addresses need SMTPUTF8.
  if (need_utf8_ && !caps_.smtputf8) return permanent_error(Stage::smtp, "server lacks SMTPUTF8");
  // RFC 1870 §6.1: do not send a message larger than the announced maximum.
  if (caps_.size && *caps_.size != 0 && env_.size > *caps_.size) {
    return permanent_error(Stage::smtp, "message size " + std::to_string(env_.size) +
                                            " exceeds the server's limit of " +
                                            std::to_string(*caps_.size) + " octets");
  }
  // RFC 8689 §4.2.1: REQUIRETLS needs TLS whose server was authenticated, and the
  // extension advertised after STARTTLS.
  if (env_.requiretls) {
    if (!tls_active_) return requiretls_error("the session is not encrypted with TLS");
    if (!tls_authenticated_)
      return requiretls_error("the server's TLS certificate was not authenticated (DANE or PKIX)");
    if (!caps_.requiretls) return requiretls_error("the server does not advertise REQUIRETLS");
  }
  return std::nullopt;
}

void Session::begin_message() {
  if (opts_.probe) {  // the server's posture is known now; no mail is sent
    if (opts_.keep_open)
      wait_ = Wait::idle;
    else
      send_quit();
    return;
  }
  if (auto e = message_checks()) {
    fail_message(std::move(*e));
    return;
  }
  // Postfix does the same: without DSN at the server the parameters are left out.
  outcome_.dsn_dropped = dsn_requested_ && !caps_.dsn;
  next_transaction();
}

bool Session::can_mail() const {
  return !caps_.limits.mailmax || mails_sent_ < *caps_.limits.mailmax;
}

// Starts a transaction for the next recipients, RCPTMAX at a time (RFC 9422).
void Session::next_transaction() {
  if (!can_mail()) {
    finish_message();
    return;
  }
  std::size_t max = caps_.limits.rcptmax ? *caps_.limits.rcptmax : todo_.size();
  batch_.clear();
  deferred_.clear();
  while (!todo_.empty() && batch_.size() < max) {
    batch_.push_back(todo_.front());
    todo_.pop_front();
  }
  next_rcpt_ = 0;
  accepted_ = 0;
  txn_error_.reset();
  draining_ = false;
  pipelining_ = caps_.pipelining;
  bdat_ = opts_.use_chunking && caps_.chunking && env_.size != 0;
  if (need_rset_) {
    // RFC 5321 §4.1.1.5: clear what is left of a failed transaction. RFC 2920 §3.1 lets RSET
    // open a pipelined group.
    need_rset_ = false;
    queue(Cmd::rset, "RSET");
    if (!pipelining_) return;  // MAIL after its reply
  }
  send_mail_group();
}

void Session::on_rset(const Pending& p, Reply r) {
  if (!r.positive_completion()) {
    Error e = r.transient() || r.permanent() ? reply_error("RSET failed", p.command, r)
                                             : protocol_error(p.command, r);
    e.permanence = Permanence::temporary;
    end(std::move(e), true);
    return;
  }
  if (!pipelining_) send_mail_group();
}

// MAIL parameters in a fixed order: SIZE, BODY, SMTPUTF8, REQUIRETLS, RET, ENVID.
std::string Session::mail_command() {
  std::string mail = "MAIL FROM:<" + reverse_path_ + ">";
  if (caps_.size && env_.size != 0) mail += " SIZE=" + std::to_string(env_.size);
  if (env_.body_8bit) mail += " BODY=8BITMIME";
  if (need_utf8_) mail += " SMTPUTF8";
  if (env_.requiretls) mail += " REQUIRETLS";  // RFC 8689
  if (caps_.dsn) {
    if (env_.ret) mail += " RET=" + *env_.ret;
    if (env_.envid) mail += " ENVID=" + envid_xtext_;
  }
  return mail;
}

void Session::send_mail_group() {
  ++mails_sent_;
  ++outcome_.transactions;
  queue(Cmd::mail, mail_command());
  if (!pipelining_) return;
  // RFC 2920 §3.1: MAIL, every RCPT and DATA may go as one group; DATA ends the group.
  // RFC 3030 §2: BDAT and its chunk may follow too (the size keeps the framing).
  for (std::size_t i = 0; i < batch_.size(); ++i) queue_rcpt(batch_[i]);
  queue_body_command();
}

void Session::queue_rcpt(std::size_t index) {
  std::string cmd = "RCPT TO:<" + outcome_.recipients[index].recipient + ">";
  if (caps_.dsn) cmd += dsn_params_[index];
  queue(Cmd::rcpt, std::move(cmd), index);
}

void Session::queue_body_command() {
  if (bdat_) {
    // RFC 3030 §2: one chunk with the exact size, no dot-stuffing, LAST ends the message.
    queue(Cmd::bdat, "BDAT " + std::to_string(env_.size) + " LAST");
    body_dot_stuffed_ = false;
    wait_ = Wait::body;
  } else {
    queue(Cmd::data, "DATA");
  }
}

void Session::on_mail(const Pending& p, Reply r) {
  if (r.positive_completion()) {
    if (!pipelining_) queue_rcpt(batch_[next_rcpt_++]);
  } else if (r.transient() || r.permanent()) {
    fail_transaction(reply_error("sender rejected", p.command, r));
  } else {
    end(protocol_error(p.command, r), true);
  }
}

void Session::on_rcpt(const Pending& p, Reply r) {
  RecipientResult& rr = outcome_.recipients[p.rcpt];
  bool ok = r.positive_completion();
  bool rejected = r.transient() || r.permanent();
  if (!ok && !rejected) {
    end(protocol_error(p.command, r), true);
    return;
  }
  bool defer = !ok && accepted_ > 0 && too_many_recipients(r);
  rr.accepted = ok;
  rr.reply = std::move(r);
  if (ok) ++accepted_;
  // RFC 5321 §4.5.3.1.10: the server's per-transaction limit; retry in a further transaction.
  if (defer) deferred_.push_back(p.rcpt);
  if (pipelining_) return;
  if (defer) {  // the rest would only get 452 too
    while (next_rcpt_ < batch_.size()) deferred_.push_back(batch_[next_rcpt_++]);
  }
  if (next_rcpt_ < batch_.size()) {
    queue_rcpt(batch_[next_rcpt_++]);
  } else {
    after_rcpts();
  }
}

void Session::after_rcpts() {
  if (accepted_ == 0) {
    finish_transaction(false);
    return;
  }
  queue_body_command();
}

void Session::on_data(const Pending& p, Reply r) {
  if (accepted_ == 0) {  // only with PIPELINING: DATA went out before the RCPT replies came
    // RFC 2920 §3.1: a server that wants a body it cannot deliver gets an empty one.
    if (r.code == 354)
      queue(Cmd::empty_dot, ".");
    else
      finish_transaction(false);
    return;
  }
  if (r.code == 354) {
    body_dot_stuffed_ = true;
    wait_ = Wait::body;
  } else if (r.transient() || r.permanent()) {
    fail_transaction(reply_error("DATA rejected", p.command, r));
  } else {
    end(protocol_error(p.command, r), true);
  }
}

void Session::body_sent() {
  if (wait_ != Wait::body) return;
  wait_ = Wait::reply;
  if (body_dot_stuffed_)
    expect_.push_back({Cmd::dot, "end of data"});
  else
    bdat_pending_ = true;  // its Pending is queued already
}

void Session::on_final_dot(const Pending& p, Reply r) {
  outcome_.final_reply = r;
  if (r.positive_completion()) {
    finish_transaction(true);
  } else if (r.transient() || r.permanent()) {
    fail_transaction(reply_error("message rejected", p.command, r));
  } else {
    Error e = protocol_error(p.command, r);
    e.maybe_delivered = true;  // we cannot tell what the server did with the message
    end(std::move(e), true);
  }
}

void Session::on_bdat(const Pending& p, Reply r) {
  if (accepted_ == 0) {  // every RCPT was rejected: whatever the reply, nothing was delivered
    finish_transaction(false);
    return;
  }
  outcome_.final_reply = r;
  if (r.positive_completion()) {
    finish_transaction(true);
  } else if (r.transient() || r.permanent()) {
    fail_transaction(reply_error("message rejected", p.command, r));
  } else {
    Error e = protocol_error(p.command, r);
    e.maybe_delivered = true;
    end(std::move(e), true);
  }
}

// A failure before MAIL that concerns the whole message; the connection stays usable.
void Session::fail_message(Error error) {
  if (!opts_.keep_open) {
    end(std::move(error), true);
    return;
  }
  outcome_.error = std::move(error);
  wait_ = Wait::idle;
}

// A reply that ends the whole message (MAIL, DATA or the content refused).
void Session::fail_transaction(Error error) {
  if (!opts_.keep_open) {
    end(std::move(error), true);  // leftover pipelined replies are never read
    return;
  }
  txn_error_ = std::move(error);
  if (expect_.empty())
    finish_transaction(false);
  else
    draining_ = true;  // the rest of the pipelined group must be read before RSET
}

void Session::finish_transaction(bool completed) {
  if (completed) {
    for (std::size_t i : batch_) {
      RecipientResult& rr = outcome_.recipients[i];
      if (!rr.accepted) continue;
      rr.delivered = true;
      rr.data_reply = outcome_.final_reply;
    }
    outcome_.delivered = true;
  }
  need_rset_ = !completed;
  draining_ = false;
  todo_.insert(todo_.begin(), deferred_.begin(), deferred_.end());
  deferred_.clear();
  batch_.clear();
  if (txn_error_ || todo_.empty()) {
    finish_message();
  } else {
    next_transaction();
  }
}

void Session::finish_message() {
  if (!outcome_.error) {
    if (txn_error_) {
      outcome_.error = std::move(*txn_error_);
    } else if (!todo_.empty()) {
      // RFC 9422 MAILMAX reached; another session may take the rest.
      Error e = temporary_error(
          Stage::smtp,
          std::to_string(todo_.size()) + " recipient(s) not attempted: the server allows only " +
              std::to_string(caps_.limits.mailmax.value_or(0)) + " transaction(s) per session");
      outcome_.error = std::move(e);
    } else if (!outcome_.delivered) {
      outcome_.error = all_rejected_error();
    }
  }
  txn_error_.reset();
  todo_.clear();
  if (!expect_.empty()) {  // a reply still due would be taken for the next message's
    end(temporary_error(Stage::internal, "SMTP session out of step"), true);
    return;
  }
  if (opts_.keep_open)
    wait_ = Wait::idle;
  else
    send_quit();
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

bool Session::can_reuse() const {
  return wait_ == Wait::idle && can_mail();
}

void Session::start_transaction(Envelope next) {
  if (!can_reuse()) {
    bool idle = wait_ == Wait::idle;
    Error e = temporary_error(Stage::smtp, idle ? "the server's MAILMAX was reached"
                                                : "the session cannot take another message");
    if (wait_ != Wait::done && !idle) e.stage = Stage::internal;  // called mid-transaction
    (void)prepare(std::move(next));
    outcome_.error.reset();
    end(std::move(e), wait_ != Wait::done);
    return;
  }
  wait_ = Wait::reply;
  if (auto ok = prepare(std::move(next)); !ok) {
    outcome_.error = std::move(ok).error();  // nothing was sent: still reusable
    wait_ = Wait::idle;
    return;
  }
  begin_message();
}

void Session::quit() {
  if (wait_ == Wait::done) return;
  if (wait_ != Wait::idle) {
    Error e = temporary_error(Stage::internal, "the session was ended by the caller");
    e.maybe_delivered = awaiting_final_reply();
    end(std::move(e), true);
    return;
  }
  send_quit();
}

void Session::connection_lost(Error why) {
  if (wait_ == Wait::done) return;  // the outcome is already final (e.g. QUIT failed to write)
  if (wait_ == Wait::idle) {        // between messages: the last outcome stands
    wait_ = Wait::done;
    return;
  }
  Phase ph = phase();
  Error e = std::move(why);
  std::string cause = std::move(e.detail);
  e.permanence = Permanence::temporary;
  if (awaiting_final_reply()) {
    // RFC 5321 §6.1: the server may have taken responsibility just before the loss.
    e.maybe_delivered = true;
    e.detail = bdat_pending_
                   ? "connection lost after BDAT: the message may have been delivered"
                   : "connection lost after the final dot: the message may have been delivered";
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
    case Wait::idle:
      return Phase::idle;
    case Wait::tls:
      return Phase::starttls;
    case Wait::body:
      return Phase::data;
    case Wait::reply:
      break;
  }
  // RFC 3030 §2: replies to a pipelined group may wait until the whole BDAT chunk is processed.
  if (bdat_pending_) return Phase::data_end;
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
    case Cmd::auth:
    case Cmd::auth_cancel:
      return Phase::auth;
    case Cmd::rset:  // RFC 5321 §4.5.3.2 lists no RSET timeout; MAIL's is the nearest
    case Cmd::mail:
      return Phase::mail;
    case Cmd::rcpt:
      return Phase::rcpt;
    case Cmd::data:
      return Phase::data;
    case Cmd::dot:
    case Cmd::empty_dot:
    case Cmd::bdat:
      return Phase::data_end;
  }
  return Phase::done;
}

}  // namespace mx::smtp
