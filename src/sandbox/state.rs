//! What the simulator remembers: its user directory (with each user's MFA switch), issued
//! tokens, every user's devices, the rate window, the quota, and the tally a rehearsal is
//! judged by (requests, devices created, duplicate devices, 429s sent, users with a device
//! but MFA off).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use uuid::Uuid;

use super::json::Device;
use super::SandboxError;

/// Usernames resolve to IDs in this namespace, so the same name is the same user every run.
const USERNAME_NAMESPACE: Uuid = Uuid::from_u128(0x6d66_6165_6e72_6f6c_6c2d_7361_6e64_626f);

/// Who exists.
#[derive(Debug, Clone, Default)]
pub enum Directory {
    /// Every UUID is a user, and every username resolves to one stable ID.
    #[default]
    Open,
    /// Only these users exist. A username listed under several IDs is ambiguous.
    Listed {
        ids: HashMap<String, String>,
        by_username: HashMap<String, Vec<String>>,
        /// Users whose MFA switch is on at the start (PingOne creates users with it off).
        mfa_on: std::collections::HashSet<String>,
        /// Users disabled or locked: (`enabled`, `account.status` is `LOCKED`); others are
        /// enabled and `OK`.
        standing: HashMap<String, (bool, bool)>,
    },
}

impl Directory {
    /// Reads a CSV with `user_id` and `username` columns, and optionally `mfa_enabled`
    /// (`true` or `false`; empty or missing: `false`, as PingOne creates users), `enabled`
    /// (empty or missing: `true`) and `account_status` (`OK` or `LOCKED`; empty: `OK`).
    pub(crate) fn from_csv(path: &Path) -> Result<Directory, SandboxError> {
        let unreadable = |source| SandboxError::UsersFile {
            path: path.to_path_buf(),
            source,
        };
        let wrong = |line: u64, problem: String| SandboxError::UsersFileContent {
            path: path.to_path_buf(),
            line,
            problem,
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(unreadable)?;
        let headers = reader.headers().map_err(unreadable)?.clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
                .ok_or_else(|| wrong(1, format!("no {name} column")))
        };
        let (id_col, name_col) = (column("user_id")?, column("username")?);
        let mfa_col = column("mfa_enabled").ok();
        let (enabled_col, status_col) = (column("enabled").ok(), column("account_status").ok());
        let (mut users, mut mfa_on, mut disabled, mut locked) = (vec![], vec![], vec![], vec![]);
        for record in reader.records() {
            let record = record.map_err(unreadable)?;
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            let id = record.get(id_col).unwrap_or("").to_string();
            if Uuid::parse_str(&id).is_err() {
                return Err(wrong(line, format!("user_id {id:?} is not a UUID")));
            }
            let switch = mfa_col.and_then(|c| record.get(c)).unwrap_or("");
            match switch.to_ascii_lowercase().as_str() {
                "true" => mfa_on.push(id.clone()),
                "false" | "" => {}
                _ => {
                    return Err(wrong(
                        line,
                        format!("mfa_enabled {switch:?} is not true or false"),
                    ))
                }
            }
            let enabled = enabled_col.and_then(|c| record.get(c)).unwrap_or("");
            match enabled.to_ascii_lowercase().as_str() {
                "false" => disabled.push(id.clone()),
                "true" | "" => {}
                _ => {
                    return Err(wrong(
                        line,
                        format!("enabled {enabled:?} is not true or false"),
                    ))
                }
            }
            let status = status_col.and_then(|c| record.get(c)).unwrap_or("");
            match status.to_ascii_uppercase().as_str() {
                "LOCKED" => locked.push(id.clone()),
                "OK" | "" => {}
                _ => {
                    return Err(wrong(
                        line,
                        format!("account_status {status:?} is not OK or LOCKED"),
                    ))
                }
            }
            users.push((id, record.get(name_col).unwrap_or("").to_string()));
        }
        Ok(Directory::listed(users)
            .with_mfa_on(mfa_on)
            .with_standing(disabled, locked))
    }

    /// These users start with their MFA switch on (a listed directory only).
    pub fn with_mfa_on(mut self, users: impl IntoIterator<Item = String>) -> Directory {
        if let Directory::Listed { mfa_on, .. } = &mut self {
            mfa_on.extend(users.into_iter().map(|id| id.to_lowercase()));
        }
        self
    }

    /// These users are disabled (`enabled: false`), those locked (`account.status: LOCKED`);
    /// a listed directory only.
    pub fn with_standing(
        mut self,
        disabled_users: impl IntoIterator<Item = String>,
        locked_users: impl IntoIterator<Item = String>,
    ) -> Directory {
        if let Directory::Listed { standing, .. } = &mut self {
            for id in disabled_users {
                standing.entry(id.to_lowercase()).or_insert((true, false)).0 = false;
            }
            for id in locked_users {
                standing.entry(id.to_lowercase()).or_insert((true, false)).1 = true;
            }
        }
        self
    }

    /// The user's `enabled`, and whether the account is locked.
    pub(crate) fn standing(&self, id: &str) -> (bool, bool) {
        match self {
            Directory::Open => (true, false),
            Directory::Listed { standing, .. } => standing
                .get(&id.to_lowercase())
                .copied()
                .unwrap_or((true, false)),
        }
    }

    /// Every listed user's (id, username); none for an open directory.
    pub(crate) fn users(&self) -> Vec<(String, String)> {
        match self {
            Directory::Open => Vec::new(),
            Directory::Listed { ids, .. } => {
                ids.iter().map(|(i, n)| (i.clone(), n.clone())).collect()
            }
        }
    }

    /// Whether the user's MFA switch was on before anything changed it.
    pub(crate) fn mfa_on_at_start(&self, id: &str) -> bool {
        match self {
            Directory::Open => false,
            Directory::Listed { mfa_on, .. } => mfa_on.contains(&id.to_lowercase()),
        }
    }

    pub fn listed(users: impl IntoIterator<Item = (String, String)>) -> Directory {
        let mut ids = HashMap::new();
        let mut by_username: HashMap<String, Vec<String>> = HashMap::new();
        for (id, username) in users {
            let id = id.to_lowercase();
            if !username.is_empty() {
                by_username
                    .entry(username.to_lowercase())
                    .or_default()
                    .push(id.clone());
            }
            ids.insert(id, username);
        }
        Directory::Listed {
            ids,
            by_username,
            mfa_on: Default::default(),
            standing: Default::default(),
        }
    }

    /// The ID a username resolves to in an open directory.
    pub fn open_id_for(username: &str) -> String {
        Uuid::new_v5(&USERNAME_NAMESPACE, username.to_lowercase().as_bytes()).to_string()
    }

    pub(crate) fn user_exists(&self, id: &str) -> bool {
        match self {
            Directory::Open => Uuid::parse_str(id).is_ok(),
            Directory::Listed { ids, .. } => ids.contains_key(&id.to_lowercase()),
        }
    }

    /// (id, username) of the user with this ID, if there is one (an open directory's user
    /// named by ID has no username it knows).
    pub(crate) fn find_id(&self, id: &str) -> Option<(String, String)> {
        let id = id.to_lowercase();
        match self {
            Directory::Open => Uuid::parse_str(&id).is_ok().then(|| (id, String::new())),
            Directory::Listed { ids, .. } => ids.get(&id).map(|name| (id.clone(), name.clone())),
        }
    }

    /// (id, username) of every user whose username matches, case-insensitively.
    pub(crate) fn find(&self, username: &str) -> Vec<(String, String)> {
        match self {
            Directory::Open => vec![(Self::open_id_for(username), username.to_string())],
            Directory::Listed {
                by_username, ids, ..
            } => by_username
                .get(&username.to_lowercase())
                .map(|found| {
                    found
                        .iter()
                        .map(|id| (id.clone(), ids.get(id).cloned().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The counts a rehearsal is judged by.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Tally {
    /// API requests received (tokens excepted), including those answered 429 or failed.
    pub requests: u64,
    pub token_requests: u64,
    /// Token requests refused: wrong credentials or another authentication method.
    pub token_refusals: u64,
    /// API requests answered 401 (a missing, unknown or expired token).
    pub unauthorized_401: u64,
    pub posts: u64,
    pub devices_created: u64,
    /// Devices removed by a DELETE that answered 204.
    pub devices_deleted: u64,
    /// Devices created although the user already had one of the same type and destination.
    pub duplicate_devices: u64,
    pub throttled_429: u64,
    /// 5xx answered before any effect (`--fail-rate`).
    pub injected_failures: u64,
    /// Devices created whose answer then failed (`--ambiguous-rate`).
    pub ambiguous_failures: u64,
    /// PUTs of users' MFA switches.
    pub mfa_switch_puts: u64,
    /// Reads of the users list (look-ups by username or ID, one name or many).
    pub user_lookups: u64,
    /// Users list reads refused as too long (`max_url_bytes`).
    pub user_lookups_too_long: u64,
    /// 429 `QUOTA_EXCEEDED` answers (`--quota`), apart from the rate's 429s.
    pub quota_429: u64,
    /// Users who have a device but whose MFA switch is off: they cannot use that device.
    pub users_with_device_mfa_off: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) token_requests: AtomicU64,
    pub(crate) token_refusals: AtomicU64,
    pub(crate) unauthorized_401: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    pub(crate) posts: AtomicU64,
    pub(crate) devices_created: AtomicU64,
    pub(crate) devices_deleted: AtomicU64,
    /// DELETEs whose answer was lost on purpose (`lost_delete_answers`).
    pub(crate) lost_delete_answers: AtomicU64,
    pub(crate) duplicate_devices: AtomicU64,
    pub(crate) throttled_429: AtomicU64,
    pub(crate) injected_failures: AtomicU64,
    pub(crate) ambiguous_failures: AtomicU64,
    pub(crate) mfa_switch_puts: AtomicU64,
    pub(crate) quota_429: AtomicU64,
    pub(crate) user_lookups: AtomicU64,
    pub(crate) user_lookups_too_long: AtomicU64,
}

impl Counters {
    /// Adds one; the count it makes.
    pub(crate) fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn snapshot(&self) -> Tally {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Tally {
            requests: get(&self.requests),
            token_requests: get(&self.token_requests),
            token_refusals: get(&self.token_refusals),
            unauthorized_401: get(&self.unauthorized_401),
            posts: get(&self.posts),
            devices_created: get(&self.devices_created),
            devices_deleted: get(&self.devices_deleted),
            duplicate_devices: get(&self.duplicate_devices),
            throttled_429: get(&self.throttled_429),
            injected_failures: get(&self.injected_failures),
            ambiguous_failures: get(&self.ambiguous_failures),
            mfa_switch_puts: get(&self.mfa_switch_puts),
            user_lookups: get(&self.user_lookups),
            user_lookups_too_long: get(&self.user_lookups_too_long),
            quota_429: get(&self.quota_429),
            // Known only from the devices and switches: `Sandbox::tally` fills it in.
            users_with_device_mfa_off: 0,
        }
    }
}

/// One API request as the sandbox saw it arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Since the sandbox started.
    pub at: Duration,
    pub(crate) is_post: bool,
    /// The sandbox answered it 429.
    pub answered_429: bool,
}

impl Store {
    /// Whether the API request numbered `request` (from 1), arriving `now`, meets the storm.
    pub(crate) fn in_storm(&self, storm: Option<super::Storm>, request: u64, now: Instant) -> bool {
        let Some(storm) = storm else {
            return false;
        };
        if request <= storm.after_requests {
            return false;
        }
        let began = *self.storm_began.get_or_init(|| now);
        now.duration_since(began) < storm.lasting
    }
}

/// A sliding one-second window of accepted requests.
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    accepted: VecDeque<Instant>,
}

impl RateWindow {
    /// `Ok` when the request fits under `rate`; else how long until it would.
    pub(crate) fn admit(&mut self, rate: u32, now: Instant) -> Result<(), Duration> {
        let second = Duration::from_secs(1);
        while self
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= second)
        {
            self.accepted.pop_front();
        }
        if self.accepted.len() >= rate as usize {
            let oldest = self.accepted.front().copied().unwrap_or(now);
            return Err(second.saturating_sub(now.duration_since(oldest)));
        }
        self.accepted.push_back(now);
        Ok(())
    }
}

/// The license's quota: requests counted over one period, which ends at `ends_at`.
#[derive(Debug, Default)]
pub(crate) struct QuotaWindow {
    period: Option<(Instant, std::time::SystemTime)>,
    used: u64,
}

impl QuotaWindow {
    /// `Ok` while the request is within `quota` for this period; else when the period ends.
    pub(crate) fn admit(
        &mut self,
        quota: u64,
        period: Duration,
        now: Instant,
    ) -> Result<(), std::time::SystemTime> {
        let ends = self.period.map(|(started, _)| started + period);
        if ends.is_none_or(|end| now >= end) {
            self.period = Some((now, std::time::SystemTime::now() + period));
            self.used = 0;
        }
        self.used += 1;
        match self.period {
            Some((_, ends_at)) if self.used > quota => Err(ends_at),
            _ => Ok(()),
        }
    }

    /// Ends the period now, as its reset time passing would.
    pub(crate) fn end(&mut self) {
        self.period = None;
        self.used = 0;
    }
}

/// One API request as it arrived, for tests of what the client sends with every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    /// The `X-Ping-External-Transaction-ID` header, when sent (and readable as text).
    pub transaction_id: Option<String>,
}

pub(crate) struct Store {
    pub(crate) devices: Mutex<HashMap<String, Vec<Device>>>,
    /// Users' MFA switches as changed since the start (else the directory's).
    pub(crate) mfa: Mutex<HashMap<String, bool>>,
    pub(crate) quota: Mutex<QuotaWindow>,
    /// Users whose MFA switch the token may not set (`--refuse-mfa-switch`, until granted).
    pub(crate) mfa_refused: Mutex<std::collections::HashSet<String>>,
    /// What was asked about each user, in order (only with `record_arrivals`).
    pub(crate) user_requests: Mutex<Vec<(String, &'static str)>>,
    /// Every device-create body received, as sent, for tests of what reaches the server.
    pub(crate) bodies: Mutex<Vec<String>>,
    /// The ID of every device a DELETE removed (answered 204), in order.
    pub(crate) deleted: Mutex<Vec<String>>,
    /// Users removed since the start ([`super::Sandbox::remove_user`]).
    pub(crate) removed_users: Mutex<std::collections::HashSet<String>>,
    /// Every API request received: method, path and its transaction id header (only with
    /// `record_arrivals`).
    pub(crate) seen: Mutex<Vec<SeenRequest>>,
    /// The `jti` of every client assertion accepted: one seen twice is a replay.
    pub(crate) assertion_ids: Mutex<std::collections::HashSet<String>>,
    pub(crate) tokens: Mutex<HashMap<String, Instant>>,
    pub(crate) window: Mutex<RateWindow>,
    pub(crate) arrivals: Mutex<Vec<Arrival>>,
    pub(crate) counters: Counters,
    pub(crate) started: Instant,
    /// When the storm (`SandboxOptions::storm`) began.
    pub(crate) storm_began: std::sync::OnceLock<Instant>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            devices: Mutex::default(),
            mfa: Mutex::default(),
            quota: Mutex::default(),
            mfa_refused: Mutex::default(),
            user_requests: Mutex::default(),
            bodies: Mutex::default(),
            deleted: Mutex::default(),
            removed_users: Mutex::default(),
            seen: Mutex::default(),
            assertion_ids: Mutex::default(),
            tokens: Mutex::default(),
            window: Mutex::default(),
            arrivals: Mutex::default(),
            counters: Counters::default(),
            started: Instant::now(),
            storm_began: std::sync::OnceLock::new(),
        }
    }
}

/// The sandbox's own idea of "the same device", independent of the tool's: the same type,
/// the digits of a phone or an email case-folded, and the same extension (another extension
/// is another line).
pub(crate) fn same_device(a: &Device, b: &Device) -> bool {
    let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
    let same_destination = match (&a.phone, &b.phone, &a.email, &b.email) {
        (Some(x), Some(y), _, _) => digits(x) == digits(y),
        (None, None, Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    };
    let extension = |d: &Device| d.extension.clone().unwrap_or_default();
    a.device_type.eq_ignore_ascii_case(&b.device_type)
        && same_destination
        && extension(a) == extension(b)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_admits_its_share_per_period_and_renews() {
        let mut window = QuotaWindow::default();
        let start = Instant::now();
        let period = Duration::from_secs(10);
        for _ in 0..3 {
            assert!(window.admit(3, period, start).is_ok());
        }
        let resets = window.admit(3, period, start).unwrap_err();
        assert!(resets > std::time::SystemTime::now(), "the reset is ahead");
        assert!(window
            .admit(3, period, start + Duration::from_secs(9))
            .is_err());
        assert!(
            window.admit(3, period, start + period).is_ok(),
            "a new period"
        );
        window.end();
        assert!(window.admit(0, period, start + period).is_err());
    }

    #[test]
    fn the_users_file_may_say_whose_mfa_is_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        let (on, off) = (
            "00000000-0000-4000-8000-000000000001",
            "00000000-0000-4000-8000-000000000002",
        );
        std::fs::write(
            &path,
            format!("user_id,username,mfa_enabled\n{on},a,TRUE\n{off},b,\n"),
        )
        .unwrap();
        let directory = Directory::from_csv(&path).unwrap();
        assert!(directory.mfa_on_at_start(on));
        assert!(!directory.mfa_on_at_start(off));
        std::fs::write(&path, format!("user_id,username,mfa_enabled\n{on},a,yes\n")).unwrap();
        let err = Directory::from_csv(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("mfa_enabled"),
            "{err}"
        );
        std::fs::write(&path, format!("user_id,username\n{on},a\n")).unwrap();
        let without = Directory::from_csv(&path).unwrap();
        assert!(
            !without.mfa_on_at_start(on),
            "PingOne creates users with it off"
        );
    }
}
