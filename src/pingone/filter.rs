//! The SCIM filters the client sends: usernames joined with `or` into one look-up, each
//! escaped as a string literal (names are data, never filter syntax), and the failpoint
//! that makes one name's look-up fail.

use super::ApiError;
use crate::failpoints::fail_for;

/// Escapes a value for a SCIM filter string literal.
fn filter_literal(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `username eq "a" or username eq "b"`: names are data, escaped as SCIM string literals.
pub(super) fn users_filter(usernames: &[String]) -> String {
    let expressions: Vec<String> = usernames
        .iter()
        .map(|name| format!("username eq \"{}\"", filter_literal(name)))
        .collect();
    expressions.join(" or ")
}

/// The bytes one name adds to a look-up's URL: its expression and the ` or ` before it,
/// URL-encoded as the query is sent.
pub(crate) fn filter_bytes(name: &str) -> usize {
    let expression = format!(" or username eq \"{}\"", filter_literal(name));
    url::form_urlencoded::byte_serialize(expression.as_bytes())
        .map(str::len)
        .sum()
}

/// The failpoint `username-lookup` (`return(NAME)`): NAME's look-up gets no answer. Asked
/// with other names, the look-up is refused as too long instead, so that the split leaves
/// the failure to NAME's row alone, as when each name was looked up by itself.
#[cfg_attr(not(feature = "failpoints"), allow(unused_variables))]
pub(super) fn lookup_failpoint(usernames: &[String]) -> Result<(), ApiError> {
    if let [name] = usernames {
        fail_for!("username-lookup", name, ApiError::Transport);
    }
    #[cfg(feature = "failpoints")]
    if usernames.len() > 1
        && usernames
            .iter()
            .any(|name| crate::failpoints::chosen("username-lookup", name))
    {
        return Err(ApiError::from_status(414, None, None));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_joined_with_or() {
        let names = ["a\"b".to_string(), "c\\d".to_string()];
        assert_eq!(
            users_filter(&names),
            r#"username eq "a\"b" or username eq "c\\d""#
        );
        // `+or+username+eq+%22` and `%22` around the name; `é` is six bytes encoded.
        assert_eq!(filter_bytes("ab"), 19 + 2 + 3);
        assert_eq!(filter_bytes("é"), 19 + 6 + 3);
    }
}
