//! Glob patterns over `/`-separated relative paths, as a shell and `.gitignore` read them:
//! `*` and `?` stay within one path segment, `**` crosses segments (`**/` matches zero or
//! more directories), `[abc]`, `[a-z]` and `[!a]` match one character of a class, and `\`
//! takes the next character literally.

use crate::error::{Error, Result};

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
    /// A pattern without `/` is matched against a path's last segment (the file name).
    name_only: bool,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`: one character, not `/`.
    One,
    /// `*`: any run within a segment.
    Star,
    /// `**`: any run, `/` included.
    Any,
    /// `**/`: zero or more whole directories.
    AnyDirs,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Whether `text` holds a glob metacharacter (`*`, `?` or `[`).
pub fn has_magic(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

impl Glob {
    /// Compiles `pattern`; a class left open or a trailing `\` is refused.
    pub fn new(pattern: &str) -> Result<Glob> {
        let bad = |why: &str| Error::Config(format!("glob {pattern:?}: {why}"));
        let mut tokens = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '\\' => {
                    let next = chars.get(i).ok_or_else(|| bad("ends with a lone \\"))?;
                    tokens.push(Token::Char(*next));
                    i += 1;
                }
                '?' => tokens.push(Token::One),
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    while chars.get(i) == Some(&'*') {
                        i += 1;
                    }
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                        tokens.push(Token::AnyDirs);
                    } else {
                        tokens.push(Token::Any);
                    }
                }
                '*' => tokens.push(Token::Star),
                '[' => {
                    let mut negated = false;
                    if matches!(chars.get(i), Some('!' | '^')) {
                        negated = true;
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let c = *chars.get(i).ok_or_else(|| bad("a [class] is not closed"))?;
                        i += 1;
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        let lo = if c == '\\' {
                            let n = *chars.get(i).ok_or_else(|| bad("ends with a lone \\"))?;
                            i += 1;
                            n
                        } else {
                            c
                        };
                        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']')
                        {
                            let hi = chars[i + 1];
                            i += 2;
                            if hi < lo {
                                return Err(bad("a range in a [class] runs backwards"));
                            }
                            ranges.push((lo, hi));
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Char(c)),
            }
        }
        Ok(Glob {
            tokens,
            name_only: !pattern.contains('/'),
            text: pattern.to_owned(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the relative path `path` (segments joined by `/`) matches: the whole path, or
    /// for a pattern without `/` its file name.
    pub fn matches(&self, path: &str) -> bool {
        let subject = if self.name_only {
            path.rsplit('/').next().unwrap_or(path)
        } else {
            path
        };
        let text: Vec<char> = subject.chars().collect();
        matches_at(&self.tokens, &text)
    }
}

/// Whether `tokens` match all of `text`: the set of text positions each token can end at,
/// token by token, so that no pattern backtracks exponentially.
fn matches_at(tokens: &[Token], text: &[char]) -> bool {
    let n = text.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for token in tokens {
        let mut next = vec![false; n + 1];
        for i in (0..=n).filter(|i| reach[*i]) {
            match token {
                Token::Char(_) | Token::One | Token::Class { .. } if i == n => {}
                Token::Char(c) => next[i + 1] |= text[i] == *c,
                Token::One => next[i + 1] |= text[i] != '/',
                Token::Class { negated, ranges } => {
                    let c = text[i];
                    next[i + 1] |= c != '/'
                        && ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated;
                }
                Token::Star => {
                    let end = text[i..]
                        .iter()
                        .position(|c| *c == '/')
                        .map_or(n, |p| i + p);
                    next[i..=end].iter_mut().for_each(|r| *r = true);
                }
                Token::Any => next[i..].iter_mut().for_each(|r| *r = true),
                Token::AnyDirs => {
                    next[i] = true;
                    for (k, c) in text.iter().enumerate().skip(i) {
                        if *c == '/' {
                            next[k + 1] = true;
                        }
                    }
                }
            }
        }
        reach = next;
    }
    reach[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    #[test]
    fn stars_stay_within_a_segment_and_double_stars_cross() {
        assert!(m("*.jpg", "a.jpg"));
        assert!(m("*.jpg", "deep/dir/a.jpg"), "no slash: the file name");
        assert!(!m("*.jpg", "a.jpeg"));
        assert!(m("photos/*.jpg", "photos/a.jpg"));
        assert!(!m("photos/*.jpg", "photos/x/a.jpg"));
        assert!(m("photos/**/*.jpg", "photos/a.jpg"));
        assert!(m("photos/**/*.jpg", "photos/x/y/a.jpg"));
        assert!(m("photos/**", "photos/x/y/a.jpg"));
        assert!(!m("photos/**/*.jpg", "other/a.jpg"));
        assert!(m("**/cache/*", "a/b/cache/f"));
        assert!(m("**/cache/*", "cache/f"));
    }

    #[test]
    fn classes_questions_and_escapes() {
        assert!(m("img-[0-9].png", "img-7.png"));
        assert!(!m("img-[0-9].png", "img-x.png"));
        assert!(m("img-[!0-9].png", "img-x.png"));
        assert!(m("[]]x", "]x"));
        assert!(m("?.txt", "é.txt"), "one character, not one byte");
        assert!(!m("a?b", "a/b"));
        assert!(m(r"\*.txt", "*.txt"));
        assert!(!m(r"\*.txt", "a.txt"));
        assert!(m("with space *", "with space here"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for p in ["[abc", "x\\", "[z-a]"] {
            assert!(Glob::new(p).is_err(), "{p}");
        }
        assert!(has_magic("dir/*.txt") && has_magic("a[1]") && !has_magic("plain/name"));
    }

    #[test]
    fn many_stars_do_not_blow_up() {
        let p = "*a*a*a*a*a*a*a*a*b";
        let s = "a".repeat(40);
        let started = std::time::Instant::now();
        assert!(!m(p, &s));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
