//! Login attempt limits, counted in the database so every instance on it sees the same counts.
//! An attempt is counted before the password is checked and given back when it succeeds, so
//! concurrent guesses cannot slip past a count nobody has written yet.
//!
//! Three windows, each keyed by a keyed HMAC (the table holds no e-mail or address):
//! - (e-mail, client): a client guessing one user's password is refused for a while;
//! - client: one client trying many e-mails is refused for a while;
//! - e-mail, from every client: a looser ceiling that only slows each attempt, so a stranger
//!   cannot keep a chosen user locked out, while a spread-out guesser is still slowed.
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::crypto::BlindIndex;
use crate::store::{Store, StoreResult};

/// Attempts allowed per window, and how long a window lasts.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub attempts: i64,
    pub length: chrono::Duration,
}

/// One user's password from one client.
pub const PER_EMAIL_AND_CLIENT: Window = Window { attempts: 5, length: chrono::Duration::minutes(15) };
/// Any logins from one client (an office behind one address shares it).
pub const PER_CLIENT: Window = Window { attempts: 30, length: chrono::Duration::minutes(15) };
/// One user's password from every client together; beyond it each attempt waits `SLOWDOWN`.
pub const PER_EMAIL: Window = Window { attempts: 20, length: chrono::Duration::minutes(15) };
pub const SLOWDOWN: Duration = Duration::from_secs(2);

/// The attempt windows of one login: which (e-mail, client), client and e-mail it counts against.
pub struct LoginKeys {
    pair: Vec<u8>,
    client: Vec<u8>,
    email: Vec<u8>,
}

/// What the counts allow for this attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password, after waiting `slow` when the e-mail's ceiling is passed.
    Go { slow: Option<Duration> },
    /// Refused without checking; the client may try again after `retry_after`.
    Refused { retry_after: Duration },
}

/// An IPv6 client is limited by its /64, which one subscriber usually holds whole; an
/// IPv4-mapped address counts as the IPv4 address.
pub fn client_prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl LoginKeys {
    /// `email_index` is the user's e-mail blind index (tenant-scoped), `client` the client address.
    pub fn new(index: &BlindIndex, email_index: &[u8], client: IpAddr) -> Self {
        let (email, client) = (hex::encode(email_index), client_prefix(client));
        Self {
            pair: index.login_limit("pair", &format!("{email} {client}")),
            client: index.login_limit("client", &client),
            email: index.login_limit("email", &email),
        }
    }

    /// Counts this attempt in all three windows and says whether it may go on.
    pub async fn spend(&self, store: &dyn Store, now: DateTime<Utc>) -> StoreResult<Verdict> {
        let windows = [(&self.pair, PER_EMAIL_AND_CLIENT), (&self.client, PER_CLIENT), (&self.email, PER_EMAIL)];
        let keys: Vec<(&[u8], DateTime<Utc>)> = windows.iter().map(|(k, w)| (k.as_slice(), now - w.length)).collect();
        let counts = store.count_login_attempts(&keys, now).await?;
        let over = |i: usize| counts.get(i).filter(|(n, _)| *n > windows[i].1.attempts).map(|(_, start)| *start);
        let wait =
            |start: DateTime<Utc>, w: Window| (start + w.length - now).to_std().unwrap_or(Duration::from_secs(1));
        let refused = [0, 1].into_iter().filter_map(|i| over(i).map(|start| wait(start, windows[i].1))).max();
        Ok(match refused {
            Some(retry_after) => Verdict::Refused { retry_after: retry_after.max(Duration::from_secs(1)) },
            None => Verdict::Go { slow: over(2).map(|_| SLOWDOWN) },
        })
    }

    /// After a good login: the (e-mail, client) window starts afresh and the others get this
    /// attempt back, so a user who logs in is not counted against their colleagues.
    pub async fn succeeded(&self, store: &dyn Store) -> StoreResult<()> {
        store.settle_login_attempts(&self.pair, &[&self.client, &self.email]).await
    }
}

/// Drops windows over; called every minute, so no attempt row outlives its longest window by long.
pub async fn forget_old(store: &dyn Store, now: DateTime<Utc>) -> StoreResult<u64> {
    let longest = [PER_EMAIL_AND_CLIENT, PER_CLIENT, PER_EMAIL].iter().map(|w| w.length).max().unwrap_or_default();
    store.forget_login_attempts(now - longest).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_prefix(a), client_prefix(b));
        assert_ne!(client_prefix(a), client_prefix(other));
        assert_eq!(client_prefix("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(client_prefix("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
