//! The SData query language of REST `$query` (x3-api.md §1.3, §1.4): `where` expressions and
//! `orderBy` lists over the field codes of one class. Parse errors and unknown field codes are
//! errors the caller turns into HTTP 500 with `$diagnoses`, as X3 does (§1.3, D5).
//!
//! Grammar (lowest precedence first): `or`, `and`, `not`, comparisons (`eq ne lt le gt ge`,
//! `[not] like`, `[not] in (…)`, `[not] between a and b`), `+ -`, `mul div mod`, unary `-`,
//! primaries (field codes, `COLL.FIELD` member access into a child collection — any line —,
//! `'text'` with `''` for a quote, numbers, `@date@`, `@datetime@`,
//! `true false null`, `left(F,n) right(F,n) upper(F) lower(F) trim(F) len(F)`, parentheses).
//! Keywords need no surrounding spaces after a literal: `@…Z@and` is seen in production (§1.4).

use std::cmp::Ordering;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use super::schema::{NodeDef, Ty};
use super::util::{is_date, is_datetime, to_decimal};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(Decimal),
    Date(String),
    DateTime(String),
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        match ch {
            _ if ch.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '+' => {
                out.push(Tok::Plus);
                i += 1;
            }
            '-' => {
                out.push(Tok::Minus);
                i += 1;
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if c.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(x) => {
                            v.push(*x);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            '@' => {
                let end = c[i + 1..]
                    .iter()
                    .position(|x| *x == '@')
                    .ok_or("unterminated @date@ literal")?;
                let lit: String = c[i + 1..i + 1 + end].iter().collect();
                i += end + 2;
                if is_date(&lit) {
                    out.push(Tok::Date(lit));
                } else if is_datetime(&lit) {
                    out.push(Tok::DateTime(lit));
                } else {
                    return Err(format!("invalid date literal @{lit}@"));
                }
            }
            _ if ch.is_ascii_digit()
                || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                    i += 1;
                }
                let lit: String = c[start..i].iter().collect();
                let n = Decimal::from_str(&lit).map_err(|_| format!("invalid number {lit}"))?;
                out.push(Tok::Num(n));
            }
            _ if ch.is_alphabetic() || ch == '_' || ch == '$' => {
                let start = i;
                while i < c.len()
                    && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$' || c[i] == '.')
                {
                    i += 1;
                }
                out.push(Tok::Ident(c[start..i].iter().collect()));
            }
            _ => return Err(format!("unexpected character '{ch}' at {i}")),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Field(String),
    /// Member access into a child collection (`BPADDRESS.WEB`, §1.4 `a.b`): a predicate naming
    /// one holds when any line of the collection makes it hold (any-line: UNCONFIRMED).
    Member(String, String),
    Lit(Val),
    Call(String, Vec<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    Like(Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    Arith(char, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Num(Decimal),
    Str(String),
    Date(String),
    DateTime(String),
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    def: &'a NodeDef,
}

impl Parser<'_> {
    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.toks.get(self.pos) == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok) -> Result<(), String> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(format!("expected {t:?} at token {}", self.pos))
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.eat_kw("or") {
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.not()?;
        while self.eat_kw("and") {
            l = Expr::And(Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat_kw("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, String> {
        let l = self.add()?;
        for (kw, op) in [
            ("eq", Cmp::Eq),
            ("ne", Cmp::Ne),
            ("lt", Cmp::Lt),
            ("le", Cmp::Le),
            ("gt", Cmp::Gt),
            ("ge", Cmp::Ge),
        ] {
            if self.eat_kw(kw) {
                return Ok(Expr::Cmp(op, Box::new(l), Box::new(self.add()?)));
            }
        }
        let negate = self.peek_kw("not")
            && matches!(self.toks.get(self.pos + 1), Some(Tok::Ident(s))
                if ["like", "in", "between"].iter().any(|k| s.eq_ignore_ascii_case(k)));
        if negate {
            self.pos += 1;
        }
        let e = if self.eat_kw("like") {
            Expr::Like(Box::new(l), Box::new(self.add()?))
        } else if self.eat_kw("in") {
            self.expect(&Tok::LParen)?;
            let mut items = vec![self.add()?];
            while self.eat(&Tok::Comma) {
                items.push(self.add()?);
            }
            self.expect(&Tok::RParen)?;
            Expr::In(Box::new(l), items)
        } else if self.eat_kw("between") {
            let lo = self.add()?;
            if !self.eat_kw("and") {
                return Err("expected 'and' in between".into());
            }
            Expr::Between(Box::new(l), Box::new(lo), Box::new(self.add()?))
        } else {
            return Ok(l);
        };
        Ok(if negate { Expr::Not(Box::new(e)) } else { e })
    }

    fn add(&mut self) -> Result<Expr, String> {
        let mut l = self.mul()?;
        loop {
            if self.eat(&Tok::Plus) {
                l = Expr::Arith('+', Box::new(l), Box::new(self.mul()?));
            } else if self.eat(&Tok::Minus) {
                l = Expr::Arith('-', Box::new(l), Box::new(self.mul()?));
            } else {
                return Ok(l);
            }
        }
    }

    fn mul(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        loop {
            let op = if self.eat_kw("mul") {
                '*'
            } else if self.eat_kw("div") {
                '/'
            } else if self.eat_kw("mod") {
                '%'
            } else {
                return Ok(l);
            };
            l = Expr::Arith(op, Box::new(l), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat(&Tok::Minus) {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or("unexpected end of expression")?;
        self.pos += 1;
        Ok(match t {
            Tok::LParen => {
                let e = self.or()?;
                self.expect(&Tok::RParen)?;
                e
            }
            Tok::Str(s) => Expr::Lit(Val::Str(s)),
            Tok::Num(n) => Expr::Lit(Val::Num(n)),
            Tok::Date(d) => Expr::Lit(Val::Date(d)),
            Tok::DateTime(d) => Expr::Lit(Val::DateTime(d)),
            Tok::Ident(name) => {
                let low = name.to_ascii_lowercase();
                if self.eat(&Tok::LParen) {
                    let arity = match low.as_str() {
                        "left" | "right" => 2,
                        "upper" | "lower" | "trim" | "len" => 1,
                        _ => return Err(format!("unknown function {name}")),
                    };
                    let mut args = vec![self.or()?];
                    while self.eat(&Tok::Comma) {
                        args.push(self.or()?);
                    }
                    self.expect(&Tok::RParen)?;
                    if args.len() != arity {
                        return Err(format!("{name} takes {arity} argument(s)"));
                    }
                    return Ok(Expr::Call(low, args));
                }
                match low.as_str() {
                    "true" => Expr::Lit(Val::Bool(true)),
                    "false" => Expr::Lit(Val::Bool(false)),
                    "null" => Expr::Lit(Val::Null),
                    _ => match name.split_once('.') {
                        Some((coll, field)) => {
                            let known = self
                                .def
                                .collection(coll)
                                .is_some_and(|c| c.line.field(field).is_some());
                            if !known {
                                return Err(unknown_property(&name));
                            }
                            Expr::Member(coll.to_string(), field.to_string())
                        }
                        None => {
                            if self.def.field(&name).is_none() {
                                return Err(unknown_property(&name));
                            }
                            Expr::Field(name)
                        }
                    },
                }
            }
            other => return Err(format!("unexpected {other:?}")),
        })
    }
}

/// X3's message for a `where` naming a property the class does not have (field name first).
fn unknown_property(name: &str) -> String {
    format!("{name} : Property does not exist (where clause)")
}

const UNKNOWN_SUFFIX: &str = " : Property does not exist (where clause)";

/// Parse a `where` expression against the field codes of `def`. The error is the whole message
/// the client sees: `F : Property does not exist (where clause)` for an unknown property,
/// `Invalid where clause: …` for anything else.
pub fn parse_where(s: &str, def: &NodeDef) -> Result<Expr, String> {
    let parse = || {
        let toks = lex(s)?;
        let mut p = Parser { toks, pos: 0, def };
        let e = p.or()?;
        if p.pos != p.toks.len() {
            return Err(format!("unexpected token {:?}", p.toks[p.pos]));
        }
        Ok(e)
    };
    parse().map_err(|m: String| {
        if m.ends_with(UNKNOWN_SUFFIX) {
            m
        } else {
            format!("Invalid where clause: {m}")
        }
    })
}

/// A stored field value as an evaluation value, by field type.
pub fn field_val(def: &NodeDef, rec: &serde_json::Map<String, Value>, code: &str) -> Val {
    typed_val(def.field(code).map_or(Ty::Str(0), |f| f.ty), rec.get(code))
}

fn typed_val(ty: Ty, v: Option<&Value>) -> Val {
    let Some(v) = v else {
        return Val::Null;
    };
    match (ty, v) {
        (_, Value::Null) => Val::Null,
        (Ty::Int | Ty::Dec, v) => to_decimal(v).map_or(Val::Null, Val::Num),
        (Ty::Date, Value::String(s)) => Val::Date(s.clone()),
        (Ty::DateTime, Value::String(s)) => Val::DateTime(s.clone()),
        (_, Value::String(s)) => Val::Str(s.clone()),
        (_, Value::Array(a)) => Val::Str(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (_, Value::Number(n)) => Decimal::from_str(&n.to_string()).map_or(Val::Null, Val::Num),
        (_, Value::Bool(b)) => Val::Bool(*b),
        (_, Value::Object(_)) => Val::Null,
    }
}

fn text(v: &Val) -> Option<String> {
    match v {
        Val::Str(s) | Val::Date(s) | Val::DateTime(s) => Some(s.clone()),
        Val::Num(n) => Some(n.normalize().to_string()),
        Val::Bool(b) => Some(b.to_string()),
        Val::Null => None,
    }
}

/// Order two values; `None` when either is null (SQL-like: null compares to nothing).
pub fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    use Val::*;
    match (a, b) {
        (Null, _) | (_, Null) => None,
        (Num(x), Num(y)) => Some(x.cmp(y)),
        (Num(x), Str(s)) => Decimal::from_str(s.trim()).ok().map(|y| x.cmp(&y)),
        (Str(s), Num(y)) => Decimal::from_str(s.trim()).ok().map(|x| x.cmp(y)),
        // A date against a datetime means midnight UTC of that date.
        (Date(d), DateTime(t)) => Some(format!("{d}T00:00:00Z").cmp(t)),
        (DateTime(t), Date(d)) => Some(t.cmp(&format!("{d}T00:00:00Z"))),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        _ => Some(text(a)?.cmp(&text(b)?)),
    }
}

/// SQL `like`: `%` any run, `_` one character; case-sensitive.
pub fn like(s: &str, pat: &str) -> bool {
    fn go(s: &[char], p: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|i| go(&s[i..], &p[1..])),
            Some('_') => !s.is_empty() && go(&s[1..], &p[1..]),
            Some(c) => s.first() == Some(c) && go(&s[1..], &p[1..]),
        }
    }
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = pat.chars().collect();
    go(&s, &p)
}

fn truthy(v: &Val) -> bool {
    matches!(v, Val::Bool(true))
}

type Obj = serde_json::Map<String, Value>;

/// One record under evaluation, with the collection lines bound so far (member access).
struct Env<'a> {
    def: &'a NodeDef,
    rec: &'a Obj,
    bound: Vec<(&'a str, &'a Obj)>,
}

/// Collections named by member accesses in `e` that are not bound yet.
fn unbound<'e>(e: &'e Expr, env: &Env, out: &mut Vec<&'e str>) {
    let mut go = |x: &'e Expr| unbound(x, env, out);
    match e {
        Expr::Member(c, _) => {
            if !env.bound.iter().any(|(b, _)| b == c) && !out.contains(&c.as_str()) {
                out.push(c);
            }
        }
        Expr::Field(_) | Expr::Lit(_) => {}
        Expr::Call(_, args) => args.iter().for_each(go),
        Expr::Not(x) | Expr::Neg(x) => go(x),
        Expr::And(a, b)
        | Expr::Or(a, b)
        | Expr::Cmp(_, a, b)
        | Expr::Like(a, b)
        | Expr::Arith(_, a, b) => {
            go(a);
            go(b);
        }
        Expr::In(a, items) => {
            go(a);
            items.iter().for_each(go);
        }
        Expr::Between(a, lo, hi) => {
            go(a);
            go(lo);
            go(hi);
        }
    }
}

/// Evaluate against one record.
pub fn eval(e: &Expr, def: &NodeDef, rec: &Obj) -> Val {
    eval_in(
        e,
        &Env {
            def,
            rec,
            bound: Vec::new(),
        },
    )
}

fn eval_in(e: &Expr, env: &Env) -> Val {
    if matches!(
        e,
        Expr::Cmp(..) | Expr::Like(..) | Expr::In(..) | Expr::Between(..)
    ) {
        // A predicate over collection members: true when some line (per collection) makes it
        // true; a record without lines matches nothing.
        let mut colls = Vec::new();
        unbound(e, env, &mut colls);
        if let Some(c) = colls.first() {
            let lines: Vec<&Obj> = match env.rec.get(*c) {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
                _ => Vec::new(),
            };
            let any = lines.into_iter().any(|l| {
                let mut bound = env.bound.clone();
                bound.push((c, l));
                let inner = Env {
                    def: env.def,
                    rec: env.rec,
                    bound,
                };
                truthy(&eval_in(e, &inner))
            });
            return Val::Bool(any);
        }
    }
    let ev = |x: &Expr| eval_in(x, env);
    let (def, rec) = (env.def, env.rec);
    match e {
        Expr::Field(f) => field_val(def, rec, f),
        Expr::Member(c, f) => match env.bound.iter().find(|(b, _)| b == c) {
            Some((_, line)) => typed_val(
                def.collection(c)
                    .and_then(|cd| cd.line.field(f))
                    .map_or(Ty::Str(0), |fd| fd.ty),
                line.get(f.as_str()),
            ),
            None => Val::Null,
        },
        Expr::Lit(v) => v.clone(),
        Expr::Not(x) => Val::Bool(!truthy(&ev(x))),
        Expr::And(a, b) => Val::Bool(truthy(&ev(a)) && truthy(&ev(b))),
        Expr::Or(a, b) => Val::Bool(truthy(&ev(a)) || truthy(&ev(b))),
        Expr::Cmp(op, a, b) => {
            let (a, b) = (ev(a), ev(b));
            let r = match (op, &a, &b) {
                (Cmp::Eq, Val::Null, Val::Null) => true,
                (Cmp::Ne, Val::Null, Val::Null) => false,
                (Cmp::Ne, Val::Null, _) | (Cmp::Ne, _, Val::Null) => true,
                _ => compare(&a, &b).is_some_and(|o| match op {
                    Cmp::Eq => o == Ordering::Equal,
                    Cmp::Ne => o != Ordering::Equal,
                    Cmp::Lt => o == Ordering::Less,
                    Cmp::Le => o != Ordering::Greater,
                    Cmp::Gt => o == Ordering::Greater,
                    Cmp::Ge => o != Ordering::Less,
                }),
            };
            Val::Bool(r)
        }
        Expr::Like(a, p) => Val::Bool(match (text(&ev(a)), text(&ev(p))) {
            (Some(s), Some(p)) => like(&s, &p),
            _ => false,
        }),
        Expr::In(a, items) => {
            let a = ev(a);
            Val::Bool(
                items
                    .iter()
                    .any(|i| compare(&a, &ev(i)) == Some(Ordering::Equal)),
            )
        }
        Expr::Between(a, lo, hi) => {
            let a = ev(a);
            Val::Bool(
                compare(&a, &ev(lo)).is_some_and(|o| o != Ordering::Less)
                    && compare(&a, &ev(hi)).is_some_and(|o| o != Ordering::Greater),
            )
        }
        Expr::Neg(x) => match ev(x) {
            Val::Num(n) => Val::Num(-n),
            _ => Val::Null,
        },
        Expr::Arith(op, a, b) => {
            let (a, b) = (ev(a), ev(b));
            let num = |v: &Val| match v {
                Val::Num(n) => Some(*n),
                Val::Str(s) => Decimal::from_str(s.trim()).ok(),
                _ => None,
            };
            match (num(&a), num(&b)) {
                (Some(x), Some(y)) => match op {
                    '+' => Val::Num(x + y),
                    '-' => Val::Num(x - y),
                    '*' => Val::Num(x * y),
                    '/' if !y.is_zero() => Val::Num(x / y),
                    '%' if !y.is_zero() => Val::Num(x % y),
                    _ => Val::Null,
                },
                _ if *op == '+' => match (text(&a), text(&b)) {
                    (Some(x), Some(y)) => Val::Str(x + &y),
                    _ => Val::Null,
                },
                _ => Val::Null,
            }
        }
        Expr::Call(f, args) => {
            let a = ev(&args[0]);
            let n = || match args.get(1).map(ev) {
                Some(Val::Num(n)) => n.trunc().to_string().parse::<usize>().unwrap_or(0),
                _ => 0,
            };
            let Some(s) = text(&a) else {
                return Val::Null;
            };
            match f.as_str() {
                "upper" => Val::Str(s.to_uppercase()),
                "lower" => Val::Str(s.to_lowercase()),
                "trim" => Val::Str(s.trim().to_string()),
                "len" => Val::Num(Decimal::from(s.chars().count())),
                "left" => Val::Str(s.chars().take(n()).collect()),
                "right" => {
                    let c: Vec<char> = s.chars().collect();
                    Val::Str(c[c.len().saturating_sub(n())..].iter().collect())
                }
                _ => Val::Null,
            }
        }
    }
}

pub fn matches(e: &Expr, def: &NodeDef, rec: &Obj) -> bool {
    truthy(&eval(e, def, rec))
}

/// `orderBy=F1 desc, F2` (also `;` separated, x3-api.md §1.3): (field code, descending).
pub fn parse_order_by(s: &str, def: &NodeDef) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    for part in s.split([',', ';']) {
        let mut words = part.split_whitespace();
        let Some(field) = words.next() else { continue };
        if def.field(field).is_none() {
            return Err(format!("{field} : Property does not exist (orderBy)"));
        }
        let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(o) => return Err(format!("Invalid orderBy: invalid sort direction {o}")),
        };
        if words.next().is_some() {
            return Err(format!("Invalid orderBy: invalid part '{part}'"));
        }
        out.push((field.to_string(), desc));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x3::schema::ORDER;
    use serde_json::json;

    fn rec() -> serde_json::Map<String, Value> {
        json!({"SOHNUM":"SOH1","CUSORDREF":"o'brien","ORDDAT":"2025-06-06","DLVSTA":2,
               "CREDATTIM":"2025-06-06T10:00:00Z","BPCORD":"fr004"})
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    #[test]
    fn where_clauses_evaluate() {
        for (w, want) in [
            ("CUSORDREF eq 'o''brien'", true),
            ("upper(BPCORD) eq 'FR004'", true),
            ("left(SOHNUM,3) eq 'SOH'", true),
            ("DLVSTA in (1,2)", true),
            ("DLVSTA between 3 and 4", false),
            ("CUSORDREF like '%bri%'", true),
            ("ORDDAT ge @2025-06-06@ and not DLVSTA eq 1", true),
            ("CREDATTIM ge @2025-06-06T00:00:01Z@and DLVSTA eq 2", true),
            ("CREDATTIM gt @2025-06-07@ or (DLVSTA ne 2)", false),
            ("DLVSTA not in (2)", false),
        ] {
            let e = parse_where(w, &ORDER).unwrap_or_else(|m| panic!("{w}: {m}"));
            assert_eq!(matches(&e, &ORDER, &rec()), want, "{w}");
        }
    }

    #[test]
    fn unknown_field_and_garbage_are_errors() {
        assert!(parse_where("NOPE eq 1", &ORDER).is_err());
        assert!(parse_where("SOHNUM eq", &ORDER).is_err());
        assert!(parse_where("SOHNUM eq 'x", &ORDER).is_err());
    }
}
