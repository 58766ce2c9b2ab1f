//! Phone numbers -> E.164, with libphonenumber's metadata (the `rlibphonenumber` crate, a
//! port of Google's libphonenumber kept to its behaviour).
//!
//! The input is first reduced to an optional leading `+` and digits: libphonenumber reads
//! `+1512.555.1234` as country code 1512 and refuses `1-512-555-1234` without a region, while
//! PingOne documents all these spellings as one number.
//!
//! `rlibphonenumber` rather than `phonenumber`: `phonenumber` hashes every regular
//! expression's source text under one process-wide lock on every use, which made it about
//! 7 µs a number on one thread and no faster on two; `rlibphonenumber` takes about 1 µs, and
//! threads do not wait on each other (issue 16 has the measurements).

use rlibphonenumber::{PhoneNumberFormat, PHONE_NUMBER_UTIL};

/// A country, as `[enroll] default_country` names it (`US`, `GB`, ...).
pub(crate) type Country = rlibphonenumber::Region;

/// The country's calling code (1 for US); `None` for two letters that name no region
/// libphonenumber knows.
pub(crate) fn calling_code(country: Country) -> Option<i32> {
    PHONE_NUMBER_UTIL.get_country_code_for_region(country)
}

/// Longest input we hand to the parser; real numbers with punctuation are far shorter.
const MAX_INPUT_CHARS: usize = 64;
/// E.164 allows at most 15 digits, country code included.
const MAX_E164_DIGITS: usize = 15;

/// The fix for a national number read as international.
const NATIONAL_HINT: &str =
    "set its country with --default-country or [enroll] default_country (e.g. US)";

/// Why a number was refused, as a sentence for the person fixing the file.
pub(crate) type PhoneProblem = String;

/// Normalises `text` to E.164 (`+15125551234`). A number without `+` is read as country code
/// first, unless `default_country` is set, in which case it is a national number of it.
pub fn normalize(text: &str, default_country: Option<Country>) -> Result<String, PhoneProblem> {
    let text = text.trim();
    if text.chars().count() > MAX_INPUT_CHARS {
        return Err(format!(
            "is {} characters long; write one phone number with its country code",
            text.chars().count()
        ));
    }
    let has_plus = text.starts_with('+');
    // "+" and the digits, in one buffer: the parser gets `candidate` or `candidate[1..]`.
    let mut candidate = String::with_capacity(text.len() + 1);
    candidate.push('+');
    for (i, c) in text.chars().enumerate() {
        match c {
            '0'..='9' => candidate.push(c),
            '+' if i == 0 => {}
            ' ' | '.' | '-' | '(' | ')' | '/' => {}
            c if c.is_alphabetic() => return Err(
                "contains letters; write digits only, and put an extension in the extension column"
                    .into(),
            ),
            c => {
                return Err(format!(
                    "contains {c:?}; write digits with + . - ( ) or spaces"
                ))
            }
        }
    }
    let digits = candidate.len() - 1;
    if digits == 0 {
        return Err("has no digits".into());
    }
    if digits > MAX_E164_DIGITS {
        return Err(format!(
            "has {digits} digits; E.164 allows at most {MAX_E164_DIGITS} including the country code"
        ));
    }
    let (region, candidate) = match (has_plus, default_country) {
        (false, Some(country)) => (Some(country), &candidate[1..]),
        _ => (None, candidate.as_str()),
    };
    // The parser is third-party code fed with user input: a panic there must not end the run.
    let read = std::panic::catch_unwind(|| {
        let number = PHONE_NUMBER_UTIL.parse(candidate, region).ok()?;
        let is_valid = PHONE_NUMBER_UTIL.is_valid_number(&number);
        let e164 = PHONE_NUMBER_UTIL
            .format(&number, PhoneNumberFormat::E164)
            .into_owned();
        let country = PHONE_NUMBER_UTIL.get_region_for_number(&number);
        Some((number.country_code, is_valid, e164, country))
    })
    .map_err(|_| "could not be read as a phone number".to_string())?;
    let (code, is_valid, e164, country) = read.ok_or_else(|| match region {
        Some(country) => format!("is not a phone number of {country} or an international number"),
        None => format!("is not an international number; start it with the country code (e.g. +1 512 555 1234), or {NATIONAL_HINT}"),
    })?;
    if !is_valid {
        let country = country.map(|id| format!(" ({id})")).unwrap_or_default();
        if !has_plus && region.is_none() {
            // `5125550105` is read as Peru (+51): the likeliest cause is a national number.
            return Err(format!(
                "has no +, so it was read as country code +{code}{country}, where it is not a valid number; if it is a national number, {NATIONAL_HINT}"
            ));
        }
        return Err(format!(
            "is not a valid number for country code +{code}{country}; check the digits"
        ));
    }
    Ok(e164)
}

/// A lenient normalisation for comparing numbers read back from PingOne, which may come
/// spelled `+1.5125551234`: keep the `+` and the digits.
pub(crate) fn comparison_form(text: &str) -> String {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

/// Every spelling of +15125551234 that PingOne documents, and one padded with spaces.
#[cfg(test)]
pub(crate) const DOCUMENTED_SPELLINGS: [&str; 7] = [
    "+1.5125551234",
    "+15125551234",
    "+1.512.555.1234",
    "+1 (512) 555-1234",
    "15125551234",
    "1-512-555-1234",
    "  +1 512 555 1234 ",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_documented_spelling_is_one_number() {
        for spelling in DOCUMENTED_SPELLINGS {
            assert_eq!(
                normalize(spelling, None).as_deref(),
                Ok("+15125551234"),
                "{spelling}"
            );
        }
    }

    #[test]
    fn default_country_reads_national_numbers() {
        let gb: Country = "GB".parse().unwrap();
        assert_eq!(
            normalize("020 7946 0018", Some(gb)).as_deref(),
            Ok("+442079460018")
        );
        // A leading + still means an international number.
        assert_eq!(
            normalize("+1 512 555 1234", Some(gb)).as_deref(),
            Ok("+15125551234")
        );
        let us: Country = "US".parse().unwrap();
        assert_eq!(
            normalize("(512) 555-1234", Some(us)).as_deref(),
            Ok("+15125551234")
        );
    }

    #[test]
    fn invalid_numbers_say_why() {
        let cases = [
            ("+1 555 0100", "is not a valid number for country code +1"),
            (
                "+44 20 1234",
                "is not a valid number for country code +44; check the digits",
            ),
            (
                "+1234567890123456",
                "has 16 digits; E.164 allows at most 15",
            ),
            (
                "+1 512 555 1234 ext 9",
                "contains letters; write digits only, and put an extension in the extension column",
            ),
            ("+1 512 555 1234 #9", "contains '#'"),
            ("", "has no digits"),
            (
                "5125551234",
                "has no +, so it was read as country code +51 (PE), where it is not a valid \
                 number; if it is a national number, set its country with --default-country",
            ),
        ];
        for (text, says) in cases {
            let problem = normalize(text, None).unwrap_err();
            assert!(problem.starts_with(says), "{text:?}: {problem}");
        }
        let long = "1".repeat(65);
        assert!(normalize(&long, None)
            .unwrap_err()
            .contains("65 characters long"));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = normalize(&text, None);
            let _ = normalize(&text, Some(Country::US));
        }

        #[test]
        fn never_panics_on_number_like_text(text in "[+]?[0-9 .()-]{0,30}") {
            if let Ok(e164) = normalize(&text, None) {
                prop_assert!(e164.starts_with('+'));
                prop_assert!(e164.len() <= 16);
            }
        }
    }
}
