//! Integers as the original service's pydantic 2 (lax mode) took them, because its clients rely
//! on it: a form's number input sends `"year": "2015"`. An integer field accepts a JSON integer,
//! a string holding one (surrounding whitespace, a sign, `_` between digits and a `.0` fraction
//! allowed), a float with no fractional part, and `true`/`false` as 1/0; anything else is refused
//! with pydantic's own message, which [`pydantic_error`] turns into its `type`.
//!
//! Strings stay strict, as pydantic kept them: a number sent for `name` is a `string_type` error.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

pub const INT_TYPE: &str = "Input should be a valid integer";
pub const INT_PARSING: &str =
    "Input should be a valid integer, unable to parse string as an integer";
pub const INT_FROM_FLOAT: &str =
    "Input should be a valid integer, got a number with a fractional part";
pub const INT_TOO_BIG: &str = "Unable to parse input string as an integer, exceeded maximum size";
pub const FINITE_NUMBER: &str = "Input should be a finite number";

/// Pydantic's `type` and message for a deserialisation error's message: ours above pass through,
/// serde's own (`invalid type: integer `5`, expected a string`) are reworded as pydantic words
/// them. `None` for a message of neither kind.
pub fn pydantic_error(msg: &str) -> Option<(&'static str, &'static str)> {
    let known = [
        (INT_TYPE, "int_type"),
        (INT_PARSING, "int_parsing"),
        (INT_FROM_FLOAT, "int_from_float"),
        (INT_TOO_BIG, "int_parsing_size"),
        (FINITE_NUMBER, "finite_number"),
    ];
    if let Some((text, kind)) = known.into_iter().find(|(text, _)| *text == msg) {
        return Some((kind, text));
    }
    let expected = msg.strip_prefix("invalid type: ")?.split_once(", expected ")?.1;
    Some(match expected {
        "a string" => ("string_type", "Input should be a valid string"),
        "an integer" | "i64" | "i32" | "u64" | "u32" => ("int_type", INT_TYPE),
        "a boolean" => ("bool_type", "Input should be a valid boolean"),
        "a sequence" => ("list_type", "Input should be a valid list"),
        _ => (
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        ),
    })
}

/// An integer taken the lax way; for path parameters (`ApiPath<Int>`) and whole values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor).map(Int)
    }
}

/// For an optional integer field: `#[serde(default, deserialize_with = "lax::opt_int")]`.
/// `null` is left out, as pydantic takes it for an `Optional[int]`.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(OptIntVisitor)
}

/// For a required integer field: `#[serde(deserialize_with = "lax::int")]`.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(IntVisitor)
}

struct OptIntVisitor;

impl<'de> Visitor<'de> for OptIntVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        int(d).map(Some)
    }
}

struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<i64, E> {
        Ok(i64::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(INT_TOO_BIG))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if !v.is_finite() {
            return Err(E::custom(FINITE_NUMBER));
        }
        if v.fract() != 0.0 {
            return Err(E::custom(INT_FROM_FLOAT));
        }
        // Every whole f64 in [-2^63, 2^63) converts exactly.
        if v < -(2f64.powi(63)) || v >= 2f64.powi(63) {
            return Err(E::custom(INT_TOO_BIG));
        }
        Ok(v as i64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        parse_int_text(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
        Err(E::custom(INT_TYPE))
    }
}

/// Text as pydantic parses it into an integer: trimmed (Unicode white space), an optional sign,
/// ASCII digits with single `_` between them, and optionally `.` and zeros.
fn parse_int_text<E: de::Error>(raw: &str) -> Result<i64, E> {
    let text = raw.trim();
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let whole = match unsigned.split_once('.') {
        Some((whole, zeros)) if !zeros.is_empty() && zeros.bytes().all(|b| b == b'0') => whole,
        Some(_) => return Err(E::custom(INT_PARSING)),
        None => unsigned,
    };
    let well_formed = !whole.is_empty()
        && whole
            .split('_')
            .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(E::custom(INT_PARSING));
    }
    let digits: String = whole.chars().filter(|c| *c != '_').collect();
    let magnitude: i128 = digits.parse().map_err(|_| E::custom(INT_TOO_BIG))?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| E::custom(INT_TOO_BIG))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "opt_int")]
        year: Option<i64>,
    }

    fn year(raw: serde_json::Value) -> Result<Option<i64>, String> {
        serde_json::from_value::<Body>(json!({ "year": raw }))
            .map(|b| b.year)
            .map_err(|e| e.to_string())
    }

    // Each case checked against pydantic 2.14 `int` in lax mode from JSON.
    #[test]
    fn what_pydantic_accepts_is_accepted() {
        let cases = [
            (json!(2015), 2015),
            (json!("2015"), 2015),
            (json!(" 2015 "), 2015),
            (json!("\t7\n"), 7),
            (json!("\u{a0}12\u{3000}"), 12),
            (json!("2015.0"), 2015),
            (json!("2015.00"), 2015),
            (json!("-2015.0"), -2015),
            (json!(" +1_0.0 "), 10),
            (json!("1_000"), 1000),
            (json!("00012"), 12),
            (json!("-0"), 0),
            (json!(2015.0), 2015),
            (json!(1e3), 1000),
            (json!(true), 1),
            (json!(false), 0),
        ];
        for (raw, expected) in cases {
            assert_eq!(year(raw.clone()), Ok(Some(expected)), "{raw}");
        }
        assert_eq!(year(json!(null)), Ok(None));
    }

    #[test]
    fn what_pydantic_refuses_is_refused_with_its_words() {
        let cases = [
            (json!("abc"), "int_parsing"),
            (json!(""), "int_parsing"),
            (json!("2015.5"), "int_parsing"),
            (json!("2015."), "int_parsing"),
            (json!(".0"), "int_parsing"),
            (json!("1e3"), "int_parsing"),
            (json!("0x10"), "int_parsing"),
            (json!("1__0"), "int_parsing"),
            (json!("_1"), "int_parsing"),
            (json!("1 000"), "int_parsing"),
            (json!("+ 5"), "int_parsing"),
            (json!("-"), "int_parsing"),
            (json!("\u{200b}1"), "int_parsing"),
            (json!("\u{663}"), "int_parsing"),
            (json!(2015.5), "int_from_float"),
            (json!([1]), "int_type"),
            (json!({}), "int_type"),
            (json!("99999999999999999999"), "int_parsing_size"),
            (json!(1e19), "int_parsing_size"),
        ];
        for (raw, kind) in cases {
            let message = year(raw.clone()).unwrap_err();
            // serde_json appends where the error was; the extractor strips it.
            let message = message.split(" at line ").next().unwrap_or_default();
            assert_eq!(pydantic_error(message).map(|(k, _)| k), Some(kind), "{raw}: {message}");
        }
    }

    #[test]
    fn serde_type_errors_read_as_pydantic_words_them() {
        assert_eq!(
            pydantic_error("invalid type: integer `5`, expected a string"),
            Some(("string_type", "Input should be a valid string"))
        );
        assert_eq!(
            pydantic_error("invalid type: map, expected a sequence").unwrap().0,
            "list_type"
        );
        assert_eq!(pydantic_error("something else"), None);
    }
}
