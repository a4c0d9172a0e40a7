//! Semantics as enums, not bools: a macro giving an enum stable names, `FromStr` and `Display`.

/// Declares a fieldless enum whose variants have stable user-facing names.
///
/// ```
/// des::named_enum! {
///     /// How ties are broken.
///     pub enum Tie { FirstSeen = "first-seen", Random = "random" }
/// }
/// assert_eq!("random".parse::<Tie>().unwrap(), Tie::Random);
/// assert_eq!(Tie::FirstSeen.to_string(), "first-seen");
/// ```
#[macro_export]
macro_rules! named_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every variant's name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// The stable name of this variant.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL.iter().copied().find(|v| v.name() == s).ok_or_else(|| {
                    format!("unknown value \"{}\"; expected one of: {}", s, $name::NAMES.join(", "))
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::named_enum! {
        enum Colour { Red = "red", DarkBlue = "dark-blue" }
    }

    #[test]
    fn names_round_trip() {
        for &c in Colour::ALL {
            assert_eq!(c.name().parse::<Colour>().unwrap(), c);
            assert_eq!(c.to_string(), c.name());
        }
        let err = "blue".parse::<Colour>().unwrap_err();
        assert!(err.contains("red, dark-blue"), "{err}");
    }
}
