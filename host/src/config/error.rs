//! Configuration errors as a technician reads them: `file:line:column: error: sentence`, all of
//! them at once, so that one run of `hemiwatch check-config` shows everything to fix.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// The text of a configuration and where it came from: turns byte offsets (serde_spanned spans)
/// into the `line:column` a technician's editor jumps to. `Debug` omits the text (secrets).
pub(crate) struct Source {
    /// File name as given on the command line, or `<embedded default>`.
    pub(crate) origin: String,
    /// The whole text.
    pub(crate) text: String,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("origin", &self.origin)
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl Source {
    pub(crate) fn new(origin: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(Self {
            origin: origin.into(),
            text,
            line_starts,
        })
    }

    /// 1-based line and column (in characters, as editors count) of a byte offset.
    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line, column + 1)
    }

    /// An error at a span of this source.
    pub(crate) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.locate(span.start);
        ConfigError {
            origin: self.origin.clone(),
            position: Some(Position {
                offset: span.start,
                line,
                column,
            }),
            message: message.into(),
        }
    }

    /// `file:line:column` of a span, to point at a first definition from another error.
    pub(crate) fn at(&self, span: Range<usize>) -> String {
        let (line, column) = self.locate(span.start);
        format!("{}:{line}:{column}", self.origin)
    }
}

/// Where in the file an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the file (to order errors as they appear).
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// One problem in a configuration, with the place to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (as named by the user) or `<embedded default>`.
    pub origin: String,
    /// Where in the file; `None` when the file as a whole is the problem (unreadable).
    pub position: Option<Position>,
    /// One sentence a technician understands.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(
                f,
                "{}:{}:{}: error: {}",
                self.origin, p.line, p.column, self.message
            ),
            None => write!(f, "{}: error: {}", self.origin, self.message),
        }
    }
}

/// Every problem found in a configuration, in file order. Returned instead of the first error so
/// that a technician fixes a file in one pass, not one error per run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The errors, ordered by position.
    pub errors: Vec<ConfigError>,
    /// True when the file could not be read at all (`check-config` exits 1, not 2).
    pub unreadable: bool,
}

impl ConfigErrors {
    /// Errors of a readable file, sorted by position (errors without one come first).
    pub(crate) fn invalid(mut errors: Vec<ConfigError>) -> Self {
        errors.sort_by_key(|e| e.position.map(|p| p.offset));
        errors.dedup();
        Self {
            errors,
            unreadable: false,
        }
    }

    /// The file itself could not be read.
    pub(crate) fn unreadable(origin: &str, why: &std::io::Error) -> Self {
        Self {
            errors: vec![ConfigError {
                origin: origin.into(),
                position: None,
                message: format!("cannot read the configuration file: {why}"),
            }],
            unreadable: true,
        }
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True if there are none (never the case for an `Err`).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns_in_characters() {
        let s = Source::new("f.toml", "a = 1\n# é\nbé = 2\n");
        assert_eq!(s.locate(0), (1, 1));
        assert_eq!(s.locate(4), (1, 5));
        assert_eq!(s.locate(6), (2, 1));
        // "bé = 2": the '=' is after a 2-byte character.
        let eq = s.text.find("= 2").unwrap();
        assert_eq!(s.locate(eq), (3, 4));
        assert_eq!(s.at(eq..eq + 1), "f.toml:3:4");
    }

    #[test]
    fn errors_print_one_per_line_in_file_order() {
        let s = Source::new("f.toml", "a\nb\nc\n");
        let errs = ConfigErrors::invalid(vec![s.error(4..5, "third"), s.error(0..1, "first")]);
        assert_eq!(
            errs.to_string(),
            "f.toml:1:1: error: first\nf.toml:3:1: error: third"
        );
    }
}
