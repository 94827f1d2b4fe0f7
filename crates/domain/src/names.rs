//! `wire_names!`: gives a field-less enum its wire name (`as_str`, `Display`, `FromStr`) from one
//! table, so the name written to the database and the one parsed back cannot drift apart.

macro_rules! wire_names {
    ($t:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $t {
            /// Every wire name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
        }
        impl ::std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($name => Ok(Self::$variant),)* other => Err(format!("unknown {other:?}")) }
            }
        }
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_names;
