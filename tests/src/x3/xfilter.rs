//! Xtrem GraphQL `filter` and `orderBy` strings (x3-api.md §3.4): JavaScript-like object
//! literals (unquoted keys, single- or double-quoted strings with backslash escapes; strict JSON
//! is a subset), evaluated against the GraphQL view of a record (property names).
//!
//! Operators: `_eq _ne _gt _gte _lt _lte _in _nin _regex (+ _options:'i') _not _or _and`,
//! collection operators `_atLeast _atMost _every _none`; a plain value means equality, several keys
//! mean AND, nested objects follow paths; a top-level array is treated as AND (Sage's sample sends
//! one, §3.4 — semantics UNCONFIRMED). `_regex` uses the small engine below (no crate needed for
//! the subset clients use, with JavaScript semantics: literals and escapes, `. * + ? {m,n} [] ^ $
//! | (?:)`, `\d \w \s \b` and their negations; lookarounds and backreferences are refused).

use std::cmp::Ordering;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Parse a JS-like literal into JSON.
pub fn parse_literal(s: &str) -> Result<Value, String> {
    let mut p = Lit {
        c: s.chars().collect(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.c.len() {
        return Err(format!("unexpected '{}' at {}", p.c[p.i], p.i));
    }
    Ok(v)
}

struct Lit {
    c: Vec<char>,
    i: usize,
}

impl Lit {
    fn ws(&mut self) {
        while self.i < self.c.len() && self.c[self.i].is_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.ws();
        self.c.get(self.i).copied()
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek().ok_or("unexpected end of filter")? {
            '{' => {
                self.i += 1;
                let mut m = Map::new();
                loop {
                    match self.peek() {
                        Some('}') => {
                            self.i += 1;
                            break;
                        }
                        Some(_) => {}
                        None => return Err("unterminated object".into()),
                    }
                    let key = match self.peek() {
                        Some(q @ ('\'' | '"')) => self.string(q)?,
                        _ => self.ident()?,
                    };
                    if self.peek() != Some(':') {
                        return Err(format!("expected ':' after {key}"));
                    }
                    self.i += 1;
                    let v = self.value()?;
                    m.insert(key, v);
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some('}') => {}
                        _ => return Err("expected ',' or '}'".into()),
                    }
                }
                Ok(Value::Object(m))
            }
            '[' => {
                self.i += 1;
                let mut a = Vec::new();
                loop {
                    if self.peek() == Some(']') {
                        self.i += 1;
                        break;
                    }
                    a.push(self.value()?);
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some(']') => {}
                        _ => return Err("expected ',' or ']'".into()),
                    }
                }
                Ok(Value::Array(a))
            }
            q @ ('\'' | '"') => Ok(Value::String(self.string(q)?)),
            c if c == '-' || c == '+' || c == '.' || c.is_ascii_digit() => {
                let start = self.i;
                self.i += 1;
                while self.i < self.c.len()
                    && (self.c[self.i].is_ascii_alphanumeric() || ".+-".contains(self.c[self.i]))
                {
                    self.i += 1;
                }
                let lit: String = self.c[start..self.i].iter().collect();
                let lit = lit.trim_start_matches('+');
                if let Ok(n) = lit.parse::<i64>() {
                    return Ok(Value::from(n));
                }
                lit.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or(format!("invalid number {lit}"))
            }
            _ => {
                let w = self.ident()?;
                match w.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "null" => Ok(Value::Null),
                    _ => Err(format!("unexpected word {w}")),
                }
            }
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        self.ws();
        let start = self.i;
        while self.i < self.c.len()
            && (self.c[self.i].is_alphanumeric() || self.c[self.i] == '_' || self.c[self.i] == '$')
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected a name at {start}"));
        }
        Ok(self.c[start..self.i].iter().collect())
    }

    fn string(&mut self, q: char) -> Result<String, String> {
        self.i += 1;
        let mut s = String::new();
        loop {
            let ch = *self.c.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match ch {
                _ if ch == q => return Ok(s),
                '\\' => {
                    let e = *self.c.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    match e {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'b' => s.push('\u{8}'),
                        'f' => s.push('\u{c}'),
                        'u' => {
                            let hex: String = self
                                .c
                                .get(self.i..self.i + 4)
                                .ok_or("bad \\u")?
                                .iter()
                                .collect();
                            self.i += 4;
                            let mut cp = u32::from_str_radix(&hex, 16).map_err(|_| "bad \\u")?;
                            // Surrogate pair, as JavaScript writes astral characters.
                            if (0xD800..0xDC00).contains(&cp)
                                && self.c.get(self.i) == Some(&'\\')
                                && self.c.get(self.i + 1) == Some(&'u')
                            {
                                let lo: String = self
                                    .c
                                    .get(self.i + 2..self.i + 6)
                                    .ok_or("bad \\u")?
                                    .iter()
                                    .collect();
                                let lo = u32::from_str_radix(&lo, 16).map_err(|_| "bad \\u")?;
                                self.i += 6;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            s.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        other => s.push(other),
                    }
                }
                _ => s.push(ch),
            }
        }
    }
}

fn num(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Compare a stored value with a filter operand: numerically when both are numbers (either may
/// be a string, as Xtrem sends decimals), else as text.
pub fn cmp_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => {
            if (a.is_number() || b.is_number())
                && let (Some(x), Some(y)) = (num(a), num(b))
            {
                return Some(x.cmp(&y));
            }
            let t = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            Some(t(a)?.cmp(&t(b)?))
        }
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        _ => cmp_values(a, b) == Some(Ordering::Equal),
    }
}

/// Does `target` (a node view) satisfy `filter`?
pub fn eval(filter: &Value, target: &Value) -> Result<bool, String> {
    match filter {
        Value::Array(items) => {
            for f in items {
                if !eval(f, target)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Value::Object(m) => {
            // Collections: a condition on lines holds when at least one line satisfies it,
            // unless a collection operator says otherwise.
            if let Value::Array(elems) = target {
                return eval_collection(m, elems);
            }
            let options = m.get("_options").and_then(Value::as_str).unwrap_or("");
            for (k, fv) in m {
                let ok = match k.as_str() {
                    "_options" => true,
                    "_and" => eval(fv, target)?,
                    "_or" => {
                        let alts = fv.as_array().ok_or("_or expects an array")?;
                        let mut any = false;
                        for a in alts {
                            if eval(a, target)? {
                                any = true;
                                break;
                            }
                        }
                        any
                    }
                    "_not" => !eval(fv, target)?,
                    "_eq" => equal(target, fv),
                    "_ne" => !equal(target, fv),
                    "_gt" => cmp_values(target, fv) == Some(Ordering::Greater),
                    "_gte" => cmp_values(target, fv).is_some_and(|o| o != Ordering::Less),
                    "_lt" => cmp_values(target, fv) == Some(Ordering::Less),
                    "_lte" => cmp_values(target, fv).is_some_and(|o| o != Ordering::Greater),
                    "_in" | "_nin" => {
                        let list = fv.as_array().ok_or(format!("{k} expects an array"))?;
                        let found = list.iter().any(|x| equal(target, x));
                        found == (k == "_in")
                    }
                    "_regex" => {
                        let pat = fv.as_str().ok_or("_regex expects a string")?;
                        let re = Regex::new(pat, options.contains('i'))?;
                        match target {
                            Value::String(s) => re.is_match(s),
                            Value::Number(n) => re.is_match(&n.to_string()),
                            _ => false,
                        }
                    }
                    _ if k.starts_with('_') && k != "_id" && !is_stamp(k) => {
                        return Err(format!("unknown filter operator {k}"));
                    }
                    _ => {
                        let sub = match target {
                            Value::Object(o) => o
                                .get(k)
                                .ok_or(format!("unknown property '{k}' in filter"))?,
                            // A reference shown as its code: `{soldToCustomer:{code:'C1'}}`.
                            Value::String(_) | Value::Number(_)
                                if matches!(k.as_str(), "_id" | "code" | "id") =>
                            {
                                target
                            }
                            Value::Null => &Value::Null,
                            _ => return Err(format!("unknown property '{k}' in filter")),
                        };
                        match fv {
                            Value::Object(_) => eval(fv, sub)?,
                            Value::Array(_) => eval(fv, sub)?,
                            plain => match sub {
                                Value::Array(elems) => elems.iter().any(|e| equal(e, plain)),
                                _ => equal(sub, plain),
                            },
                        }
                    }
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        plain => Ok(equal(target, plain)),
    }
}

fn is_stamp(k: &str) -> bool {
    matches!(k, "_createStamp" | "_updateStamp" | "_etag")
}

fn eval_collection(m: &Map<String, Value>, elems: &[Value]) -> Result<bool, String> {
    let mut rest = Map::new();
    let mut quant: Option<(&str, &Value)> = None;
    for (k, v) in m {
        match k.as_str() {
            "_atLeast" | "_atMost" | "_every" | "_none" => quant = Some((k.as_str(), v)),
            _ => {
                rest.insert(k.clone(), v.clone());
            }
        }
    }
    let cond = Value::Object(rest);
    let mut n = 0u64;
    for e in elems {
        if eval(&cond, e)? {
            n += 1;
        }
    }
    let total = elems.len() as u64;
    Ok(match quant {
        None => n >= 1,
        Some(("_atLeast", v)) => n >= v.as_u64().ok_or("_atLeast expects a number")?,
        Some(("_atMost", v)) => n <= v.as_u64().ok_or("_atMost expects a number")?,
        Some(("_every", v)) => (n == total) == v.as_bool().unwrap_or(true),
        Some(("_none", v)) => (n == 0) == v.as_bool().unwrap_or(true),
        Some(_) => false,
    })
}

/// `orderBy` string: `{code:-1}`, `{soldToCustomer:{code:1},_id:-1}` → (path, descending).
pub fn parse_order_by(s: &str) -> Result<Vec<(Vec<String>, bool)>, String> {
    fn walk(
        v: &Value,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, bool)>,
    ) -> Result<(), String> {
        match v {
            Value::Object(m) => {
                for (k, sub) in m {
                    path.push(k.clone());
                    walk(sub, path, out)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Number(n) => match n.as_i64() {
                Some(1) => {
                    out.push((path.clone(), false));
                    Ok(())
                }
                Some(-1) => {
                    out.push((path.clone(), true));
                    Ok(())
                }
                _ => Err(format!("orderBy direction must be 1 or -1, got {n}")),
            },
            other => Err(format!("invalid orderBy value {other}")),
        }
    }
    let v = if s.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        parse_literal(s)?
    };
    let mut out = Vec::new();
    walk(&v, &mut Vec::new(), &mut out)?;
    Ok(out)
}

// ---- a small backtracking regular-expression engine for `_regex`, with JavaScript semantics
// for the subset clients use. What it cannot do exactly (lookarounds, backreferences, named
// groups, flags other than `i`) is refused rather than matched differently.

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    /// `.`: any character but a line terminator (JavaScript without the `s` flag).
    Any,
    Class(Vec<(char, char)>, bool),
    Start,
    End,
    /// `\b` (true) and `\B` (false).
    WordBoundary(bool),
    Group(Vec<Vec<Node>>),
    Repeat(Box<Node>, usize, usize),
}

pub struct Regex {
    alts: Vec<Vec<Node>>,
    ci: bool,
}

impl Regex {
    pub fn new(pat: &str, ci: bool) -> Result<Regex, String> {
        let c: Vec<char> = pat.chars().collect();
        let mut i = 0;
        let alts = parse_alts(&c, &mut i, ci)?;
        if i != c.len() {
            return Err(format!("invalid regular expression {pat}"));
        }
        Ok(Regex { alts, ci })
    }

    pub fn is_match(&self, s: &str) -> bool {
        let s: Vec<char> = if self.ci {
            s.chars().map(|c| fold(c, true)).collect()
        } else {
            s.chars().collect()
        };
        let g = Node::Group(self.alts.clone());
        (0..=s.len()).any(|start| mnode(&g, &s, start, &mut |_| true))
    }
}

const LINE_TERMINATORS: [char; 4] = ['\n', '\r', '\u{2028}', '\u{2029}'];

/// JavaScript `\s`: WhiteSpace and LineTerminator code points.
const JS_SPACE: [(char, char); 10] = [
    ('\t', '\r'), // \t \n \v \f \r
    (' ', ' '),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
    ('\u{feff}', '\u{feff}'),
];

fn class_escape(e: char) -> Option<Vec<(char, char)>> {
    match e {
        'd' => Some(vec![('0', '9')]),
        'w' => Some(vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')]),
        's' => Some(JS_SPACE.to_vec()),
        _ => None,
    }
}

fn hex(c: &[char], i: &mut usize, n: usize) -> Result<char, String> {
    let digits: String = c
        .get(*i..*i + n)
        .ok_or("truncated hexadecimal escape in regex")?
        .iter()
        .collect();
    let cp = u32::from_str_radix(&digits, 16).map_err(|_| "bad hexadecimal escape in regex")?;
    *i += n;
    char::from_u32(cp).ok_or_else(|| "bad code point in regex".to_string())
}

/// The character an escape `\e` stands for (after `\`, `*i` past `e`), or an error for escapes
/// this engine does not implement. `in_class`: `\b` is a backspace inside `[…]`.
fn char_escape(e: char, c: &[char], i: &mut usize, in_class: bool) -> Result<char, String> {
    Ok(match e {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'f' => '\u{c}',
        'v' => '\u{b}',
        '0' => '\0',
        'b' if in_class => '\u{8}',
        'x' => hex(c, i, 2)?,
        'u' => hex(c, i, 4)?,
        '1'..='9' => return Err("backreferences are not supported in _regex".into()),
        'k' | 'p' | 'P' | 'c' => return Err(format!("\\{e} is not supported in _regex")),
        other => other,
    })
}

/// `{n}`, `{n,}`, `{n,m}` at `c[i]`: (min, max, index past `}`). Anything else is a literal `{`
/// in JavaScript (Annex B).
fn braces(c: &[char], i: usize) -> Option<(usize, usize, usize)> {
    let end = c[i..].iter().position(|x| *x == '}')? + i;
    let body: String = c[i + 1..end].iter().collect();
    let num = |t: &str| {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<usize>().ok())
            .flatten()
    };
    let (lo, hi) = match body.split_once(',') {
        Some((a, "")) => (num(a)?, usize::MAX),
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(&body)?;
            (n, n)
        }
    };
    Some((lo, hi, end + 1))
}

fn parse_alts(c: &[char], i: &mut usize, ci: bool) -> Result<Vec<Vec<Node>>, String> {
    let mut alts = vec![Vec::new()];
    while *i < c.len() {
        let ch = c[*i];
        let atom = match ch {
            ')' => break,
            '|' => {
                *i += 1;
                alts.push(Vec::new());
                continue;
            }
            '(' => {
                *i += 1;
                if c.get(*i) == Some(&'?') {
                    if c.get(*i + 1) == Some(&':') {
                        *i += 2;
                    } else {
                        return Err(
                            "lookarounds and named groups are not supported in _regex".into()
                        );
                    }
                }
                let inner = parse_alts(c, i, ci)?;
                if c.get(*i) != Some(&')') {
                    return Err("unbalanced parenthesis in regex".into());
                }
                *i += 1;
                Node::Group(inner)
            }
            '.' => {
                *i += 1;
                Node::Any
            }
            '^' => {
                *i += 1;
                Node::Start
            }
            '$' => {
                *i += 1;
                Node::End
            }
            '[' => {
                *i += 1;
                let neg = c.get(*i) == Some(&'^');
                if neg {
                    *i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let x = *c.get(*i).ok_or("unterminated [ in regex")?;
                    // `[]` matches nothing and `[^]` anything, as in JavaScript.
                    if x == ']' {
                        *i += 1;
                        break;
                    }
                    *i += 1;
                    let lo = if x == '\\' {
                        let e = *c.get(*i).ok_or("bad escape")?;
                        *i += 1;
                        if let Some(cls) = class_escape(e) {
                            ranges.extend(cls);
                            continue;
                        }
                        if matches!(e, 'D' | 'W' | 'S') {
                            return Err(format!("\\{e} inside [] is not supported in _regex"));
                        }
                        char_escape(e, c, i, true)?
                    } else {
                        x
                    };
                    if c.get(*i) == Some(&'-') && c.get(*i + 1).is_some_and(|x| *x != ']') {
                        *i += 1;
                        let y = c[*i];
                        *i += 1;
                        let hi = if y == '\\' {
                            let e = *c.get(*i).ok_or("bad escape")?;
                            *i += 1;
                            char_escape(e, c, i, true)?
                        } else {
                            y
                        };
                        if hi < lo {
                            return Err("range out of order in character class".into());
                        }
                        if ci {
                            // Both cases of the range, so `[A-Z]` matches a folded subject.
                            ranges.push((fold(lo, true), fold(hi, true)));
                        }
                        ranges.push((lo, hi));
                    } else {
                        ranges.push((fold(lo, ci), fold(lo, ci)));
                    }
                }
                Node::Class(ranges, neg)
            }
            '\\' => {
                let e = *c.get(*i + 1).ok_or("trailing backslash in regex")?;
                *i += 2;
                match class_escape(e) {
                    Some(r) => Node::Class(r, false),
                    None => match e {
                        'D' => Node::Class(vec![('0', '9')], true),
                        'W' => Node::Class(class_escape('w').unwrap_or_default(), true),
                        'S' => Node::Class(JS_SPACE.to_vec(), true),
                        'b' => Node::WordBoundary(true),
                        'B' => Node::WordBoundary(false),
                        _ => Node::Char(fold(char_escape(e, c, i, false)?, ci)),
                    },
                }
            }
            '*' | '+' | '?' => return Err(format!("nothing to repeat before '{ch}'")),
            '{' if braces(c, *i).is_some() => return Err("nothing to repeat before '{'".into()),
            _ => {
                *i += 1;
                Node::Char(fold(ch, ci))
            }
        };
        let atom = quantify(atom, c, i)?;
        if let Some(last) = alts.last_mut() {
            last.push(atom);
        }
    }
    Ok(alts)
}

fn quantify(atom: Node, c: &[char], i: &mut usize) -> Result<Node, String> {
    let (min, max) = match c.get(*i) {
        Some('*') => (0, usize::MAX),
        Some('+') => (1, usize::MAX),
        Some('?') => (0, 1),
        Some('{') => match braces(c, *i) {
            Some((lo, hi, next)) => {
                if hi < lo {
                    return Err("numbers out of order in {} quantifier".into());
                }
                *i = next - 1;
                (lo, hi)
            }
            None => return Ok(atom),
        },
        _ => return Ok(atom),
    };
    *i += 1;
    if matches!(atom, Node::Start | Node::End | Node::WordBoundary(_)) {
        return Err("nothing to repeat: an assertion cannot be quantified".into());
    }
    // Lazy marker: accepted and treated as greedy (only matching, not capture, is asked).
    if c.get(*i) == Some(&'?') {
        *i += 1;
    }
    Ok(Node::Repeat(Box::new(atom), min, max))
}

/// Case folding for the `i` flag (simple lower-casing, as JavaScript's non-Unicode mode does for
/// the characters clients put in e-mails and references).
fn fold(c: char, ci: bool) -> char {
    if ci {
        c.to_lowercase().next().unwrap_or(c)
    } else {
        c
    }
}

fn is_word(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
}

fn mnode(n: &Node, s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match n {
        Node::Char(c) => pos < s.len() && s[pos] == *c && k(pos + 1),
        Node::Any => pos < s.len() && !LINE_TERMINATORS.contains(&s[pos]) && k(pos + 1),
        Node::Class(r, neg) => {
            pos < s.len()
                && (r.iter().any(|(lo, hi)| (*lo..=*hi).contains(&s[pos])) != *neg)
                && k(pos + 1)
        }
        Node::Start => pos == 0 && k(pos),
        Node::End => pos == s.len() && k(pos),
        Node::WordBoundary(want) => {
            let before = pos.checked_sub(1).and_then(|p| s.get(p));
            (is_word(before) != is_word(s.get(pos))) == *want && k(pos)
        }
        Node::Group(alts) => alts.iter().any(|a| mseq(a, s, pos, k)),
        Node::Repeat(inner, min, max) => rep(inner, *min, *max, 0, s, pos, k),
    }
}

fn mseq(ns: &[Node], s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match ns.split_first() {
        None => k(pos),
        Some((first, rest)) => mnode(first, s, pos, &mut |p| mseq(rest, s, p, k)),
    }
}

fn rep(
    n: &Node,
    min: usize,
    max: usize,
    count: usize,
    s: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    // Greedy; an iteration that consumes nothing stops the loop (no infinite recursion on `()*`).
    if count < max
        && mnode(n, s, pos, &mut |p| {
            p != pos && rep(n, min, max, count + 1, s, p, k)
        })
    {
        return true;
    }
    count >= min && k(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals_parse_like_javascript() {
        let v = parse_literal(r#"{customerOrderReference:'WC-1\'2', "a": [1, -2.5, true, null]}"#)
            .unwrap_or_default();
        assert_eq!(
            v,
            json!({"customerOrderReference":"WC-1'2","a":[1,-2.5,true,null]})
        );
    }

    #[test]
    fn filters_evaluate() {
        let node = json!({"id":"S1","qty":"3","soldToCustomer":"C1","lines":[{"product":"A"},{"product":"B"}]});
        for (f, want) in [
            ("{id:'S1'}", true),
            ("{id:{_ne:'S1'}}", false),
            ("{qty:{_gt:2,_lte:3}}", true),
            ("{soldToCustomer:{code:'C1'}}", true),
            ("{_or:[{id:'X'},{id:{_in:['S1','S2']}}]}", true),
            ("{id:{_not:{_eq:'S1'}}}", false),
            ("{id:{_regex:'^s\\\\d$',_options:'i'}}", true),
            ("{lines:{product:'B'}}", true),
            ("{lines:{_every:true,product:'B'}}", false),
            ("[{id:'S1'},{qty:'3'}]", true),
        ] {
            let fv = parse_literal(f).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(eval(&fv, &node), Ok(want), "{f}");
        }
        assert!(eval(&json!({"nope":1}), &node).is_err());
    }

    #[test]
    fn regex_subset() {
        let m = |p: &str, s: &str| Regex::new(p, false).map(|r| r.is_match(s)).unwrap_or(false);
        assert!(m("^ab+c?$", "abbb"));
        assert!(m("[a-c]{2}x", "zzbcx"));
        assert!(!m("^(foo|bar)$", "foobar"));
        assert!(m("a.*z", "a---z"));
        // JavaScript semantics for the usual subset.
        assert!(m(r"^[Aa]nna@example\.com$", "Anna@example.com"));
        assert!(!m(r"^[Aa]nna@example\.com$", "Anna@exampleXcom"));
        assert!(!m(r"^[Aa]nna@example\.com$", "xAnna@example.com"));
        assert!(m(r"\bcat\b", "a cat!") && !m(r"\bcat\b", "concat"));
        assert!(!m("a.b", "a\nb") && m(r"a\sb", "a\u{a0}b"));
        assert!(
            m("a{2}", "aa") && m("a{x}", "a{x}"),
            "a bad {{}} is a literal"
        );
        assert!(m(r"\u0041\x42", "AB"));
        let ci = |p: &str, s: &str| Regex::new(p, true).map(|r| r.is_match(s)).unwrap_or(false);
        assert!(ci("^[A-C]+$", "abc") && ci("^anna", "ANNA"));
        for bad in [r"(?=a)", r"(a)\1", "(?<n>a)", "a**", "^*", "[z-a]"] {
            assert!(Regex::new(bad, false).is_err(), "{bad}");
        }
    }
}
