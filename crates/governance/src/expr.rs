//! Rule conditions: a small expression language read by a parser, never
//! executed as code (DESIGN §11.12).
//!
//! ```text
//! or   := and (("or" | "||") and)*
//! and  := not (("and" | "&&") not)*
//! not  := ("not" | "!") not | cmp
//! cmp  := sum (OP sum)* | sum "is" ["not"] "None"      (chained like Python)
//! sum  := prod (("+" | "-") prod)*
//! prod := unary (("*" | "/" | "%") unary)*
//! unary:= "-" unary | atom
//! atom := number | 'str' | "str" | True | False | None | NAME | "(" or ")"
//! ```
//!
//! Names resolve to slots when the policy loads (an unknown name is a load
//! error); evaluation reads the slots and allocates nothing.

use std::fmt;

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
    /// division by zero.
    Type,
    DivisionByZero,
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
    Rem,
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
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    /// `a < b <= c`: each adjacent pair must hold.
    Chain(Box<Expr>, Vec<(Cmp, Expr)>),
    Is(Box<Expr>, bool),
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
                let op = ["<=", ">=", "==", "!=", "&&", "||"]
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
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Some(Tok::Op("<")) => Cmp::Lt,
                Some(Tok::Op("<=")) => Cmp::Le,
                Some(Tok::Op(">")) => Cmp::Gt,
                Some(Tok::Op(">=")) => Cmp::Ge,
                Some(Tok::Op("==")) => Cmp::Eq,
                Some(Tok::Op("!=")) => Cmp::Ne,
                _ => break,
            };
            self.pos += 1;
            rest.push((op, self.sum()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Chain(Box::new(first), rest)
        })
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
                Some(Tok::Op("%")) => Arith::Rem,
                _ => break,
            };
            self.pos += 1;
            left = Expr::Arith(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.is_op("-") {
            self.pos += 1;
            self.enter()?;
            let e = Expr::Neg(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.atom()
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
            Tok::RParen => {
                self.pos -= 1;
                Err(self.err("unexpected `)`"))
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
            Expr::Neg(e) => Val::Num(-e.eval(vars)?.num().ok_or(EvalError::Type)?),
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
                let (x, y) = (
                    a.eval(vars)?.num().ok_or(EvalError::Type)?,
                    b.eval(vars)?.num().ok_or(EvalError::Type)?,
                );
                Val::Num(match op {
                    Arith::Add => x + y,
                    Arith::Sub => x - y,
                    Arith::Mul => x * y,
                    Arith::Div if y == 0.0 => return Err(EvalError::DivisionByZero),
                    Arith::Div => x / y,
                    Arith::Rem if y == 0.0 => return Err(EvalError::DivisionByZero),
                    // Python's modulo takes the sign of the divisor.
                    Arith::Rem => ((x % y) + y) % y,
                })
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
        // boolean structure is decided without building values.
        match self {
            Expr::VarCmp(i, op, n) => compare(
                *op,
                vars.get(*i).copied().unwrap_or(Val::None),
                Val::Num(*n),
            ),
            Expr::And(a, b) => Ok(a.holds(vars)? && b.holds(vars)?),
            Expr::Or(a, b) => Ok(a.holds(vars)? || b.holds(vars)?),
            Expr::Not(e) => Ok(!e.holds(vars)?),
            other => other.eval(vars).map(Val::truthy),
        }
    }
}

fn compare(op: Cmp, a: Val<'_>, b: Val<'_>) -> Result<bool, EvalError> {
    if matches!(op, Cmp::Eq | Cmp::Ne) {
        let eq = match (a, b) {
            (Val::Str(x), Val::Str(y)) => x == y,
            (Val::None, Val::None) => true,
            (Val::None, _) | (_, Val::None) | (Val::Str(_), _) | (_, Val::Str(_)) => false,
            (x, y) => x.num() == y.num(),
        };
        return Ok(eq == (op == Cmp::Eq));
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
        assert!(e.message.contains("unknown name `__import__`"), "{e}");
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
