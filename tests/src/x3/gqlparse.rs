//! A small GraphQL document parser: operations (`query`/`mutation`, variables with defaults),
//! fields with aliases and arguments, fragments (named and inline, expanded at parse time),
//! directives (parsed and ignored), all value literals. Enough for what X3 clients send
//! (x3-api.md §3.3, §3.5); not a validator.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum GValue {
    Var(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
    Enum(String),
    List(Vec<GValue>),
    Object(Vec<(String, GValue)>),
}

impl GValue {
    /// Resolve variables and turn into JSON.
    pub fn to_json(&self, vars: &Map<String, Value>) -> Value {
        match self {
            GValue::Var(v) => vars.get(v).cloned().unwrap_or(Value::Null),
            GValue::Int(i) => Value::from(*i),
            GValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            GValue::Str(s) | GValue::Enum(s) => Value::String(s.clone()),
            GValue::Bool(b) => Value::Bool(*b),
            GValue::Null => Value::Null,
            GValue::List(l) => Value::Array(l.iter().map(|x| x.to_json(vars)).collect()),
            GValue::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), v.to_json(vars)))
                    .collect(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub args: Vec<(String, GValue)>,
    pub sel: Vec<Field>,
}

impl Field {
    pub fn out_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    pub fn arg(&self, name: &str) -> Option<&GValue> {
        self.args.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Query,
    Mutation,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OpKind,
    pub name: Option<String>,
    pub var_defaults: Vec<(String, Option<GValue>)>,
    pub sel: Vec<Field>,
}

#[derive(Debug, Clone)]
enum Sel {
    Field(Field, Vec<Sel>),
    Spread(String),
    Inline(Vec<Sel>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() || ch == ',' || ch == '\u{feff}' {
            i += 1;
        } else if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if "!$():=@[]{}|&".contains(ch) {
            out.push(Tok::Punct(ch));
            i += 1;
        } else if ch == '.' {
            if c.get(i + 1) == Some(&'.') && c.get(i + 2) == Some(&'.') {
                out.push(Tok::Spread);
                i += 3;
            } else {
                return Err(format!("Syntax Error: unexpected '.' at {i}"));
            }
        } else if ch == '"' {
            if c.get(i + 1) == Some(&'"') && c.get(i + 2) == Some(&'"') {
                let start = i + 3;
                let mut j = start;
                while j + 2 < c.len() && !(c[j] == '"' && c[j + 1] == '"' && c[j + 2] == '"') {
                    j += 1;
                }
                if j + 2 >= c.len() {
                    return Err("Syntax Error: unterminated block string".into());
                }
                out.push(Tok::Str(
                    c[start..j].iter().collect::<String>().trim().to_string(),
                ));
                i = j + 3;
                continue;
            }
            i += 1;
            let mut s = String::new();
            loop {
                let x = *c.get(i).ok_or("Syntax Error: unterminated string")?;
                i += 1;
                match x {
                    '"' => break,
                    '\\' => {
                        let e = *c.get(i).ok_or("Syntax Error: unterminated string")?;
                        i += 1;
                        match e {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            'u' => {
                                let hex: String = c
                                    .get(i..i + 4)
                                    .ok_or("Syntax Error: bad \\u")?
                                    .iter()
                                    .collect();
                                i += 4;
                                let mut cp = u32::from_str_radix(&hex, 16)
                                    .map_err(|_| "Syntax Error: bad \\u")?;
                                if (0xD800..0xDC00).contains(&cp)
                                    && c.get(i) == Some(&'\\')
                                    && c.get(i + 1) == Some(&'u')
                                {
                                    let lo: String = c
                                        .get(i + 2..i + 6)
                                        .ok_or("Syntax Error: bad \\u")?
                                        .iter()
                                        .collect();
                                    let lo = u32::from_str_radix(&lo, 16)
                                        .map_err(|_| "Syntax Error: bad \\u")?;
                                    i += 6;
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                }
                                s.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            }
                            other => s.push(other),
                        }
                    }
                    _ => s.push(x),
                }
            }
            out.push(Tok::Str(s));
        } else if ch == '-' || ch.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < c.len() && (c[i].is_ascii_digit() || ".eE+-".contains(c[i])) {
                i += 1;
            }
            let lit: String = c[start..i].iter().collect();
            if let Ok(n) = lit.parse::<i64>() {
                out.push(Tok::Int(n));
            } else {
                out.push(Tok::Float(
                    lit.parse()
                        .map_err(|_| format!("Syntax Error: invalid number {lit}"))?,
                ));
            }
        } else if ch.is_ascii_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Name(c[start..i].iter().collect()));
        } else {
            return Err(format!("Syntax Error: Unexpected character \"{ch}\""));
        }
    }
    Ok(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }

    fn next(&mut self) -> Result<Tok, String> {
        let t = self
            .t
            .get(self.i)
            .cloned()
            .ok_or("Syntax Error: Unexpected <EOF>")?;
        self.i += 1;
        Ok(t)
    }

    fn punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.punct(c) {
            Ok(())
        } else {
            Err(format!(
                "Syntax Error: Expected \"{c}\", found {:?}",
                self.peek()
            ))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Tok::Name(n) => Ok(n),
            other => Err(format!("Syntax Error: Expected Name, found {other:?}")),
        }
    }

    fn value(&mut self, is_const: bool) -> Result<GValue, String> {
        Ok(match self.next()? {
            Tok::Punct('$') if !is_const => GValue::Var(self.name()?),
            Tok::Int(n) => GValue::Int(n),
            Tok::Float(f) => GValue::Float(f),
            Tok::Str(s) => GValue::Str(s),
            Tok::Name(n) => match n.as_str() {
                "true" => GValue::Bool(true),
                "false" => GValue::Bool(false),
                "null" => GValue::Null,
                _ => GValue::Enum(n),
            },
            Tok::Punct('[') => {
                let mut l = Vec::new();
                while !self.punct(']') {
                    l.push(self.value(is_const)?);
                }
                GValue::List(l)
            }
            Tok::Punct('{') => {
                let mut o = Vec::new();
                while !self.punct('}') {
                    let k = self.name()?;
                    self.expect(':')?;
                    o.push((k, self.value(is_const)?));
                }
                GValue::Object(o)
            }
            other => return Err(format!("Syntax Error: Unexpected {other:?}")),
        })
    }

    fn directives(&mut self) -> Result<(), String> {
        while self.punct('@') {
            self.name()?;
            if self.punct('(') {
                while !self.punct(')') {
                    self.name()?;
                    self.expect(':')?;
                    self.value(false)?;
                }
            }
        }
        Ok(())
    }

    fn type_ref(&mut self) -> Result<(), String> {
        if self.punct('[') {
            self.type_ref()?;
            self.expect(']')?;
        } else {
            self.name()?;
        }
        self.punct('!');
        Ok(())
    }

    fn selection_set(&mut self) -> Result<Vec<Sel>, String> {
        self.expect('{')?;
        let mut out = Vec::new();
        while !self.punct('}') {
            if self.peek() == Some(&Tok::Spread) {
                self.i += 1;
                if self.peek() == Some(&Tok::Name("on".into())) {
                    self.i += 1;
                    self.name()?;
                    self.directives()?;
                    out.push(Sel::Inline(self.selection_set()?));
                } else if self.peek() == Some(&Tok::Punct('{'))
                    || self.peek() == Some(&Tok::Punct('@'))
                {
                    self.directives()?;
                    out.push(Sel::Inline(self.selection_set()?));
                } else {
                    let n = self.name()?;
                    self.directives()?;
                    out.push(Sel::Spread(n));
                }
                continue;
            }
            let first = self.name()?;
            let (alias, name) = if self.punct(':') {
                (Some(first), self.name()?)
            } else {
                (None, first)
            };
            let mut args = Vec::new();
            if self.punct('(') {
                while !self.punct(')') {
                    let k = self.name()?;
                    self.expect(':')?;
                    args.push((k, self.value(false)?));
                }
            }
            self.directives()?;
            let sub = if self.peek() == Some(&Tok::Punct('{')) {
                self.selection_set()?
            } else {
                Vec::new()
            };
            out.push(Sel::Field(
                Field {
                    alias,
                    name,
                    args,
                    sel: Vec::new(),
                },
                sub,
            ));
        }
        Ok(out)
    }
}

fn expand(sels: &[Sel], frags: &[(String, Vec<Sel>)], depth: usize) -> Result<Vec<Field>, String> {
    if depth > 32 {
        return Err("fragment cycle".into());
    }
    let mut out = Vec::new();
    for s in sels {
        match s {
            Sel::Field(f, sub) => {
                let mut f = f.clone();
                f.sel = expand(sub, frags, depth + 1)?;
                out.push(f);
            }
            Sel::Inline(sub) => out.extend(expand(sub, frags, depth + 1)?),
            Sel::Spread(n) => {
                let (_, body) = frags
                    .iter()
                    .find(|(k, _)| k == n)
                    .ok_or(format!("Unknown fragment \"{n}\"."))?;
                out.extend(expand(body, frags, depth + 1)?);
            }
        }
    }
    Ok(out)
}

/// An operation before fragment expansion: kind, name, variable defaults, selections.
type RawOp = (
    OpKind,
    Option<String>,
    Vec<(String, Option<GValue>)>,
    Vec<Sel>,
);

/// Parse a document and pick the operation (by name when several).
pub fn parse(src: &str, operation_name: Option<&str>) -> Result<Operation, String> {
    let mut p = P { t: lex(src)?, i: 0 };
    let mut ops: Vec<RawOp> = Vec::new();
    let mut frags: Vec<(String, Vec<Sel>)> = Vec::new();
    while p.peek().is_some() {
        if p.peek() == Some(&Tok::Punct('{')) {
            ops.push((OpKind::Query, None, Vec::new(), p.selection_set()?));
            continue;
        }
        let kw = p.name()?;
        match kw.as_str() {
            "query" | "mutation" => {
                let kind = if kw == "query" {
                    OpKind::Query
                } else {
                    OpKind::Mutation
                };
                let name = match p.peek() {
                    Some(Tok::Name(_)) => Some(p.name()?),
                    _ => None,
                };
                let mut vars = Vec::new();
                if p.punct('(') {
                    while !p.punct(')') {
                        p.expect('$')?;
                        let v = p.name()?;
                        p.expect(':')?;
                        p.type_ref()?;
                        let def = if p.punct('=') {
                            Some(p.value(true)?)
                        } else {
                            None
                        };
                        p.directives()?;
                        vars.push((v, def));
                    }
                }
                p.directives()?;
                ops.push((kind, name, vars, p.selection_set()?));
            }
            "fragment" => {
                let n = p.name()?;
                if p.name()? != "on" {
                    return Err("Syntax Error: Expected \"on\"".into());
                }
                p.name()?;
                p.directives()?;
                frags.push((n, p.selection_set()?));
            }
            "subscription" => return Err("Subscriptions are not supported".into()),
            other => return Err(format!("Syntax Error: Unexpected Name \"{other}\"")),
        }
    }
    let chosen = match operation_name {
        Some(n) => ops
            .into_iter()
            .find(|o| o.1.as_deref() == Some(n))
            .ok_or(format!("Unknown operation named \"{n}\"."))?,
        None => {
            if ops.len() > 1 {
                return Err(
                    "Must provide operation name if query contains multiple operations.".into(),
                );
            }
            ops.into_iter().next().ok_or("Must provide an operation.")?
        }
    };
    Ok(Operation {
        kind: chosen.0,
        name: chosen.1,
        var_defaults: chosen.2,
        sel: expand(&chosen.3, &frags, 0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sage_sample_shapes() {
        let op = parse(
            r#"query mySpeList($first: Int!, $filter: String = "{}") {
              x3Sales { salesOrder { query(first: $first, filter: $filter) {
                totalCount edges { cursor node { ...F id } } } } } }
              fragment F on SalesOrder { _id n: customerOrderReference }"#,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(op.kind, OpKind::Query);
        assert_eq!(op.var_defaults.len(), 2);
        let q = &op.sel[0].sel[0].sel[0];
        assert_eq!(q.name, "query");
        let node = &q.sel[1].sel[1];
        let names: Vec<_> = node.sel.iter().map(|f| f.out_name().to_string()).collect();
        assert_eq!(names, ["_id", "n", "id"]);
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(parse("query { x3Sales { ", None).is_err());
        assert!(parse("{ a } { b }", None).is_err());
    }
}
