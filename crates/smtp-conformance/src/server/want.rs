//! Which replies satisfy a step of a case: the vocabulary shared by the
//! case context ([`ctx`](super::ctx)) and the scripts
//! ([`script`](super::script)), kept apart so neither imports the other.

use std::fmt;

use smtp_wire::Reply;

/// Which replies satisfy a step.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// Exactly one of these codes.
    Codes(&'static [u16]),
    /// Any code of this class (2, 3, 4 or 5).
    Class(u16),
    /// Anything but these codes.
    Not(&'static [u16]),
    /// Any code but one of this class.
    NotClass(u16),
}

impl Want {
    pub(crate) fn accepts(&self, reply: &Reply) -> bool {
        match self {
            Want::Codes(codes) => codes.contains(&reply.code),
            Want::Class(class) => reply.code / 100 == *class,
            Want::Not(codes) => !codes.contains(&reply.code),
            Want::NotClass(class) => reply.code / 100 != *class,
        }
    }
}

fn list(codes: &[u16]) -> String {
    let words: Vec<String> = codes.iter().map(u16::to_string).collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Want::Codes(codes) => write!(f, "expected {}", list(codes)),
            Want::Class(class) => write!(f, "expected a {class}yz reply"),
            Want::Not(codes) => write!(f, "expected anything but {}", list(codes)),
            Want::NotClass(class) => write!(f, "expected anything but a {class}yz reply"),
        }
    }
}
