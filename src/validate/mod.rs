//! [`Record`] -> [`DeviceSpec`], or a [`RowError`] with a stable code and a message that says
//! what to fix. Knows nothing of HTTP: every check here runs offline, in dry runs too.

mod fields;
pub mod phone;
pub(crate) mod repeats;
pub(crate) mod stream;

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use uuid::Uuid;

pub(crate) use crate::codes::Code;
use crate::input::{Column, Header, NotUtf8, Record};
use crate::model::{Destination, DeviceIdentity, DeviceStatus, DeviceType, UserRef};
use crate::words::count;
use repeats::Repeats;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowError {
    pub(crate) code: Code,
    pub(crate) message: String,
}

impl RowError {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The custom pairing notification; PingOne accepts it only with ACTIVATION_REQUIRED.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Notification {
    pub(crate) locale: Option<String>,
    pub(crate) variant: Option<String>,
}

/// A row that passed every offline check: what to create, for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceSpec {
    pub(crate) user: UserRef,
    /// The username as the row wrote it, for results.csv ("" when none).
    pub(crate) username: String,
    pub(crate) device_type: DeviceType,
    pub(crate) destination: Destination,
    pub(crate) extension: Option<String>,
    pub(crate) policy_id: Uuid,
    /// `None` leaves the choice to PingOne (ACTIVE for an admin actor).
    pub(crate) status: Option<DeviceStatus>,
    pub(crate) nickname: Option<String>,
    pub(crate) notification: Option<Notification>,
    /// The row comes from an errors.csv that marked it `UNCONFIRMED`: an earlier run may have
    /// created its device, so the user's devices are read before anything is sent.
    pub(crate) unconfirmed_before: bool,
    /// The row comes from an errors.csv that marked it `MFA_NOT_ENABLED`: an earlier run
    /// created its device, so the user's devices are read before anything is sent, and the
    /// device found there is the row's.
    pub(crate) created_before: bool,
    /// The line of the first input the row came from (see [`Record::original_line`]).
    pub(crate) original_line: u64,
}

impl DeviceSpec {
    /// What makes this device the same as another of the user's.
    pub(crate) fn identity(&self) -> DeviceIdentity {
        DeviceIdentity::new(
            self.device_type,
            &self.destination,
            self.extension.as_deref(),
        )
    }

    /// Whether creating this device makes PingOne message the user a pairing code.
    pub(crate) fn sends_pairing_message(&self) -> bool {
        self.status == Some(DeviceStatus::ActivationRequired)
    }
}

/// Defaults a row falls back on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    pub(crate) default_policy: Option<Uuid>,
    pub(crate) default_status: Option<DeviceStatus>,
    pub(crate) default_country: Option<crate::validate::phone::Country>,
}

/// A row the duplicate check has seen: a 64-bit digest of (user, type, destination) and the
/// line that first named it. Packed to 12 bytes, and keyed by the digest alone, so a
/// million-row file's check stays near 30 MB.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(4))]
struct SeenRow {
    key: u64,
    line: u32,
}

impl PartialEq for SeenRow {
    fn eq(&self, other: &Self) -> bool {
        let (mine, theirs) = (self.key, other.key);
        mine == theirs
    }
}

impl Eq for SeenRow {}

impl Hash for SeenRow {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.key);
    }
}

/// The digest is already a hash: hash tables may use it as it is.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A row after the cheap checks: either a spec whose phone is still as written (normalising
/// it is the costly part, done by [`Finisher`], or on a thread of its own) with duplicates not
/// yet known, or the problems found so far, which the phone's own check may still add to.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    verdict: Result<DeviceSpec, Problems>,
    phone: PendingPhone,
}

/// The phone check a [`Checked`] still owes.
#[derive(Debug, Clone)]
enum PendingPhone {
    /// Nothing to check: no phone, or checked already.
    Nothing,
    /// The spec's destination is a phone as written.
    InSpec,
    /// A row with other problems: its phone as written, and the place its problem takes
    /// among them (the field order of the checks).
    Beside { text: String, at: usize },
}

impl Checked {
    /// Normalises the phone to E.164 (a no-op for emails and for a phone already done), or
    /// adds its problem to the row's. Stateless, so it can run on a thread of its own.
    pub(crate) fn normalise_phone(
        mut self,
        default_country: Option<crate::validate::phone::Country>,
    ) -> Checked {
        let problem = |text: &str, problem: String| {
            RowError::new(Code::InvalidPhone, format!("phone {text:?} {problem}"))
        };
        match (
            std::mem::replace(&mut self.phone, PendingPhone::Nothing),
            &mut self.verdict,
        ) {
            (PendingPhone::Nothing, _) => {}
            (PendingPhone::InSpec, Ok(spec)) => {
                if let Destination::Phone(text) = &spec.destination {
                    match phone::normalize(text, default_country) {
                        Ok(e164) => spec.destination = Destination::Phone(e164),
                        Err(why) => self.verdict = Err(Problems(vec![problem(text, why)])),
                    }
                }
            }
            (PendingPhone::Beside { text, at }, Err(problems)) => {
                if let Err(why) = phone::normalize(&text, default_country) {
                    problems
                        .0
                        .insert(at.min(problems.0.len()), problem(&text, why));
                }
            }
            // A pending phone always matches its verdict (see `FieldChecker::check`).
            (PendingPhone::InSpec, Err(_)) | (PendingPhone::Beside { .. }, Ok(_)) => {}
        }
        self
    }
}

/// Every problem of one row, in the order of the checks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Problems(Vec<RowError>);

/// How the messages of a row with several problems are joined in `error_message`.
pub(crate) const PROBLEM_SEPARATOR: &str = " | ";

impl Problems {
    /// The value of a check that passed; a failed check's problem is kept.
    fn keep<T>(&mut self, checked: Result<T, RowError>) -> Option<T> {
        checked.map_err(|problem| self.0.push(problem)).ok()
    }

    /// One error for results.csv: the first problem's code (scripts read one code), and
    /// every problem's message, each after its code when there are several.
    fn into_error(mut self) -> RowError {
        if self.0.len() <= 1 {
            return self.0.pop().unwrap_or_else(|| {
                RowError::new(Code::InternalError, "a row was refused without a reason")
            });
        }
        let message = self
            .0
            .iter()
            .map(|p| format!("{}: {}", p.code.as_str(), p.message))
            .collect::<Vec<_>>()
            .join(PROBLEM_SEPARATOR);
        RowError::new(self.0[0].code.clone(), message)
    }
}

/// The checks that need no phone metadata and no memory of earlier rows: cheap, and free to
/// run on another thread than the one that normalises phones.
#[derive(Debug, Clone)]
pub(crate) struct FieldChecker {
    header: Header,
    rules: Rules,
}

/// Phone normalisation (unless done already) and the duplicate check, for rows in file order.
pub(crate) struct Finisher {
    default_country: Option<crate::validate::phone::Country>,
    seen: HashSet<SeenRow, BuildHasherDefault<DigestHasher>>,
    /// The lines that may repeat another; only they enter `seen`.
    repeats: Repeats,
}

/// Both halves on one thread, for tests that validate row by row.
#[cfg(test)]
pub(crate) struct Validator {
    checker: FieldChecker,
    finisher: Finisher,
}

#[cfg(test)]
impl Validator {
    pub(crate) fn new(header: Header, rules: Rules) -> Self {
        let (checker, finisher) = split(header, rules);
        Self { checker, finisher }
    }

    pub(crate) fn validate(&mut self, record: &Record) -> Result<DeviceSpec, RowError> {
        let checked = self.checker.check(record);
        self.finisher.finish(record.line, checked)
    }
}

/// The two halves of validation, to run apart; every row is kept for the duplicate check.
pub(crate) fn split(header: Header, rules: Rules) -> (FieldChecker, Finisher) {
    split_knowing(header, rules, Repeats::unknown())
}

/// The same, when a survey found which lines may repeat another: only those are kept.
pub(crate) fn split_knowing(
    header: Header,
    rules: Rules,
    repeats: Repeats,
) -> (FieldChecker, Finisher) {
    let finisher = Finisher {
        default_country: rules.default_country,
        seen: HashSet::default(),
        repeats,
    };
    (FieldChecker { header, rules }, finisher)
}

impl Finisher {
    pub(crate) fn default_country(&self) -> Option<crate::validate::phone::Country> {
        self.default_country
    }

    pub(crate) fn finish(
        &mut self,
        line: u64,
        checked: Result<Checked, RowError>,
    ) -> Result<DeviceSpec, RowError> {
        let spec = checked?
            .normalise_phone(self.default_country)
            .verdict
            .map_err(Problems::into_error)?;
        if !self.repeats.may_repeat(line) {
            return Ok(spec);
        }
        let seen = SeenRow {
            key: duplicate_key(&spec),
            line: u32::try_from(line).unwrap_or(u32::MAX),
        };
        if let Some(first) = self.seen.get(&seen) {
            let first = first.line;
            return Err(RowError::new(
                Code::DuplicateRow,
                format!(
                    "same user, type and {} as line {first}, which goes ahead; remove this row",
                    if spec.device_type.takes_extension() {
                        "phone and extension"
                    } else if spec.device_type.uses_phone() {
                        "phone"
                    } else {
                        "email"
                    }
                ),
            ));
        }
        self.seen.insert(seen);
        Ok(spec)
    }
}

/// How many trailing digits stand for a phone number in [`FieldChecker::repeat_key`].
const PHONE_TAIL_DIGITS: usize = 4;

impl FieldChecker {
    /// A key that a row and any row repeating it share, computed without phone metadata, so
    /// a survey can find possible duplicates cheaply. A phone stands by its last digits:
    /// normalising only ever rewrites a number's front (country code, trunk prefix), so every
    /// spelling of one number ends alike. `None` for a row the cheap checks refuse: it never
    /// reaches the duplicate check.
    pub(crate) fn repeat_key(&self, record: &Record) -> Option<u64> {
        let spec = self.check(record).ok()?.verdict.ok()?;
        let identity = spec.identity();
        let mut hasher = std::hash::DefaultHasher::new();
        match &spec.user {
            UserRef::Id(id) => (0u8, id.as_u128()).hash(&mut hasher),
            UserRef::Username(name) => (1u8, name.to_lowercase()).hash(&mut hasher),
        }
        (identity.device_type, &identity.extension).hash(&mut hasher);
        match &spec.destination {
            Destination::Phone(text) => {
                let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
                digits[digits.len().saturating_sub(PHONE_TAIL_DIGITS)..].hash(&mut hasher);
            }
            Destination::Email(_) => identity.destination.hash(&mut hasher),
        }
        Some(hasher.finish())
    }

    /// Every check but phone normalisation and duplicates; the phone stays as written.
    pub(crate) fn check(&self, record: &Record) -> Result<Checked, RowError> {
        let header = &self.header;
        check_shape(record, header)?;
        let cells = Cells { record, header };
        // Every check runs, so a row reports all its problems at once; a check that depends
        // on another field (the destination on the type) waits for that field to be good.
        let mut problems = Problems::default();
        let user = problems.keep(fields::user(&cells));
        let device_type = problems.keep(fields::device_type(&cells));
        let destination = device_type.and_then(|t| problems.keep(fields::destination(&cells, t)));
        let phone_at = problems.0.len();
        let extension = device_type.and_then(|t| problems.keep(fields::extension(&cells, t)));
        let status = problems.keep(fields::status(&cells, self.rules.default_status));
        let notification = status.and_then(|s| problems.keep(fields::notification(&cells, s)));
        // No default policy is the run's problem, said once when it starts: it goes last,
        // so that a row's own problems come first.
        let (policy_id, no_default_policy) = match fields::policy(&cells, self.rules.default_policy)
        {
            Err(missing) if missing.code == Code::MissingPolicy => (None, Some(missing)),
            other => (problems.keep(other), None),
        };
        let nickname = problems.keep(fields::nickname(&cells));
        problems.0.extend(no_default_policy);
        let fields = CheckedFields {
            user,
            device_type,
            destination,
            extension,
            status,
            notification,
            policy_id,
            nickname,
        };
        Ok(fields.into_checked(problems, phone_at, &cells))
    }
}

/// A row's shape before its cells are read: no stray line break inside the record, and as
/// many fields as the header.
fn check_shape(record: &Record, header: &Header) -> Result<(), RowError> {
    if let Some(stray) = record.stray_break {
        let (lone, own) = stray.ending.describe_stray();
        return Err(RowError::new(
            Code::StrayLineBreak,
            format!(
                "line {} ends with {lone} inside this record, but the file's lines end with {own}: the record is kept whole and none of it is sent; remove that line break (or quote the field that holds it)",
                stray.line
            ),
        ));
    }
    if record.raw.len() != header.len() {
        return Err(RowError::new(
            Code::MalformedRow,
            format!(
                "the row has {} but the header has {}; check for a stray delimiter or an unclosed quote",
                count(record.raw.len(), "field", "fields"),
                header.len()
            ),
        ));
    }
    Ok(())
}

/// Each field of a row as its own check left it: `None` where the check found a problem (or
/// waited on a field that had one).
struct CheckedFields {
    user: Option<(UserRef, String)>,
    device_type: Option<DeviceType>,
    destination: Option<Destination>,
    extension: Option<Option<String>>,
    status: Option<Option<DeviceStatus>>,
    notification: Option<Option<Notification>>,
    policy_id: Option<Uuid>,
    nickname: Option<Option<String>>,
}

impl CheckedFields {
    /// The row's spec when every field is good and no problem was found; otherwise its
    /// problems, with the phone as written beside them for the normalising pass.
    fn into_checked(self, problems: Problems, phone_at: usize, cells: &Cells) -> Checked {
        let each = (
            self.user,
            self.device_type,
            self.destination,
            self.extension,
            self.status,
        );
        let spec = match each {
            (
                Some((user, username)),
                Some(device_type),
                Some(destination),
                Some(extension),
                Some(status),
            ) if problems.0.is_empty() => {
                let (Some(notification), Some(policy_id), Some(nickname)) =
                    (self.notification, self.policy_id, self.nickname)
                else {
                    return Checked::refused(problems, Some(destination), phone_at);
                };
                DeviceSpec {
                    user,
                    username,
                    device_type,
                    destination,
                    extension,
                    policy_id,
                    status,
                    nickname,
                    notification,
                    unconfirmed_before: cells.get(Column::EarlierErrorCode)
                        == Ok(Code::Unconfirmed.as_str()),
                    created_before: cells.get(Column::EarlierErrorCode)
                        == Ok(Code::MfaNotEnabled.as_str()),
                    original_line: cells.record.original_line(cells.header),
                }
            }
            (_, _, destination, _, _) => return Checked::refused(problems, destination, phone_at),
        };
        let phone = if spec.device_type.uses_phone() {
            PendingPhone::InSpec
        } else {
            PendingPhone::Nothing
        };
        Checked {
            verdict: Ok(spec),
            phone,
        }
    }
}

impl Checked {
    /// A row with problems, keeping a phone as written so the normalising pass can add its
    /// own problem at the phone's place.
    fn refused(problems: Problems, destination: Option<Destination>, phone_at: usize) -> Checked {
        let phone = match destination {
            Some(Destination::Phone(text)) => PendingPhone::Beside { text, at: phone_at },
            _ => PendingPhone::Nothing,
        };
        Checked {
            verdict: Err(problems),
            phone,
        }
    }
}

/// One record's cells, read by column.
pub(crate) struct Cells<'a> {
    record: &'a Record,
    header: &'a Header,
}

impl<'a> Cells<'a> {
    /// The trimmed cell; a cell that is not UTF-8 is the row's problem.
    fn get(&self, column: Column) -> Result<&'a str, RowError> {
        self.record
            .get(self.header, column)
            .map_err(|NotUtf8(column)| {
                RowError::new(
                    Code::InvalidEncoding,
                    format!(
                        "column {} is not valid UTF-8; save the file as UTF-8",
                        column.name()
                    ),
                )
            })
    }

    /// The cell, or `None` when empty.
    fn optional(&self, column: Column) -> Result<Option<String>, RowError> {
        self.get(column).map(optional)
    }
}

fn optional(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// The digest the duplicate check compares: user as written (usernames case-folded) and the
/// device's identity.
/// The digest two rows share when one repeats the other.
pub(crate) fn duplicate_key(spec: &DeviceSpec) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    match &spec.user {
        UserRef::Id(id) => (0u8, id.as_u128()).hash(&mut hasher),
        UserRef::Username(name) => (1u8, name.to_lowercase()).hash(&mut hasher),
    }
    spec.identity().hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::InputReader;

    pub(super) const POLICY: &str = "9d1a3b8e-4a55-4f3c-8f4e-0c6f0a1b2c3d";

    fn validate_all(csv: &str, rules: Rules) -> Vec<Result<DeviceSpec, RowError>> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), csv).unwrap();
        let mut reader = InputReader::open(file.path(), b',').unwrap();
        let mut validator = Validator::new(reader.header().clone(), rules);
        let mut out = vec![];
        while let Some(record) = reader.next_record().unwrap() {
            out.push(validator.validate(&record));
        }
        out
    }

    fn code(result: &Result<DeviceSpec, RowError>) -> Option<&str> {
        result.as_ref().err().map(|e| e.code.as_str())
    }

    fn rules() -> Rules {
        Rules {
            default_policy: Some(Uuid::parse_str(POLICY).unwrap()),
            ..Rules::default()
        }
    }

    #[test]
    fn each_problem_has_its_code() {
        let csv =
            "user_id,username,type,phone,email,extension,status,notification_locale,policy_id\n\
            ,,SMS,+15125551234,,,,,\n\
            not-a-uuid,,SMS,+15125551234,,,,,\n\
            ,jdoe,FAX,+15125551234,,,,,\n\
            ,jdoe,SMS,,,,,,\n\
            ,jdoe,SMS,+1 555 0100,,,,,\n\
            ,jdoe,EMAIL,,not-an-email,,,,\n\
            ,jdoe,SMS,+15125551234,,313#,,,\n\
            ,jdoe,VOICE,+15125551234,,abc,,,\n\
            ,jdoe,SMS,+15125551234,,,PENDING,,\n\
            ,jdoe,SMS,+15125551234,,,ACTIVE,en,\n\
            ,jdoe,SMS,+15125551234,,,,,xyz\n\
            ,jdoe,SMS,+15125551234,,,,,\n\
            ,JDOE,sms,+1.512.555.1234,,,,,\n\
            ,jdoe,EMAIL,,J@Example.com,,,,\n\
            ,jdoe,email,,j@example.COM,,,,\n\
            ,jdoe,VOICE,15125551234,,313#,ACTIVATION_REQUIRED,fr-CA,\n\
            short,row\n";
        let results = validate_all(csv, rules());
        let codes: Vec<_> = results.iter().map(code).collect();
        assert_eq!(
            codes,
            vec![
                Some("MISSING_USER"),
                Some("INVALID_USER_ID"),
                Some("INVALID_TYPE"),
                Some("MISSING_PHONE"),
                Some("INVALID_PHONE"),
                Some("INVALID_EMAIL"),
                Some("EXTENSION_NOT_ALLOWED"),
                Some("INVALID_EXTENSION"),
                Some("INVALID_STATUS"),
                Some("NOTIFICATION_NOT_ALLOWED"),
                Some("INVALID_POLICY_ID"),
                None,
                Some("DUPLICATE_ROW"),
                None,
                Some("DUPLICATE_ROW"),
                None,
                Some("MALFORMED_ROW"),
            ]
        );
        let dup = results[12].as_ref().unwrap_err();
        assert!(dup.message.contains("line 13"), "{}", dup.message);
        let voice = results[15].as_ref().unwrap();
        assert_eq!(voice.destination, Destination::Phone("+15125551234".into()));
        assert_eq!(voice.extension.as_deref(), Some("313#"));
        assert!(voice.sends_pairing_message());
    }

    #[test]
    fn the_other_codes_and_what_their_messages_say() {
        let long = "x".repeat(129);
        let csv = format!(
            "username,type,phone,email,status,notification_locale,notification_variant,nickname,extension\n\
            {long},SMS,+15125551234,,,,,,\n\
            jdoe,,+15125551234,,,,,,\n\
            jdoe,SMS,+15125551234,,ACTIVATION_REQUIRED,english please,,,\n\
            jdoe,SMS,+15125551234,,ACTIVATION_REQUIRED,,{long},,\n\
            jdoe,SMS,+15125551234,,,,,{long},\n\
            jdoe,EMAIL,,,,,,,\n\
            jdoe,VOICE,,,,,,,\n\
            jdoe,VOICE,+15125551234,,,,,,12345678901234567\n"
        );
        let results = validate_all(&csv, rules());
        let expected = [
            ("INVALID_USERNAME", "longer than 128"),
            ("MISSING_TYPE", "SMS, VOICE, EMAIL or WHATSAPP"),
            (
                "INVALID_NOTIFICATION",
                "\"english please\" is not a language tag",
            ),
            (
                "INVALID_NOTIFICATION",
                "notification_variant is longer than 100",
            ),
            ("INVALID_NICKNAME", "longer than 100"),
            ("MISSING_EMAIL", "email column"),
            ("MISSING_PHONE", "VOICE device needs a phone"),
            ("INVALID_EXTENSION", "up to 16 digits"),
        ];
        assert_eq!(results.len(), expected.len());
        for (result, (code, says)) in results.iter().zip(expected) {
            let error = result.as_ref().unwrap_err();
            assert_eq!(error.code.as_str(), code);
            assert!(error.message.contains(says), "{code}: {}", error.message);
        }
    }

    #[test]
    fn policy_comes_from_row_or_config() {
        let csv = "username,type,email,policy_id\nj,EMAIL,j@example.com,\n";
        let missing = validate_all(csv, Rules::default());
        assert_eq!(code(&missing[0]), Some("MISSING_POLICY"));
        let from_config = validate_all(csv, rules());
        assert_eq!(
            from_config[0].as_ref().unwrap().policy_id.to_string(),
            POLICY
        );
    }

    #[test]
    fn user_id_wins_over_username() {
        let csv = "user_id,username,type,email\n\
            6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f,jdoe,EMAIL,j@example.com\n";
        let spec = validate_all(csv, rules()).remove(0).unwrap();
        assert!(matches!(spec.user, UserRef::Id(_)));
        assert_eq!(spec.username, "jdoe");
    }
}

#[cfg(test)]
mod repeat_key_tests {
    use super::*;
    use crate::input::InputReader;

    /// Each row's cheap key, as the survey of an offline dry run computes it.
    fn keys(csv: &str, rules: Rules) -> Vec<Option<u64>> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), csv).unwrap();
        let mut reader = InputReader::open(file.path(), b',').unwrap();
        let (checker, _) = split(reader.header().clone(), rules);
        let mut out = vec![];
        while let Some(record) = reader.next_record().unwrap() {
            out.push(checker.repeat_key(&record));
        }
        out
    }

    /// Rows that would be duplicates once phones are normalised must share the cheap key,
    /// or the survey would not mark them and the duplicate would go unseen.
    #[test]
    fn every_spelling_of_one_number_and_email_shares_the_key() {
        let rules = Rules {
            default_policy: uuid::Uuid::parse_str(super::tests::POLICY).ok(),
            ..Rules::default()
        };
        let mut csv = String::from("username,type,phone,email\n");
        for spelling in phone::DOCUMENTED_SPELLINGS {
            csv.push_str(&format!("Jdoe,SMS,\"{spelling}\",\n"));
        }
        csv.push_str("jdoe,EMAIL,,J.Doe@Example.com\njDoe,EMAIL,,j.doe@example.COM\n");
        csv.push_str("jdoe,SMS,+15125551235,\nother,SMS,+15125551234,\n");
        let keys = keys(&csv, rules.clone());
        let spellings = phone::DOCUMENTED_SPELLINGS.len();
        assert!(
            keys[..spellings]
                .iter()
                .all(|k| k.is_some() && *k == keys[0]),
            "{keys:?}"
        );
        assert_eq!(
            keys[spellings],
            keys[spellings + 1],
            "emails compare case-folded"
        );
        assert_ne!(keys[spellings + 2], keys[0], "another number");
        assert_ne!(keys[spellings + 3], keys[0], "another user");

        // A national spelling with default_country and the international one.
        let gb = Rules {
            default_country: "GB".parse().ok(),
            ..rules
        };
        let keys = keys_for_gb(gb);
        assert_eq!(keys[0], keys[1]);
    }

    fn keys_for_gb(rules: Rules) -> Vec<Option<u64>> {
        keys(
            "user_id,type,phone\n6f7a2b1e-0000-4000-8000-00000000002a,SMS,020 7946 0018\n6f7a2b1e-0000-4000-8000-00000000002a,SMS,+44 20 7946 0018\n",
            rules,
        )
    }
}
