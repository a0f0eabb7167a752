//! Command execution against the cache, one module per family (the parsing is in `relaycache_resp::cmd`).

mod admin;
mod bits;
mod connection;
mod dump;
mod expire;
mod info;
mod keys;
mod lcs;
mod object;
mod server;
mod strings;
mod transaction;

use relaycache::{Error, KeyOps};
use relaycache_resp::Writer;
use relaycache_resp::cmd::Command;

pub(crate) use object::random_u64;
pub(crate) use strings::{get, is_plain_set, set_plain};
pub(crate) use transaction::{Transaction, queue};

use crate::dispatch::Flow;
use crate::server::Shared;
use crate::session::Session;

/// Runs a parsed command, writing its reply.
pub(crate) async fn run<C: KeyOps>(
    command: Command<'_>,
    shared: &Shared<C>,
    session: &mut Session,
    w: &mut Writer<'_>,
) -> Flow {
    let cache = &shared.cache;
    match command {
        Command::Get(key) => strings::get(cache, key, w).await,
        Command::Set(set) => strings::set(cache, set, false, w).await,
        Command::SetNx(set) => strings::set(cache, set, true, w).await,
        Command::GetDel(key) => strings::getdel(cache, key, w).await,
        Command::GetEx { key, expiry } => expire::getex(cache, key, expiry, w).await,
        Command::Strlen(key) => strings::strlen(cache, key, w).await,
        Command::GetRange { key, start, end } => strings::getrange(cache, key, start, end, w).await,
        Command::Reset => connection::reset(shared, session, w),
        Command::Append { key, value } => strings::append(shared, key, value, w).await,
        Command::Mget(keys) => strings::mget(cache, keys, w).await,
        Command::Mset(pairs) => strings::mset(cache, pairs, w).await,
        Command::MsetNx(pairs) => strings::msetnx(cache, pairs, w).await,
        Command::Rename {
            from,
            to,
            if_absent,
        } => keys::rename(shared, from, to, if_absent, w).await,
        Command::IncrBy { key, delta } => strings::incr_by(cache, key, delta, w).await,
        Command::IncrByFloat { key, increment } => {
            strings::incr_by_float(shared, key, increment, w).await
        }
        Command::SetRange { key, offset, value } => {
            strings::setrange(shared, key, offset, value, w).await
        }
        Command::SetBit { key, offset, bit } => strings::setbit(shared, key, offset, bit, w).await,
        Command::Copy { from, to, replace } => keys::copy(shared, from, to, replace, w).await,
        Command::BitOp { op, dest, sources } => strings::bitop(shared, op, dest, sources, w).await,
        Command::Del(keys) => keys::del(cache, keys, w).await,
        Command::Exists(keys) => keys::exists(cache, keys, w).await,
        Command::Type(key) => keys::kind(cache, key, w).await,
        Command::Keys(pattern) => keys::keys(cache, pattern, w).await,
        Command::Scan(scan) => keys::scan(cache, scan, w).await,
        Command::DbSize => keys::dbsize(cache, w).await,
        Command::Flush => keys::flush(cache, w).await,
        Command::Expire(expire) => expire::expire(cache, expire, w).await,
        Command::Persist(key) => expire::persist(cache, key, w).await,
        Command::ExpireTime { key, millis } => expire::expire_time(cache, key, millis, w).await,
        Command::Ttl { key, millis } => expire::ttl(cache, key, millis, w).await,
        Command::Ping(message) => connection::ping(message, w),
        Command::Echo(message) => {
            w.bulk(message);
            Flow::Continue
        }
        Command::Hello(hello) => connection::hello(shared, session, hello, w),
        Command::Auth { username, password } => {
            connection::auth(shared, session, username, password, w)
        }
        Command::Quit => {
            w.ok();
            Flow::Close
        }
        Command::Select(db) => {
            if db == 0 {
                w.ok();
            } else {
                w.error(b"ERR DB index is out of range");
            }
            Flow::Continue
        }
        Command::Client(client) => connection::client(shared, session, client, w),
        Command::Info(sections) => info::info(shared, sections, w).await,
        Command::GetBit { key, offset } => bits::getbit(cache, key, offset, w).await,
        Command::BitCount(q) => bits::bitcount(cache, q, w).await,
        Command::BitPos(q) => bits::bitpos(cache, q, w).await,
        Command::Lcs(q) => lcs::lcs(cache, q, w).await,
        Command::RandomKey => object::randomkey(cache, w).await,
        Command::Object(sub) => object::object(shared, sub, w).await,
        Command::Memory(sub) => object::memory(cache, sub, w).await,
        Command::Dump(key) => dump::dump(cache, key, w).await,
        Command::Restore(r) => dump::restore(cache, r, w).await,
        Command::CommandInfo(info) => server::command(info, w),
        Command::Config(config) => server::config(shared, config, w).await,
        Command::Time => server::time(w),
        Command::Multi => transaction::multi(session, w),
        Command::Discard => transaction::discard(shared, session, w),
        Command::Exec => Box::pin(transaction::exec(shared, session, w)).await,
        Command::Watch(keys) => transaction::watch(shared, session, keys, w).await,
        Command::Unwatch => {
            shared.watches.unwatch(session.id, &mut session.watching);
            w.ok();
            Flow::Continue
        }
        Command::Move { db, .. } => admin::move_key(db, w),
        Command::SwapDb(first, second) => admin::swapdb(first, second, w),
        Command::Wait { .. } => {
            // No replicas: none can acknowledge, and waiting for one would never end it sooner.
            w.integer(0);
            Flow::Continue
        }
        Command::WaitAof { local } => admin::waitaof(local, w),
        Command::LastSave => admin::lastsave(shared, w),
        Command::Save | Command::BgSave => {
            w.error(admin::NO_DISK);
            Flow::Continue
        }
        Command::Role => admin::role(w),
        Command::ClusterOnly => {
            w.error(b"ERR This instance has cluster support disabled");
            Flow::Continue
        }
        Command::Slowlog(sub) => admin::slowlog(sub, w),
        Command::Latency(sub) => admin::latency(sub, w),
        Command::ClusterMembers => server::cluster_members(cache, w).await,
        Command::ClusterPartitions => server::cluster_partitions(cache, w).await,
        _ => {
            w.error(b"ERR command not supported by this server");
            Flow::Continue
        }
    }
}

/// 40 random lower-case hex digits (a run id).
pub(crate) fn random_hex40() -> String {
    let mut out = String::with_capacity(48);
    for _ in 0..3 {
        out.push_str(&format!("{:016x}", random_u64()));
    }
    out.truncate(40);
    out
}

/// Writes the error reply for a failed cache call.
pub(crate) fn cache_error(e: &Error, w: &mut Writer<'_>) -> Flow {
    let text = match e {
        Error::InvalidArgument(message) => format!("ERR {message}"),
        Error::Closed => "ERR the cache is closed (server shutting down)".to_owned(),
        Error::Unsupported {
            capability,
            backend,
        } => format!("ERR {capability} is not supported by the {backend} backend"),
        other => format!("ERR {other}"),
    };
    w.error(text.as_bytes());
    Flow::Continue
}
