//! Rule conditions: a small expression language read by a parser, never
//! executed as code (DESIGN §11.12).
//!
//! ```text
//! or    := and (("or" | "||") and)*
//! and   := not (("and" | "&&") not)*
//! not   := ("not" | "!") not | cmp
//! cmp   := sum (OP sum)*                    (OP: < <= > >= == !=, chained like Python)
//!        | sum "is" ["not"] "None"
//!        | sum ["not"] "in" list            (not chained with other comparisons)
//! sum   := prod (("+" | "-") prod)*
//! prod  := unary (("*" | "/" | "//" | "%") unary)*
//! unary := ("-" | "+") unary | power
//! power := atom ["**" unary]                (so `-2 ** 2` is -4, `2 ** 3 ** 2` is 512)
//! atom  := number | 'str' | "str" | True | False | None | NAME
//!        | FUNC "(" [or ("," or)* [","]] ")" | "(" or ")"
//! FUNC  := abs (one value) | min, max (two or more) | round (a value, then digits)
//! list  := "(" ")" | "(" lit "," [lit ("," lit)* [","]] ")" | "[" [lit ("," lit)* [","]] "]"
//! lit   := ["-" | "+"] number | 'str' | "str" | True | False | None
//! ```
//!
//! Arithmetic follows Python's floats: `//` is the floor of the quotient
//! and `%` takes the sign of the divisor (`-7 // 2 == -4`, `-7 % 3 == 2`);
//! `round` rounds half to even at the value's exact binary expansion
//! (`round(2.5) == 2`, `round(0.125, 2) == 0.12`); `in` holds when the value
//! equals a listed one by `==` (so `1 in (1.0,)`, and `True in (1,)` as in
//! Python). Where Python raises, the rule is skipped: division by zero, `0 **
//! -1`, a negative number to a fractional power (Python gives a complex
//! number), a finite `**` or `round` whose result is too large for a float
//! (Python's `OverflowError`; integers past 1.8e308, which Python keeps
//! exact, skip too), `round` of an infinity or NaN, and min/max over None or
//! strings (strings are not ordered here, as with `<`). `min` and `max` with
//! one argument need a list in Python, which conditions do not have, so they
//! are refused when the policy loads, like an unknown function.
//!
//! Names resolve to slots when the policy loads (an unknown name is a load
//! error); evaluation reads the slots and allocates nothing. A list after
//! `in` and a call's arguments are bounded by [`MAX_LEN`], nesting by
//! [`MAX_DEPTH`].

use std::fmt;

/// The functions conditions may call.
const FUNCTIONS: &str = "abs, max, min, round";

/// The longest expression accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// A value during evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    None,
    Bool(bool),
    Num(f64),
    Str(&'a str),
}

impl Val<'_> {
    fn truthy(self) -> bool {
        match self {
            Val::None => false,
            Val::Bool(b) => b,
            Val::Num(n) => n != 0.0,
            Val::Str(s) => !s.is_empty(),
        }
    }

    fn num(self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(n),
            Val::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }
}

/// A parse error: what, and the character position in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position + 1, self.message)
    }
}

/// Why an evaluation did not give a value (the rule is skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalError {
    /// An ordering or arithmetic on None, a string ordered against a number,
    /// a negative number to a fractional power, `round` of NaN.
    Type,
    /// Division, floor division or modulo by zero, or zero to a negative
    /// power.
    DivisionByZero,
    /// A finite `**` or `round` whose result is past a float's range, or
    /// `round` of an infinity (Python's `OverflowError`).
    Overflow,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    /// `//`, the floor of the quotient.
    FloorDiv,
    /// `%`, with the sign of the divisor.
    Rem,
    /// `**`.
    Pow,
}

/// `min` or `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extreme {
    Min,
    Max,
}

/// A parsed expression over variable slots.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Str(String),
    Bool(bool),
    None,
    Var(usize),
    Neg(Box<Expr>),
    /// Unary `+`: the value, which must be a number.
    Pos(Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    /// `a < b <= c`: each adjacent pair must hold.
    Chain(Box<Expr>, Vec<(Cmp, Expr)>),
    Is(Box<Expr>, bool),
    /// `e in (…)`, or `e not in (…)` when negated; the list holds literals.
    In(Box<Expr>, Box<[Expr]>, bool),
    Abs(Box<Expr>),
    /// `round(x)` or `round(x, digits)`.
    Round(Box<Expr>, Option<Box<Expr>>),
    /// `min(first, rest…)` or `max(first, rest…)`, `rest` not empty.
    Extreme(Extreme, Box<Expr>, Box<[Expr]>),
    /// `name OP number`, the common case, folded at parse time.
    VarCmp(usize, Cmp, f64),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Name(String),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

fn tokenize(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |position: usize, message: String| ParseError { position, message };
    while let Some(&c) = chars.get(i) {
        let start = i;
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push((start, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((start, Tok::RParen));
                i += 1;
            }
            '[' => {
                out.push((start, Tok::LBracket));
                i += 1;
            }
            ']' => {
                out.push((start, Tok::RBracket));
                i += 1;
            }
            ',' => {
                out.push((start, Tok::Comma));
                i += 1;
            }
            '.' if !chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                out.push((start, Tok::Op(".")));
                i += 1;
            }
            '0'..='9' | '.' => {
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
                {
                    i += 1;
                }
                if chars.get(i).is_some_and(|c| *c == 'e' || *c == 'E') {
                    i += 1;
                    if chars.get(i).is_some_and(|c| *c == '+' || *c == '-') {
                        i += 1;
                    }
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                }
                let text: String = chars
                    .get(start..i)
                    .unwrap_or_default()
                    .iter()
                    .filter(|c| **c != '_')
                    .collect();
                let n: f64 = text
                    .parse()
                    .map_err(|_| err(start, format!("`{text}` is not a number")))?;
                out.push((start, Tok::Num(n)));
            }
            '\'' | '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, "string is not closed".into())),
                        Some(q) if *q == c => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            if let Some(e) = chars.get(i + 1) {
                                s.push(*e);
                            }
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            c if c.is_alphabetic() || c == '_' => {
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    i += 1;
                }
                let name: String = chars.get(start..i).unwrap_or_default().iter().collect();
                out.push((start, Tok::Name(name)));
            }
            _ => {
                let two: String = chars.get(i..i + 2).unwrap_or_default().iter().collect();
                let op = ["<=", ">=", "==", "!=", "&&", "||", "**", "//"]
                    .into_iter()
                    .find(|o| *o == two);
                if let Some(op) = op {
                    out.push((start, Tok::Op(op)));
                    i += 2;
                } else {
                    let one = ["<", ">", "+", "-", "*", "/", "%", "!"]
                        .into_iter()
                        .find(|o| o.starts_with(c));
                    match one {
                        Some(op) => {
                            out.push((start, Tok::Op(op)));
                            i += 1;
                        }
                        None => return Err(err(start, format!("unexpected character `{c}`"))),
                    }
                }
            }
        }
    }
    Ok(out)
}

struct Parser<'n> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
    end: usize,
    names: &'n [&'n str],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(p, _)| *p)
    }

    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            position: self.at(),
            message: message.into(),
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == w)
    }

    fn is_op(&self, o: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(op)) if *op == o)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut left = self.and()?;
        while self.is_word("or") || self.is_op("||") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while self.is_word("and") || self.is_op("&&") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.is_word("not") || self.is_op("!") {
            self.pos += 1;
            self.enter()?;
            let e = Expr::Not(Box::new(self.not()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let first = self.sum()?;
        if self.is_word("is") {
            self.pos += 1;
            let negated = if self.is_word("not") {
                self.pos += 1;
                true
            } else {
                false
            };
            if !self.is_word("None") {
                return Err(self.err("`is` and `is not` compare only with `None`"));
            }
            self.pos += 1;
            return Ok(Expr::Is(Box::new(first), negated));
        }
        if let Some(negated) = self.membership() {
            let items = self.list()?;
            if self.comparison().is_some() || self.is_membership() {
                return Err(self.err("`in` is not chained with other comparisons; add parentheses"));
            }
            return Ok(Expr::In(Box::new(first), items, negated));
        }
        let mut rest = Vec::new();
        while let Some(op) = self.comparison() {
            self.pos += 1;
            rest.push((op, self.sum()?));
        }
        if !rest.is_empty() && self.is_membership() {
            return Err(self.err("`in` is not chained with other comparisons; add parentheses"));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Chain(Box::new(first), rest)
        })
    }

    /// The comparison operator at the cursor, if any (not consumed).
    fn comparison(&self) -> Option<Cmp> {
        Some(match self.peek()? {
            Tok::Op("<") => Cmp::Lt,
            Tok::Op("<=") => Cmp::Le,
            Tok::Op(">") => Cmp::Gt,
            Tok::Op(">=") => Cmp::Ge,
            Tok::Op("==") => Cmp::Eq,
            Tok::Op("!=") => Cmp::Ne,
            _ => return None,
        })
    }

    /// Whether `in` or `not in` is at the cursor.
    fn is_membership(&self) -> bool {
        let next_is_in =
            matches!(self.toks.get(self.pos + 1), Some((_, Tok::Name(n))) if n == "in");
        self.is_word("in") || (self.is_word("not") && next_is_in)
    }

    /// Consumes `in` (giving false) or `not in` (giving true).
    fn membership(&mut self) -> Option<bool> {
        if !self.is_membership() {
            return None;
        }
        let negated = self.is_word("not");
        self.pos += if negated { 2 } else { 1 };
        Some(negated)
    }

    /// The literal tuple or list after `in`.
    fn list(&mut self) -> Result<Box<[Expr]>, ParseError> {
        let close = match self.peek() {
            Some(Tok::LParen) => Tok::RParen,
            Some(Tok::LBracket) => Tok::RBracket,
            _ => {
                return Err(
                    self.err("`in` takes a list of values, such as `('a', 'b')` or `[1, 2]`")
                );
            }
        };
        let open = self.at();
        self.pos += 1;
        let end = if close == Tok::RParen { ")" } else { "]" };
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            match self.peek() {
                None => return Err(self.err(format!("the list is not closed; expected `{end}`"))),
                Some(t) if *t == close => break,
                Some(_) => {}
            }
            items.push(self.literal()?);
            comma = self.peek() == Some(&Tok::Comma);
            if comma {
                self.pos += 1;
            } else if self.peek().is_some_and(|t| *t != close) {
                return Err(self.err(format!("expected `,` or `{end}`")));
            }
        }
        self.pos += 1;
        // Python reads `('a')` as one string (and `in` then looks for a
        // substring) and `(1)` as a number; neither is a list of values.
        if close == Tok::RParen && items.len() == 1 && !comma {
            return Err(ParseError {
                position: open,
                message: "one value in parentheses is not a tuple; write `(value,)` or `[value]`"
                    .into(),
            });
        }
        Ok(items.into_boxed_slice())
    }

    /// A literal in a list after `in`: a number (with its sign), a string,
    /// True, False or None.
    fn literal(&mut self) -> Result<Expr, ParseError> {
        let sign = if self.is_op("-") {
            self.pos += 1;
            Some(-1.0)
        } else if self.is_op("+") {
            self.pos += 1;
            Some(1.0)
        } else {
            None
        };
        let lit = match (self.peek(), sign) {
            (Some(Tok::Num(n)), _) => Expr::Num(*n * sign.unwrap_or(1.0)),
            (Some(Tok::Str(s)), None) => Expr::Str(s.clone()),
            (Some(Tok::Name(n)), None) => match n.as_str() {
                "True" | "true" => Expr::Bool(true),
                "False" | "false" => Expr::Bool(false),
                "None" | "null" => Expr::None,
                _ => return Err(self.not_a_literal()),
            },
            _ => return Err(self.not_a_literal()),
        };
        self.pos += 1;
        Ok(lit)
    }

    fn not_a_literal(&self) -> ParseError {
        self.err("a list after `in` holds only numbers, strings, True, False and None")
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.prod()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("+")) => Arith::Add,
                Some(Tok::Op("-")) => Arith::Sub,
                _ => break,
            };
            self.pos += 1;
            left = Expr::Arith(op, Box::new(left), Box::new(self.prod()?));
        }
        Ok(left)
    }

    fn prod(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("*")) => Arith::Mul,
                Some(Tok::Op("/")) => Arith::Div,
                Some(Tok::Op("//")) => Arith::FloorDiv,
                Some(Tok::Op("%")) => Arith::Rem,
                _ => break,
            };
            self.pos += 1;
            left = Expr::Arith(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let negative = self.is_op("-");
        if negative || self.is_op("+") {
            self.pos += 1;
            self.enter()?;
            let operand = Box::new(self.unary()?);
            self.depth -= 1;
            return Ok(if negative {
                Expr::Neg(operand)
            } else {
                Expr::Pos(operand)
            });
        }
        self.power()
    }

    /// `atom ** unary`: right-associative, and binding tighter than a
    /// unary minus on its left, as in Python.
    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.atom()?;
        if !self.is_op("**") {
            return Ok(base);
        }
        self.pos += 1;
        self.enter()?;
        let exponent = self.unary()?;
        self.depth -= 1;
        Ok(Expr::Arith(Arith::Pow, Box::new(base), Box::new(exponent)))
    }

    /// A call of `name`, whose `(` is at the cursor; `at` is the name's
    /// position.
    fn call(&mut self, name: &str, at: usize) -> Result<Expr, ParseError> {
        let err = |message: String| ParseError {
            position: at,
            message,
        };
        let func = match name {
            "abs" | "min" | "max" | "round" => name,
            _ if self.names.contains(&name) => {
                return Err(err(format!(
                    "`{name}` is a value, not a function; functions: {FUNCTIONS}"
                )));
            }
            _ => {
                return Err(err(format!(
                    "unknown function `{name}`; known functions: {FUNCTIONS}"
                )));
            }
        };
        self.pos += 1;
        let mut args = Vec::new();
        while self.peek() != Some(&Tok::RParen) {
            args.push(self.or()?);
            if self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
            } else if self.peek() != Some(&Tok::RParen) {
                return Err(self.err("expected `,` or `)`"));
            }
        }
        self.pos += 1;
        let count = args.len();
        let mut args = args.into_iter();
        match (func, args.next(), args.next()) {
            ("abs", Some(x), None) => Ok(Expr::Abs(Box::new(x))),
            ("round", Some(x), digits) if count <= 2 => {
                Ok(Expr::Round(Box::new(x), digits.map(Box::new)))
            }
            ("min" | "max", Some(first), Some(second)) => {
                let which = if func == "min" {
                    Extreme::Min
                } else {
                    Extreme::Max
                };
                let rest: Vec<Expr> = std::iter::once(second).chain(args).collect();
                Ok(Expr::Extreme(
                    which,
                    Box::new(first),
                    rest.into_boxed_slice(),
                ))
            }
            ("abs", ..) => Err(err(format!("`abs` takes one value, found {count}"))),
            ("round", ..) => Err(err(format!(
                "`round` takes a value and optionally a number of digits, found {count} arguments"
            ))),
            _ => Err(err(format!(
                "`{func}` takes two or more values, found {count} (with one, Python expects a list, which conditions do not have)"
            ))),
        }
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let Some((_, tok)) = self.toks.get(self.pos).cloned() else {
            return Err(self.err("the expression ends too early"));
        };
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::LParen => {
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err("expected `)`"));
                }
                self.pos += 1;
                Ok(e)
            }
            Tok::Name(n) if self.peek() == Some(&Tok::LParen) => {
                let at = self.toks.get(self.pos - 1).map_or(0, |(p, _)| *p);
                self.call(&n, at)
            }
            Tok::Name(n) => match n.as_str() {
                "True" | "true" => Ok(Expr::Bool(true)),
                "False" | "false" => Ok(Expr::Bool(false)),
                "None" | "null" => Ok(Expr::None),
                name => match self.names.iter().position(|k| *k == name) {
                    Some(slot) => Ok(Expr::Var(slot)),
                    None => {
                        self.pos -= 1;
                        Err(self.err(format!(
                            "unknown name `{name}`; known names: {}",
                            self.names.join(", ")
                        )))
                    }
                },
            },
            Tok::Op(op) => {
                self.pos -= 1;
                Err(self.err(format!("unexpected `{op}`")))
            }
            Tok::RParen | Tok::RBracket | Tok::LBracket | Tok::Comma => {
                self.pos -= 1;
                let what = match tok {
                    Tok::RParen => ")",
                    Tok::RBracket => "]",
                    Tok::LBracket => "[",
                    _ => ",",
                };
                Err(self.err(format!("unexpected `{what}`")))
            }
        }
    }
}

/// Parses `src` with `names` as the variables (their index is the slot).
pub fn parse(src: &str, names: &[&str]) -> Result<Expr, ParseError> {
    if src.len() > MAX_LEN {
        return Err(ParseError {
            position: MAX_LEN,
            message: format!("longer than {MAX_LEN} bytes ({} bytes)", src.len()),
        });
    }
    if src.trim().is_empty() {
        return Err(ParseError {
            position: 0,
            message: "the condition is empty".into(),
        });
    }
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        end: src.chars().count(),
        names,
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(p.err("unexpected text after the expression"));
    }
    Ok(e.simplify())
}

impl Expr {
    /// Folds `name OP number` comparisons into one node.
    fn simplify(self) -> Expr {
        match self {
            Expr::Chain(first, mut rest) if rest.len() == 1 => match (*first, rest.pop()) {
                (Expr::Var(i), Some((op, Expr::Num(n)))) => Expr::VarCmp(i, op, n),
                (first, Some((op, e))) => {
                    Expr::Chain(Box::new(first.simplify()), vec![(op, e.simplify())])
                }
                (first, None) => first.simplify(),
            },
            Expr::Chain(first, rest) => Expr::Chain(
                Box::new(first.simplify()),
                rest.into_iter().map(|(op, e)| (op, e.simplify())).collect(),
            ),
            Expr::And(a, b) => Expr::And(Box::new(a.simplify()), Box::new(b.simplify())),
            Expr::Or(a, b) => Expr::Or(Box::new(a.simplify()), Box::new(b.simplify())),
            Expr::Not(e) => Expr::Not(Box::new(e.simplify())),
            Expr::Neg(e) => Expr::Neg(Box::new(e.simplify())),
            Expr::Pos(e) => Expr::Pos(Box::new(e.simplify())),
            Expr::Abs(e) => Expr::Abs(Box::new(e.simplify())),
            Expr::Round(x, digits) => Expr::Round(
                Box::new(x.simplify()),
                digits.map(|d| Box::new(d.simplify())),
            ),
            Expr::Extreme(which, first, rest) => Expr::Extreme(
                which,
                Box::new(first.simplify()),
                rest.into_iter().map(Expr::simplify).collect(),
            ),
            Expr::In(e, items, negated) => Expr::In(Box::new(e.simplify()), items, negated),
            Expr::Arith(op, a, b) => {
                Expr::Arith(op, Box::new(a.simplify()), Box::new(b.simplify()))
            }
            Expr::Is(e, n) => Expr::Is(Box::new(e.simplify()), n),
            other => other,
        }
    }

    /// Evaluates against the variable slots.
    pub fn eval<'a>(&'a self, vars: &[Val<'a>]) -> Result<Val<'a>, EvalError> {
        Ok(match self {
            Expr::Num(n) => Val::Num(*n),
            Expr::Str(s) => Val::Str(s),
            Expr::Bool(b) => Val::Bool(*b),
            Expr::None => Val::None,
            Expr::Var(i) => vars.get(*i).copied().unwrap_or(Val::None),
            Expr::Neg(e) => Val::Num(-number(e.eval(vars)?)?),
            Expr::Pos(e) => Val::Num(number(e.eval(vars)?)?),
            Expr::Abs(e) => Val::Num(number(e.eval(vars)?)?.abs()),
            Expr::Round(x, digits) => {
                let x = number(x.eval(vars)?)?;
                let digits = match digits {
                    Some(d) => match d.eval(vars)? {
                        // Python's `round(x, None)` is `round(x)`.
                        Val::None => None,
                        d => Some(number(d)?),
                    },
                    None => None,
                };
                Val::Num(round(x, digits)?)
            }
            Expr::Extreme(which, first, rest) => {
                // Python keeps the first of equal values and replaces it
                // only by one strictly beyond it.
                let mut best = first.eval(vars)?;
                for e in rest {
                    let v = e.eval(vars)?;
                    let beyond = match which {
                        Extreme::Min => compare(Cmp::Lt, v, best)?,
                        Extreme::Max => compare(Cmp::Gt, v, best)?,
                    };
                    if beyond {
                        best = v;
                    }
                }
                best
            }
            Expr::In(e, items, negated) => {
                let v = e.eval(vars)?;
                let found = items
                    .iter()
                    .any(|item| item.eval(vars).is_ok_and(|w| equal(v, w)));
                Val::Bool(found != *negated)
            }
            Expr::Not(e) => Val::Bool(!e.eval(vars)?.truthy()),
            // Python's and/or return an operand; conditions only read truthiness.
            Expr::And(a, b) => {
                let x = a.eval(vars)?;
                if x.truthy() { b.eval(vars)? } else { x }
            }
            Expr::Or(a, b) => {
                let x = a.eval(vars)?;
                if x.truthy() { x } else { b.eval(vars)? }
            }
            Expr::Arith(op, a, b) => {
                let (x, y) = (number(a.eval(vars)?)?, number(b.eval(vars)?)?);
                Val::Num(arith(*op, x, y)?)
            }
            Expr::Chain(first, rest) => {
                let mut left = first.eval(vars)?;
                for (op, e) in rest {
                    let right = e.eval(vars)?;
                    if !compare(*op, left, right)? {
                        return Ok(Val::Bool(false));
                    }
                    left = right;
                }
                Val::Bool(true)
            }
            Expr::Is(e, negated) => Val::Bool((e.eval(vars)? == Val::None) != *negated),
            Expr::VarCmp(i, op, n) => Val::Bool(compare(
                *op,
                vars.get(*i).copied().unwrap_or(Val::None),
                Val::Num(*n),
            )?),
        })
    }

    /// Whether the condition holds; `Err` skips the rule.
    pub fn holds(&self, vars: &[Val<'_>]) -> Result<bool, EvalError> {
        // Truthiness of Python's and/or is the and/or of truthiness, so
        // boolean structure is decided without building values. The common
        // nodes are decided here, the rest in `holds_otherwise`, which keeps
        // this small (a batch of cards calls it millions of times).
        match self {
            Expr::VarCmp(i, op, n) => match vars.get(*i) {
                // Two numbers, neither NaN: what `compare` answers, without
                // its type checks.
                Some(Val::Num(x)) if !x.is_nan() && !n.is_nan() => Ok(match op {
                    Cmp::Lt => x < n,
                    Cmp::Le => x <= n,
                    Cmp::Gt => x > n,
                    Cmp::Ge => x >= n,
                    Cmp::Eq => x == n,
                    Cmp::Ne => x != n,
                }),
                _ => self.holds_otherwise(vars),
            },
            Expr::Is(e, negated) => match **e {
                Expr::Var(i) => Ok(matches!(vars.get(i), None | Some(Val::None)) != *negated),
                _ => self.holds_otherwise(vars),
            },
            Expr::And(a, b) => Ok(a.holds(vars)? && b.holds(vars)?),
            Expr::Or(a, b) => Ok(a.holds(vars)? || b.holds(vars)?),
            Expr::Not(e) => Ok(!e.holds(vars)?),
            _ => self.holds_otherwise(vars),
        }
    }

    /// [`Expr::holds`] for the nodes it does not decide itself.
    #[inline(never)]
    fn holds_otherwise(&self, vars: &[Val<'_>]) -> Result<bool, EvalError> {
        match self {
            Expr::VarCmp(i, op, n) => compare(
                *op,
                vars.get(*i).copied().unwrap_or(Val::None),
                Val::Num(*n),
            ),
            other => other.eval(vars).map(Val::truthy),
        }
    }
}

/// A number operand (a bool counts as 0 or 1, as in Python).
fn number(v: Val<'_>) -> Result<f64, EvalError> {
    v.num().ok_or(EvalError::Type)
}

/// Python's `==`: strings with strings, None with None, numbers and bools
/// by value (`1 == 1.0`, `True == 1`); anything else differs.
fn equal(a: Val<'_>, b: Val<'_>) -> bool {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::None, Val::None) => true,
        (Val::None, _) | (_, Val::None) | (Val::Str(_), _) | (_, Val::Str(_)) => false,
        (x, y) => x.num() == y.num(),
    }
}

/// Python's float arithmetic; `Err` where Python raises.
fn arith(op: Arith, x: f64, y: f64) -> Result<f64, EvalError> {
    Ok(match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::Div if y == 0.0 => return Err(EvalError::DivisionByZero),
        Arith::Div => x / y,
        Arith::FloorDiv => floor_div_mod(x, y)?.0,
        Arith::Rem => floor_div_mod(x, y)?.1,
        Arith::Pow => pow(x, y)?,
    })
}

/// Python's `divmod` of floats: the floor of the quotient, and the
/// remainder with the sign of the divisor, such that `q * y + r == x` as
/// nearly as floats allow.
fn floor_div_mod(x: f64, y: f64) -> Result<(f64, f64), EvalError> {
    if y == 0.0 {
        return Err(EvalError::DivisionByZero);
    }
    // `%` on floats is C's fmod: exact, with the sign of the dividend.
    let mut rem = x % y;
    let mut quotient = (x - rem) / y;
    if rem == 0.0 {
        rem = 0.0f64.copysign(y);
    } else if (rem < 0.0) != (y < 0.0) {
        rem += y;
        quotient -= 1.0;
    }
    // `quotient` is within an ulp or so of an integer; take that integer.
    let floor = if quotient == 0.0 {
        0.0f64.copysign(x / y)
    } else {
        let down = quotient.floor();
        if quotient - down > 0.5 {
            down + 1.0
        } else {
            down
        }
    };
    Ok((floor, rem))
}

/// Python's `**` on floats.
fn pow(x: f64, y: f64) -> Result<f64, EvalError> {
    let finite = x.is_finite() && y.is_finite();
    if x == 0.0 && y < 0.0 && y.is_finite() {
        return Err(EvalError::DivisionByZero);
    }
    if x < 0.0 && finite && y.fract() != 0.0 {
        // Python gives a complex number, which no condition can use.
        return Err(EvalError::Type);
    }
    let r = x.powf(y);
    if r.is_infinite() && finite {
        return Err(EvalError::Overflow);
    }
    Ok(r)
}

/// Python's `round(x)` (half to even, to an integer) and `round(x, n)`
/// (half to even at the `n`th decimal place of the exact binary value, so
/// `round(2.675, 2)` is 2.67: 2.675 is stored as 2.67499…).
#[inline(never)] // keeps the buffer off the frames of recursive `eval`
fn round(x: f64, digits: Option<f64>) -> Result<f64, EvalError> {
    let Some(n) = digits else {
        return if x.is_nan() {
            Err(EvalError::Type)
        } else if x.is_infinite() {
            Err(EvalError::Overflow)
        } else {
            Ok(x.round_ties_even())
        };
    };
    if !n.is_finite() || n.fract() != 0.0 {
        // Python wants an integer number of digits.
        return Err(EvalError::Type);
    }
    // Past these a float has no digit to round (Python's own bounds).
    if !x.is_finite() || n > 323.0 {
        return Ok(x);
    }
    if n < -308.0 {
        return Ok(0.0 * x);
    }
    let rounded = if n >= 0.0 {
        round_right(x, n as usize)
    } else {
        round_left(x, (-n) as usize)
    }
    .ok_or(EvalError::Overflow)?;
    if rounded.is_infinite() {
        return Err(EvalError::Overflow);
    }
    Ok(rounded)
}

/// Room for a float written out in full: 309 integer digits, a sign, a
/// point and 323 decimals.
const ROUND_BUF: usize = 704;

/// Text written into a fixed buffer (no allocation).
struct Digits {
    bytes: [u8; ROUND_BUF],
    len: usize,
}

impl Digits {
    fn new() -> Digits {
        Digits {
            bytes: [0; ROUND_BUF],
            len: 0,
        }
    }

    fn text(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    fn parse(&self) -> Option<f64> {
        std::str::from_utf8(self.text()).ok()?.parse().ok()
    }
}

impl fmt::Write for Digits {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `x` rounded half to even at `n` decimal places: Rust's formatting to a
/// precision rounds the exact value half to even, as Python's does.
fn round_right(x: f64, n: usize) -> Option<f64> {
    use fmt::Write;
    let mut d = Digits::new();
    write!(d, "{x:.n$}").ok()?;
    d.parse()
}

/// `x` rounded half to even to a multiple of `10^k` (`k` ≥ 1).
fn round_left(x: f64, k: usize) -> Option<f64> {
    use fmt::Write;
    let whole = x.trunc().abs();
    // The integer part is written exactly; a leading `0` takes a carry.
    let mut d = Digits::new();
    write!(d, "0{whole:.0}").ok()?;
    let digits = d.len - 1;
    if k > digits {
        // Below half of 10^k.
        return Some(0.0f64.copysign(x));
    }
    let cut = d.len - k;
    let (kept, dropped) = d.bytes.split_at_mut(cut);
    let first = *dropped.first()?;
    let rest_zero = dropped.get(1..k)?.iter().all(|b| *b == b'0') && x.fract() == 0.0;
    let last_odd = kept.last().is_some_and(|b| (b - b'0') % 2 == 1);
    let up = first > b'5' || (first == b'5' && (!rest_zero || last_odd));
    if up {
        for b in kept.iter_mut().rev() {
            if *b == b'9' {
                *b = b'0';
            } else {
                *b += 1;
                break;
            }
        }
    }
    d.len = cut;
    write!(d, "e{k}").ok()?;
    Some(d.parse()?.copysign(x))
}

fn compare(op: Cmp, a: Val<'_>, b: Val<'_>) -> Result<bool, EvalError> {
    if matches!(op, Cmp::Eq | Cmp::Ne) {
        return Ok(equal(a, b) == (op == Cmp::Eq));
    }
    let ord = match (a, b) {
        // §11.12: ordering a string skips the rule, whatever it is compared with.
        (Val::Str(_), _) | (_, Val::Str(_)) => return Err(EvalError::Type),
        (x, y) => {
            let (x, y) = (
                x.num().ok_or(EvalError::Type)?,
                y.num().ok_or(EvalError::Type)?,
            );
            x.partial_cmp(&y).ok_or(EvalError::Type)?
        }
    };
    use std::cmp::Ordering::*;
    Ok(match op {
        Cmp::Lt => ord == Less,
        Cmp::Le => ord != Greater,
        Cmp::Gt => ord == Greater,
        Cmp::Ge => ord != Less,
        Cmp::Eq | Cmp::Ne => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["raroi", "confidence", "alignment_status"];

    fn run(src: &str, vars: &[Val<'_>]) -> Result<bool, EvalError> {
        parse(src, &NAMES).unwrap().holds(vars)
    }

    /// `holds` decides a name against a number itself (not through
    /// `compare`): each operator at, below and above the number, NaN on
    /// either side, and the other types, against what Python answers (and
    /// against `eval`, the general path).
    #[test]
    fn a_name_against_a_number_holds_as_python_compares_them() {
        use Cmp::*;
        fn python(op: Cmp, v: Val<'_>, n: f64) -> Result<bool, EvalError> {
            let x = match v {
                Val::Num(x) => Some(x),
                Val::Bool(b) => Some(f64::from(u8::from(b))),
                Val::None | Val::Str(_) => None,
            };
            match (op, x) {
                (Eq, x) => Ok(x == Some(n)),
                (Ne, x) => Ok(x != Some(n)),
                (_, None) => Err(EvalError::Type),
                (_, Some(x)) if x.is_nan() || n.is_nan() => Err(EvalError::Type),
                (Lt, Some(x)) => Ok(x < n),
                (Le, Some(x)) => Ok(x <= n),
                (Gt, Some(x)) => Ok(x > n),
                (Ge, Some(x)) => Ok(x >= n),
            }
        }
        let values = [
            Val::Num(0.4),
            Val::Num(0.5),
            Val::Num(0.6),
            Val::Num(-0.0),
            Val::Num(f64::NAN),
            Val::Num(f64::INFINITY),
            Val::Bool(true),
            Val::Bool(false),
            Val::None,
            Val::Str("0.5"),
        ];
        for n in [0.5, 0.0, 1.0, f64::NAN] {
            for op in [Lt, Le, Gt, Ge, Eq, Ne] {
                for v in values {
                    let e = Expr::VarCmp(0, op, n);
                    let want = python(op, v, n);
                    assert_eq!(e.holds(&[v]), want, "{v:?} {op:?} {n}");
                    assert_eq!(e.eval(&[v]).map(Val::truthy), want, "{v:?} {op:?} {n}");
                }
                // A slot past the values is None.
                assert_eq!(Expr::VarCmp(3, op, n).holds(&[]), python(op, Val::None, n));
            }
        }
    }

    #[test]
    fn is_none_holds_for_none_and_a_missing_slot_only() {
        for (vars, none) in [
            (&[Val::None][..], true),
            (&[][..], true),
            (&[Val::Num(0.0)][..], false),
            (&[Val::Bool(false)][..], false),
            (&[Val::Str("")][..], false),
        ] {
            for negated in [false, true] {
                let e = Expr::Is(Box::new(Expr::Var(0)), negated);
                assert_eq!(e.holds(vars), Ok(none != negated), "{vars:?} {negated}");
            }
        }
    }

    #[test]
    fn python_semantics() {
        let v = [Val::Num(1.2), Val::Num(0.65), Val::Str("PASS")];
        assert_eq!(run("raroi >= 1.0 and confidence < 0.7", &v), Ok(true));
        assert_eq!(run("raroi > 1 && !(confidence > 0.7)", &v), Ok(true));
        assert_eq!(run("0.5 < confidence < 0.7", &v), Ok(true));
        assert_eq!(run("0.5 < confidence < 0.6", &v), Ok(false));
        assert_eq!(run("alignment_status == 'PASS'", &v), Ok(true));
        assert_eq!(run("raroi * 2 - 1 >= 1.4 or False", &v), Ok(true));
        assert_eq!(run("-raroi < 0", &v), Ok(true));
        assert_eq!(run("7 % 3 == 1 and -7 % 3 == 2", &v), Ok(true));
        assert_eq!(run("raroi is not None", &v), Ok(true));
        let missing = [Val::None, Val::Num(0.9), Val::None];
        assert_eq!(run("raroi is None", &missing), Ok(true));
        assert_eq!(run("raroi == None", &missing), Ok(true));
        assert_eq!(run("raroi < 1.0", &missing), Err(EvalError::Type));
        assert_eq!(
            run("confidence / 0 > 1", &missing),
            Err(EvalError::DivisionByZero)
        );
        assert_eq!(run("alignment_status < 1", &v), Err(EvalError::Type));
        // Short-circuit: the failing side is not evaluated.
        assert_eq!(run("raroi is not None and raroi < 1", &missing), Ok(false));
    }

    #[test]
    fn malicious_and_malformed_input_is_rejected_with_positions() {
        let e = parse("__import__('os').system('x')", &NAMES).unwrap_err();
        assert!(e.message.contains("unknown function `__import__`"), "{e}");
        assert_eq!(e.position, 0);
        let e = parse("raroi >= 1.0 and", &NAMES).unwrap_err();
        assert_eq!(e.position, 16);
        let e = parse("raroi >= 1.0 )", &NAMES).unwrap_err();
        assert_eq!(e.position, 13);
        let deep = format!("{}raroi{}", "(".repeat(500), ")".repeat(500));
        assert!(
            parse(&deep, &NAMES)
                .unwrap_err()
                .message
                .contains("nested deeper")
        );
        let nots = format!("{}raroi", "not ".repeat(500));
        assert!(
            parse(&nots, &NAMES)
                .unwrap_err()
                .message
                .contains("nested deeper")
        );
        let big = "raroi + ".repeat(150_000) + "1";
        assert!(
            parse(&big, &NAMES)
                .unwrap_err()
                .message
                .contains("longer than")
        );
        assert!(
            parse("raroi is 1", &NAMES)
                .unwrap_err()
                .message
                .contains("only with `None`")
        );
        assert!(parse("raroi.__class__", &NAMES).is_err());
        assert!(
            parse("'unterminated", &NAMES)
                .unwrap_err()
                .message
                .contains("not closed")
        );
        assert!(parse("", &NAMES).is_err());
    }
}
