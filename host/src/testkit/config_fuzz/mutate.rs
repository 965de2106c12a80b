//! The config fuzzer's inputs: a seeded generator and TOML-aware mutations of valid (and
//! deliberately invalid) config files. Byte-level fuzzing of TOML mostly produces syntax errors
//! and never gets past the parser; these mutations keep the document well-formed often enough to
//! reach the schema, the section checks and the resolver (a known key given an extreme or
//! wrongly typed value, a table duplicated, a seat's line renamed), and still break it on purpose
//! (truncation at the places a parser cares about, nesting beyond the parser's limit, bytes that
//! are not UTF-8).
//!
//! The generator is a local xorshift rather than `rand`, as in the protocol's fuzz driver: a
//! seed printed in a report must replay the same inputs after a dependency upgrade.

/// xorshift64: small, fast and stable across dependency upgrades (see the module docs).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value: a zero seed is nudged, xorshift would stay at 0).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Largest input the mutations build: big enough for long strings and deep nesting several
/// times over, small enough that one input stays a fraction of a second.
pub const MAX_INPUT: usize = 1 << 20;

/// One kind of mutation, counted in the report so that a run shows what it exercised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutation {
    /// A line removed.
    DeleteLine,
    /// A line repeated right after itself (a duplicated key, or a duplicated table header).
    DuplicateLine,
    /// Two lines exchanged (a key moved into another table).
    SwapLines,
    /// A commented-out line brought back (the example's `[hemicycle]` block).
    UncommentLine,
    /// The value of a `key = value` line replaced by an extreme, a wrong type or an odd string.
    ReplaceValue,
    /// The key of a `key = value` line replaced by another known key, a typo or an odd key.
    ReplaceKey,
    /// A `key = value` line inserted anywhere.
    InsertEntry,
    /// A table header inserted anywhere (known, unknown, array or not).
    InsertHeader,
    /// A whole table (header and entries) copied elsewhere: duplicated tables and keys.
    DuplicateTable,
    /// Lines of another seed spliced in.
    Splice,
    /// A value, key or header nested far deeper than any config needs.
    DeepNesting,
    /// A value replaced by a very long string.
    LongString,
    /// The text cut at a position a parser cares about (see `truncate`).
    Truncate,
    /// One bit flipped.
    FlipBit,
    /// Random bytes inserted (often not UTF-8).
    InsertBytes,
    /// A byte TOML gives meaning to, or a control character, inserted.
    InsertSpecial,
    /// A whole document generated from the vocabulary instead of mutating a seed.
    Generate,
}

impl Mutation {
    /// Every mutation, in the order the report lists them.
    pub const ALL: [Mutation; 17] = [
        Mutation::DeleteLine,
        Mutation::DuplicateLine,
        Mutation::SwapLines,
        Mutation::UncommentLine,
        Mutation::ReplaceValue,
        Mutation::ReplaceKey,
        Mutation::InsertEntry,
        Mutation::InsertHeader,
        Mutation::DuplicateTable,
        Mutation::Splice,
        Mutation::DeepNesting,
        Mutation::LongString,
        Mutation::Truncate,
        Mutation::FlipBit,
        Mutation::InsertBytes,
        Mutation::InsertSpecial,
        Mutation::Generate,
    ];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::DeleteLine => "delete line",
            Self::DuplicateLine => "duplicate line",
            Self::SwapLines => "swap lines",
            Self::UncommentLine => "uncomment line",
            Self::ReplaceValue => "replace value",
            Self::ReplaceKey => "replace key",
            Self::InsertEntry => "insert entry",
            Self::InsertHeader => "insert header",
            Self::DuplicateTable => "duplicate table",
            Self::Splice => "splice seeds",
            Self::DeepNesting => "deep nesting",
            Self::LongString => "long string",
            Self::Truncate => "truncate",
            Self::FlipBit => "flip bit",
            Self::InsertBytes => "insert bytes",
            Self::InsertSpecial => "insert special",
            Self::Generate => "generate",
        }
    }

    /// Its index in [`Mutation::ALL`], for counting.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|m| *m == self).unwrap_or(0)
    }
}

/// Every key the schema knows (all sections), plus typos and keys TOML allows but no section has.
const KEYS: &[&str] = &[
    "data_dir",
    "http_bind",
    "api_token",
    "api_token_env",
    "log_format",
    "path",
    "raw_retention",
    "rollup_retention",
    "flush_interval",
    "warn_c",
    "critical_c",
    "horizon",
    "telemetry_period_ms",
    "name",
    "baud",
    "jitter_us",
    "id",
    "label",
    "sector",
    "row",
    "position",
    "line",
    "key",
    "key_file",
    "board",
    "sectors",
    "row_seats",
    "first_id",
    "lines",
    "keys",
    "key_dir",
    "kind",
    "url",
    "command",
    "args",
    "timeout",
    "env",
    "temprature",
    "ID",
    "\"quoted key\"",
    "'literal key'",
    "\"\"",
    "a.b",
    "seat.id",
    "daemon",
    "é",
    "\"\\u0000\"",
    "\"🪑\"",
];

/// Table headers: every section, known and unknown board kinds, and the wrong form of each.
const HEADERS: &[&str] = &[
    "[daemon]",
    "[storage]",
    "[thresholds]",
    "[board]",
    "[board.blackpill_f411]",
    "[board.qemu_lm3s6965]",
    "[board.simulated]",
    "[board.esp32]",
    "[board.simulated.extra]",
    "[hemicycle]",
    "[hemicycle.lines]",
    "[[line]]",
    "[[seat]]",
    "[[sink]]",
    "[[daemon]]",
    "[[hemicycle]]",
    "[[board]]",
    "[seat]",
    "[line]",
    "[sink]",
    "[line.x]",
    "[thresholds.extra]",
    "[unknown]",
    "[\"\"]",
    "[\"quoted\".x]",
    "[]",
    "[[]]",
];

/// Values: extreme and boundary numbers, the odd floats, strings each check has an opinion on,
/// wrong types, dates, and a few that are not TOML at all.
const VALUES: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "0.0",
    "-0.0",
    "0.5",
    "100",
    "99",
    "60000",
    "60001",
    "1023",
    "1024",
    "577",
    "65535",
    "65536",
    "-65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "99999999999999999999999999",
    "0x7fffffffffffffff",
    "0xffffffffffffffff",
    "0o777",
    "0b1",
    "1_000",
    "1e308",
    "-1e308",
    "1e309",
    "5e-324",
    "1.7976931348623157e308",
    "nan",
    "+nan",
    "-nan",
    "inf",
    "+inf",
    "-inf",
    "150",
    "150.0001",
    "-55",
    "-55.0001",
    "125",
    "true",
    "false",
    "[]",
    "[1, \"a\"]",
    "[[]]",
    "[{}]",
    "{}",
    "{ a = 1 }",
    "{ A = \"left\", A = \"left\" }",
    "[\"A\", \"A\"]",
    "[\"\"]",
    "[\" \"]",
    "[0]",
    "[65535, 65535, 65535]",
    "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
    "1979-05-27T07:32:00Z",
    "1979-05-27",
    "07:32:00",
    "1979-05-27T07:32:00.999999-07:00",
    "\"\"",
    "\" \"",
    "\"\\u0000\"",
    "\"\\u001b[2J\"",
    "\"\\t\"",
    "\"\\r\\n\"",
    "\"é\"",
    "\"\\u202e\"",
    "\"\u{200b}\"",
    "\"🪑\"",
    "'literal'",
    "'''multi\nline'''",
    "\"\"\"multi\nline\"\"\"",
    "\"unix:\"",
    "\"unix: \"",
    "\"tcp:\"",
    "\"tcp::\"",
    "\"tcp:host:0\"",
    "\"tcp:host:65536\"",
    "\"tcp:[::1]:4001\"",
    "\"/dev/ttyUSB0\"",
    "\"/dev/\\u0000\"",
    "\"0s\"",
    "\"0ms\"",
    "\"1ns\"",
    "\"999ms\"",
    "\"1h 1ns\"",
    "\"3601s\"",
    "\"18446744073709551615s\"",
    "\"18446744073709551616s\"",
    "\"99999999999999999999d\"",
    "\"584942417355y\"",
    "\"-1s\"",
    "\"5 m\"",
    "\"5\"",
    "\"s\"",
    "\"http://\"",
    "\"http://[::1\"",
    "\"http://127.0.0.1:9093\"",
    "\"https://ops.example.org/hook\"",
    "\"ftp://x\"",
    "\"http://a:b@c:99999\"",
    "\"0.0.0.0:0\"",
    "\"[::]:7577\"",
    "\"localhost:7577\"",
    "\"127.0.0.1:65536\"",
    "\"demo\"",
    "\"human\"",
    "\"json\"",
    "\"blackpill_f411\"",
    "\"qemu_lm3s6965\"",
    "\"simulated\"",
    "\"webhook\"",
    "\"exec\"",
    "\"alertmanager\"",
    "\"mqtt\"",
    "\"left\"",
    "\"right\"",
    "\"rig\"",
    "\"A\"",
    "\"00112233445566778899aabbccddeeff\"",
    "\"00000000000000000000000000000000\"",
    "\"0011223344556677889900aabbccddeeff\"",
    "\"zz112233445566778899aabbccddeeff\"",
    "\"éééééééééééééééé\"",
    "\" 00112233445566778899aabbccddeeff \"",
    "\"keys/\"",
    "\"keys/seat-0007.key\"",
    "\"keys\"",
    "\"/\"",
    "\"../../../../etc/passwd\"",
    "\"/dev/zero\"",
    "\"/bin/true\"",
    "\"HEMIWATCH_API_TOKEN\"",
    "\"HEMIWATCH_ALERT_ID\"",
    "\"A=B\"",
    "\"PATH\"",
    "\"correct horse battery staple\"",
    "[\"HEMIWATCH_API_TOKEN\"]",
    "[\"\"]",
    "[\"A=B\"]",
    "=",
    "\"unterminated",
    "",
    "1 2",
    "[1,",
    "{ a = ",
];

/// Bytes TOML gives meaning to, and control characters.
const SPECIAL: &[u8] = b"\0\x07\x08\x0b\x0c\x1b\x7f\xff\xc3\t\r\n\"'\\[]{}=#.,";

/// The lines of `text`, split at `\n` (each without it); the input may be any bytes.
fn lines(text: &[u8]) -> Vec<Vec<u8>> {
    text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

/// `lines` joined back with `\n`.
fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.join(&b'\n')
}

/// Where the value of a `key = value` line starts, if the line is one.
fn value_start(line: &[u8]) -> Option<usize> {
    let first = line.iter().position(|b| !b.is_ascii_whitespace())?;
    if matches!(line[first], b'#' | b'[') {
        return None;
    }
    let eq = line.iter().position(|b| *b == b'=')?;
    let after = line[eq + 1..].iter().position(|b| *b != b' ').unwrap_or(0);
    Some(eq + 1 + after)
}

/// The indices of the `key = value` lines.
fn entry_lines(lines: &[Vec<u8>]) -> Vec<usize> {
    (0..lines.len())
        .filter(|&i| value_start(&lines[i]).is_some())
        .collect()
}

/// A value nested `depth` deep, in one of the shapes TOML has: arrays, inline tables.
fn nested_value(rng: &mut Rng, depth: usize) -> Vec<u8> {
    let mut v = Vec::new();
    if rng.one_in(2) {
        v.extend(std::iter::repeat_n(b'[', depth));
        v.push(b'1');
        v.extend(std::iter::repeat_n(b']', depth));
    } else {
        for _ in 0..depth {
            v.extend_from_slice(b"{ a = ");
        }
        v.push(b'1');
        v.extend(std::iter::repeat_n(b" }".as_slice(), depth).flatten());
    }
    v
}

/// A dotted key or header `depth` parts long: `a.a.a… = 1`, `[a.a.a…]`, `[[a.a.a…]]`.
fn nested_key_line(rng: &mut Rng, depth: usize) -> Vec<u8> {
    let path = vec!["a"; depth.max(1)].join(".");
    match rng.below(3) {
        0 => format!("{path} = 1").into_bytes(),
        1 => format!("[{path}]").into_bytes(),
        _ => format!("[[{path}]]").into_bytes(),
    }
}

/// A string value of `len` repetitions of one character (ASCII, multi-byte, an escape).
fn long_string(rng: &mut Rng, len: usize) -> Vec<u8> {
    let unit = *rng.pick(&["a", "é", "🪑", "\\u0000", "\\\"", " ", "\\n"]);
    let mut v = vec![b'"'];
    v.extend(std::iter::repeat_n(unit.as_bytes(), len).flatten());
    v.push(b'"');
    v
}

/// A `key = value` line from the vocabulary.
fn entry(rng: &mut Rng) -> Vec<u8> {
    format!("{} = {}", rng.pick(KEYS), rng.pick(VALUES)).into_bytes()
}

/// A document from the vocabulary: a few tables of a few entries, anything in any order.
fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(4) {
        out.push(entry(rng));
    }
    for _ in 0..1 + rng.below(10) {
        out.push(rng.pick(HEADERS).as_bytes().to_vec());
        for _ in 0..rng.below(7) {
            out.push(entry(rng));
        }
    }
    join(&out)
}

/// The value of a random entry line of `ls` replaced by `value` (nothing if there is no entry).
fn replace_value(rng: &mut Rng, ls: &mut [Vec<u8>], value: &[u8]) {
    let entries = entry_lines(ls);
    if entries.is_empty() {
        return;
    }
    let i = *rng.pick(&entries);
    if let Some(at) = value_start(&ls[i]) {
        ls[i].truncate(at);
        ls[i].extend_from_slice(value);
    }
}

/// A position in `text` of one of the classes a TOML parser cares about: anywhere, at a line end,
/// just after a quote, an `=` or a `[`, or inside a multi-byte character (which leaves bytes that
/// are not UTF-8).
fn cut_position(rng: &mut Rng, text: &[u8]) -> usize {
    let after = |pred: &dyn Fn(u8) -> bool| -> Vec<usize> {
        text.iter()
            .enumerate()
            .filter(|(_, b)| pred(**b))
            .map(|(i, _)| i + 1)
            .collect()
    };
    let candidates = match rng.below(6) {
        0 => return rng.below(text.len() + 1),
        1 => after(&|b| b == b'\n').into_iter().map(|i| i - 1).collect(),
        2 => after(&|b| b == b'"' || b == b'\''),
        3 => after(&|b| b == b'='),
        4 => after(&|b| b == b'[' || b == b'{'),
        _ => after(&|b| b & 0xC0 == 0x80).into_iter().map(|i| i - 1).collect(),
    };
    if candidates.is_empty() {
        rng.below(text.len() + 1)
    } else {
        *rng.pick(&candidates)
    }
}

/// Applies one `mutation` to `text`; `other` is another seed, for [`Mutation::Splice`].
pub fn apply(rng: &mut Rng, mutation: Mutation, text: &mut Vec<u8>, other: &[u8]) {
    match mutation {
        Mutation::Truncate => {
            let at = cut_position(rng, text);
            text.truncate(at);
        }
        Mutation::FlipBit => {
            if !text.is_empty() {
                let i = rng.below(text.len());
                text[i] ^= 1 << rng.below(8);
            }
        }
        Mutation::InsertBytes => {
            let at = rng.below(text.len() + 1);
            let bytes: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next_u64() as u8).collect();
            text.splice(at..at, bytes);
        }
        Mutation::InsertSpecial => {
            let at = rng.below(text.len() + 1);
            text.insert(at, *rng.pick(SPECIAL));
        }
        Mutation::Generate => *text = generate(rng),
        line_level => {
            let mut ls = lines(text);
            apply_to_lines(rng, line_level, &mut ls, other);
            *text = join(&ls);
        }
    }
}

/// The line-level mutations of [`apply`].
fn apply_to_lines(rng: &mut Rng, mutation: Mutation, ls: &mut Vec<Vec<u8>>, other: &[u8]) {
    let n = ls.len();
    match mutation {
        Mutation::DeleteLine => {
            if n > 1 {
                ls.remove(rng.below(n));
            }
        }
        Mutation::DuplicateLine => {
            let i = rng.below(n);
            let l = ls[i].clone();
            ls.insert(i + 1, l);
        }
        Mutation::SwapLines => {
            let (a, b) = (rng.below(n), rng.below(n));
            ls.swap(a, b);
        }
        Mutation::UncommentLine => {
            let commented: Vec<usize> = (0..n).filter(|&i| ls[i].starts_with(b"#")).collect();
            if !commented.is_empty() {
                let i = *rng.pick(&commented);
                let l = &ls[i];
                let skip = l.iter().position(|b| *b != b'#' && *b != b' ').unwrap_or(l.len());
                ls[i] = l[skip..].to_vec();
            }
        }
        Mutation::ReplaceValue => {
            let v = rng.pick(VALUES).as_bytes().to_vec();
            replace_value(rng, ls, &v);
        }
        Mutation::ReplaceKey => {
            let entries = entry_lines(ls);
            if !entries.is_empty() {
                let i = *rng.pick(&entries);
                if let Some(eq) = ls[i].iter().position(|b| *b == b'=') {
                    let mut l = rng.pick(KEYS).as_bytes().to_vec();
                    l.extend_from_slice(b" ");
                    l.extend_from_slice(&ls[i][eq..]);
                    ls[i] = l;
                }
            }
        }
        Mutation::InsertEntry => {
            let e = entry(rng);
            ls.insert(rng.below(n + 1), e);
        }
        Mutation::InsertHeader => {
            let h = rng.pick(HEADERS).as_bytes().to_vec();
            ls.insert(rng.below(n + 1), h);
        }
        Mutation::DuplicateTable => {
            let headers: Vec<usize> = (0..n).filter(|&i| ls[i].starts_with(b"[")).collect();
            if !headers.is_empty() {
                let start = *rng.pick(&headers);
                let end = (start + 1..n).find(|&i| ls[i].starts_with(b"[")).unwrap_or(n);
                let block: Vec<Vec<u8>> = ls[start..end].to_vec();
                let at = rng.below(n + 1);
                ls.splice(at..at, block);
            }
        }
        Mutation::Splice => {
            let theirs = lines(other);
            let from = rng.below(theirs.len());
            let len = 1 + rng.below(theirs.len() - from);
            let at = rng.below(n + 1);
            ls.splice(at..at, theirs[from..from + len].iter().cloned());
        }
        Mutation::DeepNesting => {
            let depth = *rng.pick(&[8, 40, 79, 80, 81, 128, 1_000, 20_000]);
            if rng.one_in(2) {
                let v = nested_value(rng, depth);
                replace_value(rng, ls, &v);
            } else {
                let l = nested_key_line(rng, depth);
                ls.insert(rng.below(n + 1), l);
            }
        }
        Mutation::LongString => {
            let len = *rng.pick(&[65, 256, 4_096, 65_536]);
            let v = long_string(rng, len);
            replace_value(rng, ls, &v);
        }
        Mutation::Truncate
        | Mutation::FlipBit
        | Mutation::InsertBytes
        | Mutation::InsertSpecial
        | Mutation::Generate => {}
    }
}

/// Which mutation to apply next. Structure-aware ones dominate; the byte-level ones (which mostly
/// stop at the UTF-8 check or the parser) and whole generated documents are rarer.
pub fn choose(rng: &mut Rng) -> Mutation {
    const WEIGHTED: &[(Mutation, usize)] = &[
        (Mutation::DeleteLine, 8),
        (Mutation::DuplicateLine, 6),
        (Mutation::SwapLines, 4),
        (Mutation::UncommentLine, 4),
        (Mutation::ReplaceValue, 24),
        (Mutation::ReplaceKey, 8),
        (Mutation::InsertEntry, 8),
        (Mutation::InsertHeader, 5),
        (Mutation::DuplicateTable, 5),
        (Mutation::Splice, 4),
        (Mutation::DeepNesting, 2),
        (Mutation::LongString, 2),
        (Mutation::Truncate, 4),
        (Mutation::FlipBit, 3),
        (Mutation::InsertBytes, 2),
        (Mutation::InsertSpecial, 3),
        (Mutation::Generate, 2),
    ];
    let total: usize = WEIGHTED.iter().map(|(_, w)| w).sum();
    let mut r = rng.below(total);
    for (m, w) in WEIGHTED {
        if r < *w {
            return *m;
        }
        r -= w;
    }
    Mutation::ReplaceValue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let seed = b"[thresholds]\nwarn_c = 70\ncritical_c = 85\n".to_vec();
        let run = |s| {
            let mut rng = Rng::new(s);
            (0..200)
                .map(|_| {
                    let mut t = seed.clone();
                    let m = choose(&mut rng);
                    apply(&mut rng, m, &mut t, &seed);
                    t
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn a_value_is_replaced_after_its_equals_sign() {
        let mut rng = Rng::new(1);
        let mut ls = lines(b"[daemon]\n# a = 1\nlog_format = \"json\"");
        replace_value(&mut rng, &mut ls, b"nan");
        assert_eq!(join(&ls), b"[daemon]\n# a = 1\nlog_format = nan");
    }
}
