//! [`Text`]: the model's immutable strings.
//!
//! A model holds several strings per rule (option names, words, chain names)
//! and never changes them after parsing. Most are short (`tcp`, `--dport`,
//! `ACCEPT`, `443`), so [`Text`] is a 16-byte small string: up to 15 bytes
//! are stored inline with no allocation, a known name from iptlint's own
//! tables (`Text::from_static`) is borrowed, and only longer text (comments,
//! kube-proxy chain names) is allocated, exactly as long as it is. At 500,000
//! rules the allocations saved are tens of megabytes.

use byteyarn::Yarn;
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Yarn);

impl Text {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Text that lives as long as the program (a name from a table): kept
    /// as a borrow, never copied.
    pub const fn from_static(s: &'static str) -> Text {
        Text(Yarn::from_static(s))
    }

    /// The bytes this text allocated: none when it is kept inline (up to
    /// 15 bytes) or borrowed from a table.
    pub fn heap_bytes(&self) -> usize {
        if self.0.to_ref().is_some() {
            0
        } else {
            self.len()
        }
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Yarn::copy(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Yarn::copy(s.as_str()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text(Yarn::copy(s.as_str()))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0.into_string()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}
