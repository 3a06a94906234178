//! Just enough of PHP to read a Nextcloud `config.php`: literal arrays in both
//! `array(...)` and `[...]` syntax, strings, numbers, booleans, null and bare
//! constants (`\OCA\UserExternal\IMAP::class`). Nothing is evaluated.
//! Written by hand: no maintained Rust crate parses PHP array literals.

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Null,
    /// A bare name PHP would resolve at run time, e.g. a class constant.
    Name(String),
    /// Entries in order; `None` keys are PHP's implicit 0, 1, 2...
    Array(Vec<(Option<Value>, Value)>),
}

impl Value {
    /// Looks up a string key in an array.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Array(entries) => entries.iter().find_map(|(k, v)| match k {
                Some(Value::Str(s)) if s == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// The values of an array in order, whatever their keys.
    pub fn items(&self) -> Vec<&Value> {
        match self {
            Value::Array(entries) => entries.iter().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Int(i64),
    Name(String),
    Punct(&'static str),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let mut lx = Lexer {
        chars: text.char_indices().peekable(),
        text,
    };
    let mut out = Vec::new();
    while let Some(&(at, c)) = lx.chars.peek() {
        let err = |message: &str| ParseError {
            line: line_at(text, at),
            message: message.to_owned(),
        };
        match c {
            c if c.is_whitespace() => {
                lx.chars.next();
            }
            '#' => lx.skip_line(),
            '/' if lx.text[at..].starts_with("//") => lx.skip_line(),
            '/' if lx.text[at..].starts_with("/*") => {
                let end = lx.text[at + 2..]
                    .find("*/")
                    .ok_or_else(|| err("unterminated comment"))?;
                let stop = at + 2 + end + 2;
                while lx.chars.peek().is_some_and(|&(i, _)| i < stop) {
                    lx.chars.next();
                }
            }
            '<' if lx.text[at..].starts_with("<?php") => {
                for _ in 0..5 {
                    lx.chars.next();
                }
            }
            '\'' | '"' => {
                lx.chars.next();
                out.push((
                    Token::Str(lx.string(c).ok_or_else(|| err("unterminated string"))?),
                    at,
                ));
            }
            '=' if lx.text[at..].starts_with("=>") => {
                lx.chars.next();
                lx.chars.next();
                out.push((Token::Punct("=>"), at));
            }
            '(' | ')' | '[' | ']' | ',' | ';' | '=' => {
                lx.chars.next();
                let p = match c {
                    '(' => "(",
                    ')' => ")",
                    '[' => "[",
                    ']' => "]",
                    ',' => ",",
                    ';' => ";",
                    _ => "=",
                };
                out.push((Token::Punct(p), at));
            }
            '-' | '0'..='9' => {
                let mut s = String::new();
                s.push(c);
                lx.chars.next();
                while let Some(&(_, d)) = lx.chars.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    s.push(d);
                    lx.chars.next();
                }
                out.push((Token::Int(s.parse().map_err(|_| err("bad number"))?), at));
            }
            c if c.is_alphanumeric() || c == '_' || c == '\\' || c == '$' => {
                let mut s = String::new();
                while let Some(&(_, d)) = lx.chars.peek() {
                    if !(d.is_alphanumeric() || d == '_' || d == '\\' || d == ':' || d == '$') {
                        break;
                    }
                    s.push(d);
                    lx.chars.next();
                }
                out.push((Token::Name(s), at));
            }
            _ => return Err(err(&format!("unexpected character {c:?}"))),
        }
    }
    Ok(out)
}

impl Lexer<'_> {
    fn skip_line(&mut self) {
        for (_, c) in self.chars.by_ref() {
            if c == '\n' {
                break;
            }
        }
    }

    /// The rest of a string after its opening quote. Single quotes only know `\'`
    /// and `\\`; double quotes know the common escapes.
    fn string(&mut self, quote: char) -> Option<String> {
        let mut s = String::new();
        while let Some((_, c)) = self.chars.next() {
            if c == quote {
                return Some(s);
            }
            if c != '\\' {
                s.push(c);
                continue;
            }
            let (_, next) = self.chars.next()?;
            match (quote, next) {
                (_, '\\') => s.push('\\'),
                (q, n) if n == q => s.push(n),
                ('"', 'n') => s.push('\n'),
                ('"', 't') => s.push('\t'),
                ('"', '$') => s.push('$'),
                (_, n) => {
                    s.push('\\');
                    s.push(n);
                }
            }
        }
        None
    }
}

/// Arrays nested deeper are refused: the parser recurses once per level, and a
/// real config.php nests a handful.
pub const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    text_lines: Vec<usize>,
    /// Arrays open around the current position.
    depth: usize,
}

impl Parser {
    fn line(&self) -> usize {
        let offset = self.tokens.get(self.pos).map_or(usize::MAX, |t| t.1);
        self.text_lines.partition_point(|&l| l <= offset)
    }

    fn err(&self, message: &str) -> ParseError {
        ParseError {
            line: self.line(),
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.0)
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let token = self
            .peek()
            .cloned()
            .ok_or_else(|| self.err("value expected, found end of file"))?;
        self.pos += 1;
        match token {
            Token::Str(s) => Ok(Value::Str(s)),
            Token::Int(i) => Ok(Value::Int(i)),
            Token::Punct("[") => self.entries("]"),
            Token::Name(n) if n.eq_ignore_ascii_case("array") => {
                if !self.eat("(") {
                    return Err(self.err("`(` expected after array"));
                }
                self.entries(")")
            }
            Token::Name(n) if n.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Token::Name(n) if n.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            Token::Name(n) if n.eq_ignore_ascii_case("null") => Ok(Value::Null),
            Token::Name(n) => Ok(Value::Name(n)),
            Token::Punct(p) => {
                self.pos -= 1;
                Err(self.err(&format!("value expected, found `{p}`")))
            }
        }
    }

    fn entries(&mut self, close: &str) -> Result<Value, ParseError> {
        if self.depth == MAX_DEPTH {
            return Err(self.err(&format!("arrays nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        let entries = self.entries_within(close);
        self.depth -= 1;
        entries
    }

    fn entries_within(&mut self, close: &str) -> Result<Value, ParseError> {
        let mut entries = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(Value::Array(entries));
            }
            let first = self.value()?;
            if self.eat("=>") {
                entries.push((Some(first), self.value()?));
            } else {
                entries.push((None, first));
            }
            if !self.eat(",") && !matches!(self.peek(), Some(Token::Punct(p)) if *p == close) {
                return Err(self.err(&format!("`,` or `{close}` expected")));
            }
        }
    }
}

/// Finds `'key' => value` anywhere in the file and parses the value.
pub fn find_key(text: &str, key: &str) -> Result<Option<Value>, ParseError> {
    let tokens = tokenize(text)?;
    let text_lines: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let start = tokens
        .windows(2)
        .position(|w| matches!(&w[0].0, Token::Str(s) if s == key) && w[1].0 == Token::Punct("=>"));
    let Some(start) = start else {
        return Ok(None);
    };
    let mut parser = Parser {
        tokens,
        pos: start + 2,
        text_lines,
        depth: 0,
    };
    parser.value().map(Some)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_array_syntaxes_comments_and_escapes() {
        let text = r#"<?php
$CONFIG = array (
  'instanceid' => 'oc123', // a comment
  # another
  /* and a block */
  'user_backends' => [
    ['class' => '\OCA\UserExternal\IMAP', 'arguments' => ['mail.example.com', 993, 'ssl', 'example.com', true, false]],
    array("class" => "OC_User_FTP", "arguments" => array(0 => "ftp.example.com", 1 => false,),),
  ],
);"#;
        let v = find_key(text, "user_backends").unwrap().unwrap();
        let items = v.items();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].get("class"),
            Some(&Value::Str(r"\OCA\UserExternal\IMAP".into()))
        );
        assert_eq!(
            items[0].get("arguments").unwrap().items(),
            vec![
                &Value::Str("mail.example.com".into()),
                &Value::Int(993),
                &Value::Str("ssl".into()),
                &Value::Str("example.com".into()),
                &Value::Bool(true),
                &Value::Bool(false)
            ]
        );
        assert_eq!(
            items[1].get("class"),
            Some(&Value::Str("OC_User_FTP".into()))
        );
        assert_eq!(
            items[1].get("arguments").unwrap().items()[1],
            &Value::Bool(false)
        );
    }

    #[test]
    fn string_escapes() {
        let v = find_key(r#"'k' => ["a\\b\'c", 'it\'s \n', "\\OCA\\X"]"#, "k")
            .unwrap()
            .unwrap();
        assert_eq!(
            v.items(),
            vec![
                // In double quotes PHP keeps `\'` as it is.
                &Value::Str(r"a\b\'c".into()),
                &Value::Str(r"it's \n".into()),
                &Value::Str(r"\OCA\X".into())
            ]
        );
    }

    #[test]
    fn class_constants_and_missing_keys() {
        let v = find_key("'k' => \\OCA\\UserExternal\\SMB::class", "k")
            .unwrap()
            .unwrap();
        assert_eq!(v, Value::Name(r"\OCA\UserExternal\SMB::class".into()));
        assert_eq!(
            find_key("<?php $CONFIG = array();", "user_backends").unwrap(),
            None
        );
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_not_a_stack_overflow() {
        // Each level was a recursion: 100,000 `[` overflowed the stack.
        let deep = format!("'k' => {}", "[".repeat(100_000));
        let e = find_key(&deep, "k").unwrap_err();
        assert_eq!(e.message, "arrays nested more than 64 deep");
        let e = find_key(&format!("'k' => {}", "array(".repeat(65)), "k").unwrap_err();
        assert_eq!(e.message, "arrays nested more than 64 deep");
        let ok = format!("'k' => {}{}", "[".repeat(64), "]".repeat(64));
        assert!(find_key(&ok, "k").unwrap().is_some());
    }

    #[test]
    fn broken_input_names_the_line() {
        let e = find_key("<?php\n'k' => array(\n 'a' 'b'\n);", "k").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(tokenize("'open").is_err());
    }

    /// Text made of the pieces a config.php is made of, in any order.
    pub(crate) fn php_soup() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("array(".to_owned()),
            Just("ARRAY (".to_owned()),
            Just(")".to_owned()),
            Just(",".to_owned()),
            Just("=>".to_owned()),
            Just("=".to_owned()),
            Just(";".to_owned()),
            Just("'user_backends'".to_owned()),
            Just("'class'".to_owned()),
            Just("'arguments'".to_owned()),
            Just("'OC_User_IMAP'".to_owned()),
            Just("\\OCA\\UserExternal\\FTP::class".to_owned()),
            Just("\"OC_User_SMB\"".to_owned()),
            Just("'{h:993/imap/ssl}'".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
            Just("<?php".to_owned()),
            Just("$CONFIG".to_owned()),
            Just("/* c */".to_owned()),
            Just("// c\n".to_owned()),
            Just("# c\n".to_owned()),
            Just("/*".to_owned()),
            Just("'".to_owned()),
            Just("\"\\".to_owned()),
            "-?[0-9]{1,21}",
            "'([^'\\\\]|\\\\.){0,8}'",
            "\"([^\"\\\\]|\\\\.){0,8}\"",
            "\\PC{1,3}",
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|p| p.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn find_key_never_panics_and_errors_name_a_line_of_the_text(
            text in prop_oneof![any::<String>(), php_soup()]
        ) {
            if let Err(e) = find_key(&text, "user_backends") {
                prop_assert!(e.line >= 1 && e.line <= text.lines().count() + 1, "{e} in {text:?}");
                prop_assert!(!e.message.is_empty());
            }
        }

        #[test]
        fn any_nesting_depth_ends_in_a_value_or_the_depth_error(
            openers in proptest::collection::vec(prop_oneof![Just(("[", "]")), Just(("array(", ")"))], 0..200),
            closed in any::<bool>(),
        ) {
            let mut text = String::from("'k' => ");
            openers.iter().for_each(|(open, _)| text.push_str(open));
            if closed {
                openers.iter().rev().for_each(|(_, close)| text.push_str(close));
            }
            let parsed = find_key(&text, "k");
            match parsed {
                Err(e) if openers.len() > MAX_DEPTH => {
                    prop_assert_eq!(e.message, format!("arrays nested more than {MAX_DEPTH} deep"));
                }
                Ok(Some(_)) => prop_assert!(closed && openers.len() <= MAX_DEPTH),
                Err(_) => prop_assert!(!closed || openers.is_empty()),
                Ok(None) => prop_assert!(false, "the key is there"),
            }
        }
    }
}
