//! What to do about each error code, in the words docs/codes.md's tables use: this is the one
//! place those sentences are written, and a test checks that the guide's row for each code
//! says the same. The match is exhaustive, so a new code is not forgotten here either.

use crate::codes::Code;

/// What an administrator does about rows with `code`, in docs/codes.md's words (`backticks`
/// mark names to type).
pub(crate) fn advice(code: &Code) -> &'static str {
    match code {
        Code::MalformedRow => "Look for a stray delimiter or an unclosed quote in the row, fix it in errors.csv and feed that back.",
        Code::StrayLineBreak => "Remove the stray line break from the field in errors.csv (it is quoted there, in one piece), then feed errors.csv back.",
        Code::InvalidEncoding => "Save the file as UTF-8 and feed errors.csv back.",
        Code::MissingUser | Code::InvalidUserId | Code::InvalidUsername => {
            "Give each row a PingOne user ID (a UUID) or a username, then feed errors.csv back."
        }
        Code::MissingType | Code::InvalidType => {
            "Set `type` to SMS, VOICE, EMAIL or WHATSAPP, then feed errors.csv back."
        }
        Code::MissingPhone | Code::InvalidPhone => "Write the number with its country code (`+15125551234`), or set `[enroll] default_country` for national numbers, then feed errors.csv back.",
        Code::MissingEmail | Code::InvalidEmail => {
            "Correct the email address, then feed errors.csv back."
        }
        Code::ExtensionNotAllowed | Code::InvalidExtension => {
            "Keep extensions for VOICE rows only, or correct them, then feed errors.csv back."
        }
        Code::InvalidStatus => {
            "Set `status` to ACTIVE or ACTIVATION_REQUIRED, or leave it empty, then feed errors.csv back."
        }
        Code::NotificationNotAllowed | Code::InvalidNotification => "Use the notification columns only with ACTIVATION_REQUIRED, or clear them, then feed errors.csv back.",
        Code::MissingPolicy | Code::InvalidPolicyId => "Set `[enroll] policy_id`, or the row's `policy_id`, to the policy's UUID, then feed errors.csv back.",
        Code::InvalidNickname => "Shorten the nickname to 100 characters without control characters, then feed errors.csv back.",
        Code::DuplicateRow => {
            "Nothing, if the earlier row is right (it went ahead): drop this row from errors.csv."
        }
        Code::UserNotFound | Code::AmbiguousUser => "Check the user against PingOne (give the `user_id` where a username is shared), then feed errors.csv back.",
        Code::PolicyNotFound | Code::DeviceLimit => "Before the real run: correct the policy ID, or make room under `pairing.maxAllowedDevices`.",
        Code::MethodDisabled | Code::ExtensionsDisabled => "Before the real run: enable the method (or its pairing) in the row's policy, or switch phone extensions on in the MFA settings, or change the rows.",
        Code::MfaNotEnabled => "Read PingOne's reason, then run again with `--resume` (or feed errors.csv back with `--enable-mfa`): no second device is made.",
        Code::RemovalsOwed => "Read the reason, then run again with `--resume` (or feed errors.csv back with the same `--on-existing replace`): the row's device is found, not made again, and the stale devices are deleted.",
        Code::DeleteCapReached => "Check the planned deletions (an online dry run lists them), then run again with `--resume` and a higher `--max-deletes`.",
        Code::RetriesExhausted => {
            "Nothing was created: feed errors.csv back once PingOne or the network is well again."
        }
        Code::Unconfirmed => "Run again with `--resume` (or feed errors.csv back): the user's devices are read before anything is sent.",
        Code::NotAttempted => "Run the same command again with `--resume` to send these rows.",
        Code::ConnectionFailed => {
            "Check the server's certificate (or `[pingone] ca_file`), then run again with `--resume`."
        }
        Code::AnswerTooLarge => "Check `api_url` and any proxy on the way (PingOne's answers are far smaller), then run again with `--resume`.",
        Code::BadNextLink => "Check `api_url` and any proxy that rewrites PingOne's links, then run again with `--resume`.",
        Code::InternalError => {
            "Report it with the row's `error_message`; the row is safe to run again with `--resume`."
        }
        Code::PingOne(_) => PINGONE_CODE_ADVICE,
    }
}

/// For any code PingOne sent (`INVALID_VALUE`, `HTTP_502`, …).
pub(crate) const PINGONE_CODE_ADVICE: &str = "Read PingOne's reason in `error_message`, fix the row or the tenant setting it names, then feed errors.csv back.";

/// The advice in pieces, each marked as a name to type (it was in backticks) or plain text.
pub(crate) fn pieces(text: &str) -> Vec<(bool, String)> {
    text.split('`')
        .enumerate()
        .filter(|(_, piece)| !piece.is_empty())
        .map(|(index, piece)| (index % 2 == 1, piece.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/codes.md's table row whose first cell names `code`.
    fn guide_row(guide: &str, code: &str) -> Option<String> {
        let name = format!("`{code}`");
        guide
            .lines()
            .find(|line| {
                let mut cells = line.trim_start().split('|');
                cells.next() == Some("") && cells.next().is_some_and(|c| c.contains(&name))
            })
            .map(str::to_string)
    }

    #[test]
    fn the_codes_guide_says_what_to_do_about_each_code_in_these_words() {
        let guide = include_str!("../../../docs/codes.md");
        for code in Code::own() {
            let row = guide_row(guide, code.as_str())
                .unwrap_or_else(|| panic!("docs/codes.md's tables have no row for {code}"));
            assert!(
                row.contains(advice(&code)),
                "docs/codes.md's row for {code} does not say {:?}:\n{row}",
                advice(&code)
            );
        }
        assert!(
            guide.contains(PINGONE_CODE_ADVICE),
            "docs/codes.md says what to do about PingOne's own codes"
        );
    }

    #[test]
    fn names_to_type_are_marked() {
        assert_eq!(
            pieces("Run with `--resume` now."),
            vec![
                (false, "Run with ".to_string()),
                (true, "--resume".to_string()),
                (false, " now.".to_string())
            ]
        );
    }
}
