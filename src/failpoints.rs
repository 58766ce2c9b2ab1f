//! Failpoints: the named places where a test makes the binary crash, panic or fail on
//! purpose, so that every window exactly-once depends on is hit every time, not by the
//! luck of a SIGKILL's timing. TiKV's `fail` crate drives them from the environment
//! (`FAILPOINTS=name=action;name=action`, read once by `main`); `tests/it/failpoints.rs`
//! sets it in the child's environment.
//!
//! They exist only with the `failpoints` feature, which only a build of the tests turns on
//! (Cargo.toml): without it every macro here expands to nothing, names included, so the
//! binary `cargo build --release` makes carries none of this (`.ci/run` checks it).
//!
//! The points (the action each is driven with in the tests):
//!
//! | name | where | `return` does |
//! |---|---|---|
//! | `post-answered` | PingOne created the device and answered; the row is not yet recorded | the process dies |
//! | `before-removals` | `replace`: a group's last row has its device; its stale devices are not yet deleted, the row not yet recorded | the process dies |
//! | `after-delete` | `replace`: PingOne answered a stale device's DELETE; the row is not yet recorded | the process dies |
//! | `row-work` | a worker starts a row (`return(LINE)`: only that line) | the worker panics |
//! | `results-write` | the writer writes to results.csv or errors.csv (`N*off->return`: the N+1th write) | the write fails, as on a full disk |
//! | `before-final-summary` | every row is in results.csv; summary.json still says unfinished | the process dies |
//! | `merge-renames` | between the renames that put a merge's files in place | the process dies |
//! | `token-renewal` | a token is renewed (`return(refused)`: the endpoint says no) | the renewal gets no answer |
//! | `spool-read` | stage 3 reads the input's copy (`return(LINE)`: at that line) | the read fails, as on a disk error |
//! | `spill-write` | the survey spills a row's key for the duplicate check | the write fails, as on a full disk |
//! | `spill-crash` | the same place | the process dies |
//! | `certificate-check` | a request's TLS certificate is judged | the certificate is not trusted |
//! | `username-lookup` | a username is looked up (`return(NAME)`: only that one) | the look-up gets no answer |

/// Evaluates a `fail::fail_point!` when the feature is on; nothing at all without it.
macro_rules! failpoint {
    ($($point:tt)*) => {
        #[cfg(feature = "failpoints")]
        {
            ::fail::fail_point!($($point)*);
        }
    };
}
pub(crate) use failpoint;

/// `name=return`: the process dies here at once, as after a SIGKILL or a power cut: no
/// destructor runs, no buffer is flushed, nothing more reaches a file.
macro_rules! crash_point {
    ($name:literal) => {
        $crate::failpoints::failpoint!($name, |_| $crate::failpoints::crash($name))
    };
}
pub(crate) use crash_point;

/// Ends the process the way a crash does.
#[cfg(feature = "failpoints")]
pub(crate) fn crash(name: &str) -> ! {
    eprintln!("failpoint {name}: the process dies here");
    std::process::abort()
}

/// `name=return(KEY)`: the enclosing function returns `Err(error("failpoint NAME"))` when
/// `key` (a line number, a username) is the one the test chose; other keys go on as usual.
macro_rules! fail_for {
    ($name:literal, $key:expr, $error:expr) => {
        #[cfg(feature = "failpoints")]
        {
            if $crate::failpoints::chosen($name, &$key.to_string()) {
                return Err($error(format!("failpoint {}", $name)));
            }
        }
    };
}
pub(crate) use fail_for;

/// `name=return(LINE)`: panics on the row of input line LINE, as a bug met there would.
macro_rules! panic_on_line {
    ($name:literal, $line:expr) => {
        #[cfg(feature = "failpoints")]
        {
            if $crate::failpoints::chosen($name, &$line.to_string()) {
                panic!("failpoint {}: a bug on line {}", $name, $line);
            }
        }
    };
}
pub(crate) use panic_on_line;

/// Whether the point `name` is on and its argument is `key`.
#[cfg(feature = "failpoints")]
pub(crate) fn chosen(name: &str, key: &str) -> bool {
    let argument = || -> Option<String> {
        ::fail::fail_point!(name, |argument| argument);
        None
    };
    argument().is_some_and(|chosen| chosen.trim() == key)
}
