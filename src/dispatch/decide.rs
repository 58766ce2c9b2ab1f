//! The engine's decisions as plain functions, with no I/O: which of a user's devices is a
//! row's, what a failure is recorded as, and how a row ends whose POST PingOne may have acted
//! on. The async code in [`super::enroll`] gathers the facts and calls these.

use std::time::{Duration, SystemTime};

use crate::codes::Code;
use crate::model::{Claims, Destination, DeviceIdentity, DeviceType};
use crate::pingone::wire::Device;
use crate::pingone::{ApiError, Cause};
use crate::validate::phone;

/// A device read back from PingOne as a [`DeviceIdentity`]; `None` for types this tool never
/// creates (TOTP, FIDO2, mobile) or a device missing its destination.
fn identity(device: &Device) -> Option<DeviceIdentity> {
    let device_type: DeviceType = device.device_type.parse().ok()?;
    let destination = if device_type.uses_phone() {
        Destination::Phone(phone::comparison_form(device.phone.as_deref()?))
    } else {
        Destination::Email(device.email.clone()?)
    };
    Some(DeviceIdentity::new(
        device_type,
        &destination,
        device.extension.as_deref(),
    ))
}

/// What makes the device PingOne's answer to a create describes another than the one asked
/// for: another type, or a phone, email or extension it gives that differs. `None` when it is
/// the device asked for (a field the answer leaves out cannot differ).
pub(crate) fn other_device(device: &Device, wanted: &DeviceIdentity) -> Option<String> {
    if device.device_type.parse::<DeviceType>().ok() != Some(wanted.device_type) {
        return Some(format!("of type {:?}", device.device_type));
    }
    let (destination, what) = if wanted.device_type.uses_phone() {
        (
            device.phone.as_deref().map(phone::comparison_form),
            "phone number",
        )
    } else {
        (
            device
                .email
                .as_ref()
                .map(|e| Destination::Email(e.clone()).comparison_key()),
            "email",
        )
    };
    if destination.is_some_and(|d| d != wanted.destination) {
        return Some(format!("with another {what}"));
    }
    let extension = device.extension.as_deref().map(str::trim);
    let extension = extension.filter(|e| !e.is_empty() && wanted.device_type.takes_extension());
    match (extension, wanted.extension.as_deref()) {
        (Some(got), asked) if Some(got) != asked => Some("with another extension".into()),
        _ => None,
    }
}

/// What makes a device PingOne's answer describes another user's: a `user.id` it gives that
/// is not the user the POST was for. `None` when it names this user or no user at all.
pub(crate) fn other_user(device: &Device, user_id: &str) -> Option<String> {
    let named = device.user.as_ref()?.id.as_str();
    (!named.eq_ignore_ascii_case(user_id)).then(|| format!("of another user ({named})"))
}

/// The waits before each read of a user's devices after a POST PingOne may have acted on:
/// reads at 1/8, 1/4, 1/2 and all of `list_lag` (PingOne's lists catch up with a creation
/// only after a while, so a read soon after that misses the device proves nothing). With no
/// lag, one read at once.
pub(crate) fn settle_waits(list_lag: Duration) -> Vec<Duration> {
    if list_lag.is_zero() {
        return vec![Duration::ZERO];
    }
    let eighth = list_lag / 8;
    vec![eighth, eighth, list_lag / 4, list_lag / 2]
}

/// Which of the user's devices is the row's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Match<'a> {
    /// None has the row's identity.
    Nothing,
    /// This one has it and no other row claimed it.
    Free(&'a Device),
    /// The only ones with it were reported created by another line.
    ClaimedBy(&'a Device, u64),
}

/// The user's device with the row's identity. With `created_since`, only one made since then
/// counts (one without a readable creation time counts too: a duplicate is the worse
/// mistake). A device another line claimed is passed over for a free one.
pub(crate) fn find_match<'a>(
    devices: &'a [Device],
    wanted: &DeviceIdentity,
    created_since: Option<SystemTime>,
    claims: &Claims,
) -> Match<'a> {
    let mut claimed = None;
    for device in devices {
        if identity(device).as_ref() != Some(wanted) {
            continue;
        }
        let recent_enough = match (created_since, device.created_at.as_deref()) {
            (None, _) | (Some(_), None) => true,
            (Some(since), Some(at)) => humantime::parse_rfc3339_weak(at)
                .map(|t| t >= since)
                .unwrap_or(true),
        };
        if !recent_enough {
            continue;
        }
        match claims.get(&device.id) {
            None => return Match::Free(device),
            Some(line) => claimed = claimed.or(Some((device, line))),
        }
    }
    match claimed {
        Some((device, line)) => Match::ClaimedBy(device, line),
        None => Match::Nothing,
    }
}

/// `replace`: the user's devices of `device_type` that are not `wanted` (a device that one
/// of the user's rows of that type names), waiting for activation or not. A device whose
/// destination cannot be read is never taken for stale.
pub(crate) fn stale(
    devices: &[Device],
    device_type: DeviceType,
    wanted: impl Fn(&DeviceIdentity) -> bool,
) -> Vec<&Device> {
    devices
        .iter()
        .filter(|device| device.device_type.parse::<DeviceType>().ok() == Some(device_type))
        .filter(|device| identity(device).is_some_and(|found| !wanted(&found)))
        .collect()
}

/// The code and message of a row that failed with `error` and nothing was created.
pub(crate) fn failure(error: &ApiError, user_id: &str, retries_allowed: usize) -> (Code, String) {
    match error {
        ApiError::Stopped => (
            Code::NotAttempted,
            "the run stopped before this row was sent; run again with --resume".into(),
        ),
        e if e.is_retryable() => (
            Code::RetriesExhausted,
            format!(
                "gave up after {}; the last answer: {e}",
                crate::words::count(retries_allowed, "retry", "retries")
            ),
        ),
        // Every call this tool makes for a row is under /users/{userID}, but a 404 is that
        // user's only when PingOne's body says so: another missing thing keeps PingOne's words.
        e if *e.cause() == Cause::UserMissing && !user_id.is_empty() => (
            Code::UserNotFound,
            format!("no PingOne user has the ID {user_id} in this environment; check user_id"),
        ),
        e => (e.code(), e.message()),
    }
}

/// The code and message of a row the run stopped after a POST whose answer was a refusal
/// worth retrying: the row was tried, so it is not `NOT_ATTEMPTED`, and nothing was created.
pub(crate) fn stopped_after(last_answer: &ApiError) -> (Code, String) {
    (
        last_answer.code(),
        format!("the run stopped before this row was tried again; the last answer: {last_answer}; run again with --resume"),
    )
}

/// Whether a failed read of the user's devices still shows that no device of theirs exists:
/// a 404 whose body says PingOne has no such user.
pub(crate) fn rules_out_every_device(read_error: &ApiError) -> bool {
    *read_error.cause() == Cause::UserMissing
}

/// Whether a device counts against the user's cap (`pairing.maxAllowedDevices`): ACTIVE and
/// BLOCKED ones do, devices still waiting for activation do not. One without a status counts:
/// a plan that warns of the cap wrongly costs less than one that misses it.
pub(crate) fn counts_against_cap(device: &Device) -> bool {
    match device.status.as_deref() {
        None => true,
        Some(status) => {
            status.eq_ignore_ascii_case("ACTIVE") || status.eq_ignore_ascii_case("BLOCKED")
        }
    }
}

/// How a row ends when a POST may have been acted on (timeout, dropped connection, 5xx) and
/// no clear success followed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settled<'a> {
    /// The final read found the device: the row's, `created`.
    Created(&'a Device),
    /// Nobody can tell yet: `UNCONFIRMED`, with why. A resume, or errors.csv fed back, reads
    /// the user's devices before sending anything.
    Unconfirmed(String),
    /// PingOne's last answer refused the POST outright (a 4xx for the same body) and the read
    /// shows no device: nothing was created, and the row fails with PingOne's reason.
    Refused,
}

/// `final_read` is `None` when no read could be made (the run is stopping).
pub(crate) fn after_unclear<'a>(
    last_error: &ApiError,
    final_read: Option<Result<Match<'a>, &ApiError>>,
) -> Settled<'a> {
    let resume_says =
        "--resume (or this errors.csv fed back) reads the user's devices before sending again";
    match final_read {
        Some(Ok(Match::Free(device))) => Settled::Created(device),
        None => Settled::Unconfirmed(format!(
            "the run stopped after PingOne's answer was unclear ({last_error}); {resume_says}"
        )),
        Some(Err(read_error)) => Settled::Unconfirmed(format!(
            "PingOne's answer was unclear ({last_error}) and reading the user's devices failed too ({read_error}); {resume_says}"
        )),
        // The same body was refused for what it says, and no earlier attempt left a device.
        Some(Ok(Match::Nothing))
            if !last_error.may_have_acted()
                && last_error.http_status().is_some_and(|s| (400..500).contains(&s))
                && !last_error.is_retryable() =>
        {
            Settled::Refused
        }
        // PingOne made a device, not the one asked for, and the one asked for is not there.
        Some(Ok(Match::Nothing | Match::ClaimedBy(..)))
            if matches!(last_error, ApiError::OtherDevice { .. }) =>
        {
            Settled::Unconfirmed(format!(
                "PingOne answered {last_error}, and the device asked for is not among the user's devices; check that device (and delete it if it is not wanted); {resume_says}"
            ))
        }
        // Another row's device, or none yet: PingOne may still be working on a timed-out request.
        Some(Ok(Match::Nothing | Match::ClaimedBy(..))) => Settled::Unconfirmed(format!(
            "PingOne's answer was unclear ({last_error}) and the device is not among the user's devices, read again over list_lag_s; PingOne's list may still be catching up, or PingOne may still create it; the POST was not sent again; {resume_says}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn device(id: &str, kind: &str, phone: Option<&str>, email: Option<&str>) -> Device {
        Device {
            id: id.into(),
            device_type: kind.into(),
            status: Some("ACTIVE".into()),
            phone: phone.map(str::to_string),
            email: email.map(str::to_string),
            extension: None,
            nickname: None,
            created_at: None,
            user: None,
        }
    }

    fn sms(number: &str) -> DeviceIdentity {
        DeviceIdentity::new(DeviceType::Sms, &Destination::Phone(number.into()), None)
    }

    #[test]
    fn stale_devices_are_those_of_the_type_that_no_row_names() {
        let mut pending = device("s3", "SMS", Some("+1.5125550003"), None);
        pending.status = Some("ACTIVATION_REQUIRED".into());
        let devices = vec![
            device("s1", "SMS", Some("+1.5125551234"), None),
            device("s2", "SMS", Some("+15125550002"), None),
            pending,
            device("s4", "SMS", None, None),
            device("e1", "EMAIL", None, Some("old@example.com")),
            device("v1", "VOICE", Some("+15125550002"), None),
        ];
        let wanted = [sms("+15125551234")];
        let stale: Vec<&str> = stale(&devices, DeviceType::Sms, |d| wanted.contains(d))
            .into_iter()
            .map(|d| d.id.as_str())
            .collect();
        // A number spelled another way is the same device; one waiting for activation is
        // stale too; one without a readable phone, and other types, never are.
        assert_eq!(stale, ["s2", "s3"]);
    }

    #[test]
    fn matching_compares_type_destination_and_extension() {
        let mut voice_313 = device("v1", "VOICE", Some("+1.5125551234"), None);
        voice_313.extension = Some("313#".into());
        let devices = vec![
            device("s1", "SMS", Some("+1.5125551234"), None),
            device("e1", "EMAIL", None, Some("Jane@Example.com")),
            device("t1", "TOTP", None, None),
            voice_313,
        ];
        let none = Claims::new();
        let voice = |ext: Option<&str>| {
            DeviceIdentity::new(
                DeviceType::Voice,
                &Destination::Phone("+15125551234".into()),
                ext,
            )
        };
        let cases: Vec<(DeviceIdentity, Option<&str>)> = vec![
            (sms("+15125551234"), Some("s1")),
            (sms("+15125551235"), None),
            (
                DeviceIdentity::new(
                    DeviceType::Email,
                    &Destination::Email("jane@example.COM".into()),
                    None,
                ),
                Some("e1"),
            ),
            (
                DeviceIdentity::new(
                    DeviceType::Whatsapp,
                    &Destination::Phone("+15125551234".into()),
                    None,
                ),
                None,
            ),
            (voice(Some("313#")), Some("v1")),
            (voice(Some("314#")), None),
            (voice(None), None),
        ];
        for (wanted, expected) in cases {
            let found = match find_match(&devices, &wanted, None, &none) {
                Match::Free(d) => Some(d.id.as_str()),
                Match::Nothing => None,
                other => panic!("{wanted:?}: {other:?}"),
            };
            assert_eq!(found, expected, "{wanted:?}");
        }
    }

    #[test]
    fn a_created_device_is_checked_against_the_one_asked_for() {
        let voice = |ext: Option<&str>| {
            DeviceIdentity::new(
                DeviceType::Voice,
                &Destination::Phone("+15125551234".into()),
                ext,
            )
        };
        let mut voice_313 = device("v", "VOICE", Some("+1.512.555.1234"), None);
        voice_313.extension = Some("313#".into());
        let email = DeviceIdentity::new(
            DeviceType::Email,
            &Destination::Email("Jane@Example.com".into()),
            None,
        );
        let cases: Vec<(Device, DeviceIdentity, bool)> = vec![
            (
                device("s", "SMS", Some("+1.5125551234"), None),
                sms("+15125551234"),
                false,
            ),
            (device("s", "SMS", None, None), sms("+15125551234"), false),
            (
                device("s", "SMS", Some("+15125550000"), None),
                sms("+15125551234"),
                true,
            ),
            (
                device("s", "VOICE", Some("+15125551234"), None),
                sms("+15125551234"),
                true,
            ),
            (
                device("e", "EMAIL", None, Some("jane@example.COM")),
                email.clone(),
                false,
            ),
            (
                device("e", "EMAIL", None, Some("john@example.com")),
                email,
                true,
            ),
            (
                device("e", "EMAIL", None, Some("x@y.z")),
                sms("+15125551234"),
                true,
            ),
            (voice_313.clone(), voice(Some("313#")), false),
            (voice_313.clone(), voice(Some("314#")), true),
            (voice_313, voice(None), true),
        ];
        for (answer, asked, is_other) in cases {
            let found = other_device(&answer, &asked);
            assert_eq!(
                found.is_some(),
                is_other,
                "{answer:?} for {asked:?}: {found:?}"
            );
        }
    }

    #[test]
    fn matching_skips_old_devices_and_claimed_ones() {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut old = device("old", "SMS", Some("+15125551234"), None);
        old.created_at = Some("2020-01-01T00:00:00Z".into());
        let mut new = device("new", "SMS", Some("+15125551234"), None);
        new.created_at = Some("2030-01-01T00:00:00.000Z".into());
        let devices = vec![old, new];
        let wanted = sms("+15125551234");
        let mut claims = Claims::new();
        assert_eq!(
            find_match(&devices, &wanted, Some(since), &claims),
            Match::Free(&devices[1])
        );
        assert_eq!(
            find_match(&devices, &wanted, None, &claims),
            Match::Free(&devices[0])
        );
        claims.insert("new", 7);
        assert_eq!(
            find_match(&devices, &wanted, Some(since), &claims),
            Match::ClaimedBy(&devices[1], 7)
        );
        assert_eq!(
            find_match(&devices, &wanted, None, &claims),
            Match::Free(&devices[0]),
            "a free device wins over a claimed one"
        );
        assert_eq!(
            find_match(&devices, &sms("+15125550000"), None, &claims),
            Match::Nothing
        );
    }

    #[test]
    fn failures_are_classified_by_what_the_caller_can_do() {
        let status = |s: u16| ApiError::from_status(s, None, None);
        let body = crate::pingone::wire::ErrorBody {
            code: Some("NOT_FOUND".into()),
            message: Some("Unable to find user with ID u.".into()),
            ..Default::default()
        };
        let user_missing = ApiError::from_status(404, Some(body), None);
        let cases: Vec<(ApiError, &str, Code)> = vec![
            (ApiError::Stopped, "u", Code::NotAttempted),
            (status(503), "u", Code::RetriesExhausted),
            (status(429), "u", Code::RetriesExhausted),
            (
                ApiError::Connect("refused".into()),
                "u",
                Code::RetriesExhausted,
            ),
            (user_missing.clone(), "u", Code::UserNotFound),
            (user_missing, "", Code::PingOne("NOT_FOUND".into())),
            (status(404), "u", Code::PingOne("HTTP_404".into())),
            (status(400), "u", Code::PingOne("HTTP_400".into())),
            (status(403), "u", Code::PingOne("HTTP_403".into())),
        ];
        for (error, user, expected) in cases {
            assert_eq!(failure(&error, user, 3).0, expected, "{error}");
        }
        assert!(failure(&status(503), "u", 3).1.contains("after 3 retries"));
        // Tried, refused in a way a retry may mend, then stopped: PingOne's code, not
        // NOT_ATTEMPTED (which says attempts 0).
        let (code, message) = stopped_after(&status(429));
        assert_eq!(code, Code::PingOne("HTTP_429".into()));
        assert!(message.contains("stopped before this row was tried again"));
    }

    #[test]
    fn the_cap_counts_active_and_blocked_devices_only() {
        for (status, counts) in [
            (Some("ACTIVE"), true),
            (Some("BLOCKED"), true),
            (Some("ACTIVATION_REQUIRED"), false),
            (None, true),
        ] {
            let mut d = device("d", "SMS", Some("+15125551234"), None);
            d.status = status.map(str::to_string);
            assert_eq!(counts_against_cap(&d), counts, "{status:?}");
        }
    }

    #[test]
    fn an_unclear_post_ends_created_or_unconfirmed_never_failed() {
        let found = device("d", "SMS", Some("+15125551234"), None);
        let last = ApiError::from_status(503, None, None);
        let read_error = ApiError::from_status(502, None, None);
        assert_eq!(
            after_unclear(&last, Some(Ok(Match::Free(&found)))),
            Settled::Created(&found)
        );
        let timeout = ApiError::Transport("timed out".into());
        let rate_limited = ApiError::from_status(429, None, None);
        for last in [&last, &timeout, &rate_limited] {
            for read in [
                None,
                Some(Err(&read_error)),
                Some(Ok(Match::Nothing)),
                Some(Ok(Match::ClaimedBy(&found, 3))),
            ] {
                let why = format!("{last}, {read:?}");
                match after_unclear(last, read) {
                    Settled::Unconfirmed(message) => {
                        assert!(message.contains("--resume"), "{why}")
                    }
                    other => panic!("{why}: {other:?}"),
                }
            }
        }
        // A later attempt refused outright, and the read shows nothing: a true failure.
        // A 201 for another device, and the device asked for is not there: PingOne acted.
        let other = ApiError::OtherDevice {
            status: 201,
            device_id: "x".into(),
            what: "of type \"EMAIL\"".into(),
        };
        assert!(other.may_have_acted() && !other.is_retryable());
        match after_unclear(&other, Some(Ok(Match::Nothing))) {
            Settled::Unconfirmed(message) => assert!(message.contains("device x"), "{message}"),
            wrong => panic!("{wrong:?}"),
        }
        assert_eq!(
            after_unclear(&other, Some(Ok(Match::Free(&found)))),
            Settled::Created(&found)
        );
        let refused = ApiError::from_status(400, None, None);
        assert_eq!(
            after_unclear(&refused, Some(Ok(Match::Nothing))),
            Settled::Refused
        );
        assert!(matches!(
            after_unclear(&refused, Some(Err(&read_error))),
            Settled::Unconfirmed(_)
        ));
    }

    #[test]
    fn only_a_404_that_names_the_user_rules_out_every_device() {
        let answer = |status: u16, json: &str| {
            ApiError::from_status(status, Some(serde_json::from_str(json).unwrap()), None)
        };
        let user = r#"{"id":"e6","code":"NOT_FOUND","message":"Unable to find user with ID x."}"#;
        let thing =
            r#"{"id":"e7","code":"NOT_FOUND","message":"The requested resource was not found."}"#;
        assert!(rules_out_every_device(&answer(404, user)));
        assert!(!rules_out_every_device(&answer(404, thing)));
        assert!(!rules_out_every_device(&ApiError::from_status(
            503, None, None
        )));
    }

    #[test]
    fn an_extension_differs_only_where_the_type_takes_one() {
        let voice = DeviceIdentity::new(
            DeviceType::Voice,
            &Destination::Phone("+15125551234".into()),
            None,
        );
        let mut answered = device("v1", "VOICE", Some("+15125551234"), None);
        answered.extension = Some(" ".into());
        assert_eq!(
            other_device(&answered, &voice),
            None,
            "an empty extension is none"
        );
        let mut sms = device("s1", "SMS", Some("+15125551234"), None);
        sms.extension = Some("313#".into());
        assert_eq!(
            other_device(&sms, &self::sms("+15125551234")),
            None,
            "SMS takes none"
        );
        answered.extension = Some("313#".into());
        assert!(other_device(&answered, &voice).is_some_and(|w| w.contains("extension")));
    }

    #[test]
    fn only_an_answer_for_another_device_says_to_check_that_device() {
        let other = ApiError::OtherDevice {
            status: 201,
            device_id: "x".into(),
            what: "of type \"EMAIL\"".into(),
        };
        let unclear = ApiError::from_status(503, None, None);
        let message = |error: &ApiError| match after_unclear(error, Some(Ok(Match::Nothing))) {
            Settled::Unconfirmed(message) => message,
            wrong => panic!("{wrong:?}"),
        };
        assert!(message(&other).contains("check that device"));
        assert!(!message(&unclear).contains("check that device"));
        assert!(message(&unclear).contains("may still create it"));
    }

    #[test]
    fn an_answer_naming_another_user_is_not_this_rows_device() {
        let mut answered = device("d", "SMS", Some("+15125551234"), None);
        assert_eq!(other_user(&answered, "u1"), None, "no user named");
        answered.user = Some(crate::pingone::wire::IdRef { id: "U1".into() });
        assert_eq!(other_user(&answered, "u1"), None, "IDs compare case-blind");
        answered.user = Some(crate::pingone::wire::IdRef { id: "u2".into() });
        assert!(other_user(&answered, "u1").is_some_and(|w| w.contains("u2")));
    }

    #[test]
    fn after_an_unclear_post_the_list_is_read_over_the_whole_lag() {
        let lag = Duration::from_secs(8);
        let waits = settle_waits(lag);
        let mut at = Duration::ZERO;
        let reads: Vec<Duration> = waits
            .iter()
            .map(|w| {
                at += *w;
                at
            })
            .collect();
        assert_eq!(
            reads,
            [1, 2, 4, 8].map(Duration::from_secs),
            "the last read at the lag's end"
        );
        assert_eq!(
            settle_waits(Duration::ZERO),
            [Duration::ZERO],
            "no lag: one read at once"
        );
    }
}
