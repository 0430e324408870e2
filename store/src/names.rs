//! Enums stored as their names: one declaration gives the variants' names, `ALL`,
//! `as_str`, `parse` and `Display`, so the names written to the database and the names read
//! back cannot drift apart, and SQL statements name a value through its enum (`{}` with
//! `as_str`) rather than as a string literal of their own.

/// Implements `ALL`, `as_str`, `parse` and `Display` for an enum stored by name.
macro_rules! stored_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// The value of a stored name.
            pub fn parse(name: &str) -> Option<$ty> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

pub(crate) use stored_names;
