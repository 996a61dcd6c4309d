//! cel-go's parser recursion limits, as the API server applies them to a policy's expressions
//! before anything else: which expressions it refuses as nested too deeply, and with which
//! message.
//!
//! Kubernetes' CEL environment (k8s.io/apiserver `pkg/cel/environment/base.go`) sets no parser
//! limits, so cel-go's defaults hold (`parser/parser.go` `NewParser`): `maxRecursionDepth` 250
//! and `expressionSizeCodePointLimit` 100,000. The depth is counted twice, in different ways
//! (`parser/parser.go`):
//! - while ANTLR parses, `recursionListener` counts, per grammar rule, how many invocations of
//!   that rule are active (`EnterEveryRule`/`ExitEveryRule`; a left-recursive rule's loop exits
//!   and re-enters, so a chain of `+` stays at one) and fails with "expression recursion limit
//!   exceeded: 250" when one passes the limit: brackets, calls and ternaries nest rules;
//! - then `Visit` counts the parse-tree nodes it is inside of, only for ternaries, relations,
//!   arithmetic, selections, member calls and indexes (`checkAndIncrementRecursionDepth`),
//!   after `unnest` skips single-child nodes and parentheses, and fails with "max recursion depth
//!   exceeded": a chain of 251 `+`, `.field` or `[i]` is refused; `&&`/`||` chains, lists and
//!   global calls do not count.
//!
//! This module walks the grammar of `parser/gen/CEL.g4` with the same counters. Syntax errors are
//! not its business: on input it cannot parse it reports nothing, and the CEL parser that
//! compiles the expression reports them.

/// cel-go's default `maxRecursionDepth`, which Kubernetes keeps.
pub const MAX_RECURSION_DEPTH: usize = 250;

/// Why cel-go's parser refuses an expression as nested too deeply, in its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TooDeep {
    /// `recursionListener`: a grammar rule nested more than the limit.
    RuleNesting(usize),
    /// `checkAndIncrementRecursionDepth`: the visitor went deeper than the limit.
    VisitDepth,
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TooDeep::RuleNesting(limit) => write!(f, "expression recursion limit exceeded: {limit}"),
            TooDeep::VisitDepth => f.write_str("max recursion depth exceeded"),
        }
    }
}

/// Whether cel-go's parser with `limit` (250 in Kubernetes) refuses `source` as too deep; if
/// not, how deeply `expr` rules nest in it (brackets, calls, ternaries), 0 for input that is not
/// CEL.
pub fn check(source: &str, limit: usize) -> Result<usize, TooDeep> {
    let Some(tokens) = tokens(source) else { return Ok(0) };
    let mut walk = Walk { tokens, at: 0, active: [0; RULES], deepest_expr: 0, limit };
    match walk.start() {
        Ok(depth) if depth > limit => Err(TooDeep::VisitDepth),
        Ok(_) => Ok(walk.deepest_expr),
        Err(Stop::Syntax) => Ok(0),
        Err(Stop::TooDeep) => Err(TooDeep::RuleNesting(limit)),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// A backtick-quoted identifier.
    Escaped,
    /// A literal of the lexer other than a number: string, bytes, `true`, `false`, `null`.
    Literal,
    /// A number literal (a sign before it may belong to it).
    Number,
    Punct(&'static str),
}

/// The tokens of `source` as cel-go's lexer (`CEL.g4`) splits them, or `None` where it would
/// not (the compiling parser reports that).
fn tokens(source: &str) -> Option<Vec<Token>> {
    const PUNCTS: [&str; 25] = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}", "="];
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != '`' {
                i += 1;
            }
            i += 1;
            out.push(Token::Escaped);
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            i = number_end(&chars, i);
            out.push(Token::Number);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let prefix = word.to_ascii_lowercase();
            if matches!(prefix.as_str(), "r" | "b" | "rb" | "br") && matches!(chars.get(i), Some('"' | '\'')) {
                i = string_end(&chars, i, prefix.contains('r'))?;
                out.push(Token::Literal);
            } else if matches!(word.as_str(), "true" | "false" | "null") {
                out.push(Token::Literal);
            } else {
                out.push(Token::Ident(word));
            }
        } else if c == '"' || c == '\'' {
            i = string_end(&chars, i, false)?;
            out.push(Token::Literal);
        } else {
            let punct = PUNCTS.iter().find(|p| p.chars().enumerate().all(|(k, pc)| chars.get(i + k) == Some(&pc)))?;
            if *punct == "=" {
                return None;
            }
            i += punct.len();
            out.push(Token::Punct(punct));
        }
    }
    Some(out)
}

/// The end of the number starting at `i` (decimal, hex, unsigned, float with exponent).
fn number_end(chars: &[char], mut i: usize) -> usize {
    let digits = |i: &mut usize, hex: bool| {
        while *i < chars.len() && (chars[*i].is_ascii_digit() || (hex && chars[*i].is_ascii_hexdigit())) {
            *i += 1;
        }
    };
    if chars[i] == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
        i += 2;
        digits(&mut i, true);
    } else {
        digits(&mut i, false);
        if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            i += 1;
            digits(&mut i, false);
        }
        if matches!(chars.get(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(chars.get(j), Some('+' | '-')) {
                j += 1;
            }
            if chars.get(j).is_some_and(char::is_ascii_digit) {
                i = j;
                digits(&mut i, false);
            }
        }
    }
    if matches!(chars.get(i), Some('u' | 'U')) {
        i += 1;
    }
    i
}

/// The end of the string literal whose quote is at `i` (single, double or triple quoted).
fn string_end(chars: &[char], mut i: usize, raw: bool) -> Option<usize> {
    let quote = chars[i];
    let triple = chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote);
    i += if triple { 3 } else { 1 };
    loop {
        let c = *chars.get(i)?;
        if c == '\\' && !raw {
            i += 2;
        } else if c == quote && (!triple || (chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote))) {
            return Some(i + if triple { 3 } else { 1 });
        } else if c == '\n' && !triple {
            return None;
        } else {
            i += 1;
        }
    }
}

/// The rules of `CEL.g4` that can be active more than once at a time.
#[derive(Clone, Copy)]
enum Rule {
    Expr,
    ConditionalOr,
    ConditionalAnd,
    Relation,
    Calc,
    Unary,
    Member,
    Primary,
    ExprList,
    ListInit,
    FieldInitializerList,
    MapInitializerList,
    OptExpr,
}
const RULES: usize = 13;

enum Stop {
    /// Not CEL this walk understands: the compiling parser reports it.
    Syntax,
    /// A rule nested deeper than the limit (`recursionListener`).
    TooDeep,
}

/// The walk of the grammar: the token position and the active invocations of each rule. Each
/// rule's function returns the visitor depth of what it parsed.
struct Walk {
    tokens: Vec<Token>,
    at: usize,
    active: [usize; RULES],
    /// The most `expr` invocations active at once.
    deepest_expr: usize,
    limit: usize,
}

const RELATIONS: [&str; 6] = ["<", "<=", ">=", ">", "==", "!="];

impl Walk {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.at + ahead)
    }

    fn is(&self, punct: &str) -> bool {
        matches!(self.peek(), Some(Token::Punct(p)) if *p == punct)
    }

    fn eat(&mut self, punct: &str) -> bool {
        let found = self.is(punct);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, punct: &str) -> Result<(), Stop> {
        if self.eat(punct) { Ok(()) } else { Err(Stop::Syntax) }
    }

    /// `EnterEveryRule`: one more active invocation of `rule`, refused past the limit.
    fn enter(&mut self, rule: Rule) -> Result<(), Stop> {
        let count = &mut self.active[rule as usize];
        *count += 1;
        if *count > self.limit {
            return Err(Stop::TooDeep);
        }
        if matches!(rule, Rule::Expr) {
            self.deepest_expr = self.deepest_expr.max(*count);
        }
        Ok(())
    }

    /// `ExitEveryRule`.
    fn exit(&mut self, rule: Rule) {
        let count = &mut self.active[rule as usize];
        *count = count.saturating_sub(1);
    }

    /// `rule` around `parse`.
    fn rule(&mut self, rule: Rule, parse: impl FnOnce(&mut Self) -> Result<usize, Stop>) -> Result<usize, Stop> {
        self.enter(rule)?;
        let depth = parse(self)?;
        self.exit(rule);
        Ok(depth)
    }

    /// `start: expr EOF`.
    fn start(&mut self) -> Result<usize, Stop> {
        let depth = self.expr()?;
        if self.peek().is_some() { Err(Stop::Syntax) } else { Ok(depth) }
    }

    /// `expr: conditionalOr ('?' conditionalOr ':' expr)?`; a ternary counts one visit.
    fn expr(&mut self) -> Result<usize, Stop> {
        self.rule(Rule::Expr, |walk| {
            let condition = walk.conditional_or()?;
            if !walk.eat("?") {
                return Ok(condition);
            }
            let if_true = walk.conditional_or()?;
            walk.expect(":")?;
            let if_false = walk.expr()?;
            Ok(1 + condition.max(if_true).max(if_false))
        })
    }

    /// `conditionalOr: conditionalAnd ('||' conditionalAnd)*`: terms are visited side by side.
    fn conditional_or(&mut self) -> Result<usize, Stop> {
        self.rule(Rule::ConditionalOr, |walk| {
            let mut depth = walk.conditional_and()?;
            while walk.eat("||") {
                depth = depth.max(walk.conditional_and()?);
            }
            Ok(depth)
        })
    }

    /// `conditionalAnd: relation ('&&' relation)*`.
    fn conditional_and(&mut self) -> Result<usize, Stop> {
        self.rule(Rule::ConditionalAnd, |walk| {
            let mut depth = walk.relation()?;
            while walk.eat("&&") {
                depth = depth.max(walk.relation()?);
            }
            Ok(depth)
        })
    }

    fn relation_operator(&self) -> bool {
        RELATIONS.iter().any(|op| self.is(op)) || matches!(self.peek(), Some(Token::Ident(w)) if w == "in")
    }

    /// `relation: calc | relation op relation`, left-recursive: its loop exits and re-enters the
    /// rule (no net change), and the right operand is a nested invocation that stops at the next
    /// operator (`relation(2)`). Each operator counts one visit.
    fn relation(&mut self) -> Result<usize, Stop> {
        self.rule(Rule::Relation, |walk| {
            let mut depth = walk.calc(0)?;
            while walk.relation_operator() {
                walk.at += 1;
                let right = walk.rule(Rule::Relation, |walk| walk.calc(0))?;
                depth = 1 + depth.max(right);
            }
            Ok(depth)
        })
    }

    /// `calc: unary | calc ('*'|'/'|'%') calc | calc ('+'|'-') calc` with ANTLR's precedence
    /// climbing (`calc(_p)`: `*` continues while `_p <= 2`, its right operand is `calc(3)`; `+`
    /// while `_p <= 1`, right operand `calc(2)`). Each operator counts one visit.
    fn calc(&mut self, precedence: u8) -> Result<usize, Stop> {
        self.rule(Rule::Calc, |walk| {
            let mut depth = walk.unary()?;
            loop {
                let right = if (walk.is("*") || walk.is("/") || walk.is("%")) && precedence <= 2 {
                    walk.at += 1;
                    walk.calc(3)?
                } else if (walk.is("+") || walk.is("-")) && precedence <= 1 {
                    walk.at += 1;
                    walk.calc(2)?
                } else {
                    return Ok(depth);
                };
                depth = 1 + depth.max(right);
            }
        })
    }

    /// `unary: member | '!'+ member | '-'+ member` (a `-` before a number may be the
    /// literal's sign: the same rules either way).
    fn unary(&mut self) -> Result<usize, Stop> {
        self.rule(Rule::Unary, |walk| {
            if walk.is("!") {
                while walk.eat("!") {}
            } else {
                while walk.is("-") && walk.peek_at(1) != Some(&Token::Number) {
                    walk.at += 1;
                }
            }
            walk.member()
        })
    }

    /// `member: primary | member '.' '?'? escapeIdent | member '.' IDENTIFIER '(' exprList? ')'
    /// | member '[' '?'? expr ']'`, left-recursive; each selection, call and index counts one
    /// visit.
    fn member(&mut self) -> Result<usize, Stop> {
        self.rule(Rule::Member, |walk| {
            let mut depth = walk.primary()?;
            loop {
                if walk.eat(".") {
                    let optional = walk.eat("?");
                    match walk.peek() {
                        Some(Token::Ident(_)) if !optional && matches!(walk.peek_at(1), Some(Token::Punct("("))) => {
                            walk.at += 2;
                            let arguments = walk.arguments(")")?;
                            depth = 1 + depth.max(arguments);
                        }
                        Some(Token::Ident(_) | Token::Escaped) => {
                            walk.at += 1;
                            depth += 1;
                        }
                        _ => return Err(Stop::Syntax),
                    }
                } else if walk.eat("[") {
                    walk.eat("?");
                    let index = walk.expr()?;
                    walk.expect("]")?;
                    depth = 1 + depth.max(index);
                } else {
                    return Ok(depth);
                }
            }
        })
    }

    /// `exprList? close`: the arguments of a call, visited side by side.
    fn arguments(&mut self, close: &str) -> Result<usize, Stop> {
        if self.eat(close) {
            return Ok(0);
        }
        let depth = self.rule(Rule::ExprList, |walk| {
            let mut depth = walk.expr()?;
            while walk.eat(",") {
                depth = depth.max(walk.expr()?);
            }
            Ok(depth)
        })?;
        self.expect(close)?;
        Ok(depth)
    }

    /// `primary`: identifiers, global calls, `( expr )`, list, map and message literals,
    /// literals. None of them counts a visit.
    fn primary(&mut self) -> Result<usize, Stop> {
        self.rule(Rule::Primary, |walk| {
            let leading_dot = walk.eat(".");
            match walk.peek().cloned() {
                Some(Token::Ident(name)) if name != "in" => {
                    walk.at += 1;
                    if walk.eat("(") {
                        return walk.arguments(")");
                    }
                    // `a.b.c{...}` is a message literal, `a.b.c` an identifier and selections.
                    let mut ahead = 0;
                    while matches!(walk.peek_at(ahead), Some(Token::Punct("."))) && matches!(walk.peek_at(ahead + 1), Some(Token::Ident(_))) {
                        ahead += 2;
                    }
                    if matches!(walk.peek_at(ahead), Some(Token::Punct("{"))) {
                        walk.at += ahead + 1;
                        return walk.fields();
                    }
                    Ok(0)
                }
                _ if leading_dot => Err(Stop::Syntax),
                Some(Token::Punct("(")) => {
                    walk.at += 1;
                    let depth = walk.expr()?;
                    walk.expect(")")?;
                    Ok(depth)
                }
                Some(Token::Punct("[")) => {
                    walk.at += 1;
                    walk.entries("]", Rule::ListInit, false)
                }
                Some(Token::Punct("{")) => {
                    walk.at += 1;
                    walk.entries("}", Rule::MapInitializerList, true)
                }
                Some(Token::Punct("-")) if walk.peek_at(1) == Some(&Token::Number) => {
                    walk.at += 2;
                    Ok(0)
                }
                Some(Token::Literal | Token::Number) => {
                    walk.at += 1;
                    Ok(0)
                }
                _ => Err(Stop::Syntax),
            }
        })
    }

    /// `optExpr: '?'? expr`.
    fn opt_expr(&mut self) -> Result<usize, Stop> {
        self.rule(Rule::OptExpr, |walk| {
            walk.eat("?");
            walk.expr()
        })
    }

    /// The entries of a list (`listInit`) or map (`mapInitializerList`: `optExpr ':' expr`)
    /// literal up to `close`, with an optional trailing comma.
    fn entries(&mut self, close: &str, rule: Rule, keyed: bool) -> Result<usize, Stop> {
        if self.eat(close) {
            return Ok(0);
        }
        let depth = self.rule(rule, |walk| {
            let mut depth = 0;
            loop {
                depth = depth.max(walk.opt_expr()?);
                if keyed {
                    walk.expect(":")?;
                    depth = depth.max(walk.expr()?);
                }
                if !walk.eat(",") || walk.is(close) {
                    return Ok(depth);
                }
            }
        })?;
        self.expect(close)?;
        Ok(depth)
    }

    /// A message literal's `fieldInitializerList` (`'?'? escapeIdent ':' expr`, ...) and `}`.
    fn fields(&mut self) -> Result<usize, Stop> {
        if self.eat("}") {
            return Ok(0);
        }
        let depth = self.rule(Rule::FieldInitializerList, |walk| {
            let mut depth = 0;
            loop {
                walk.eat("?");
                if !matches!(walk.peek(), Some(Token::Ident(_) | Token::Escaped)) {
                    return Err(Stop::Syntax);
                }
                walk.at += 1;
                walk.expect(":")?;
                depth = depth.max(walk.expr()?);
                if !walk.eat(",") || walk.is("}") {
                    return Ok(depth);
                }
            }
        })?;
        self.expect("}")?;
        Ok(depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check`'s verdict alone.
    fn verdict(source: &str, limit: usize) -> Result<(), TooDeep> {
        check(source, limit).map(|_| ())
    }

    /// cel-go's own cases (`parser/parser_test.go`, `testCases`, run with `MaxRecursionDepth(32)`
    /// by `newTestParser`), each with the error cel-go expects.
    #[test]
    fn cel_go_parser_test_recursion_cases() {
        let listener = Err(TooDeep::RuleNesting(32));
        let visitor = Err(TooDeep::VisitDepth);
        // "More than 32 nested list creation statements"
        assert_eq!(verdict(&format!("{}'not fine'{}", "[".repeat(32), "]".repeat(32)), 32), listener);
        // "More than 32 arithmetic operations."
        let sum = (1..=34).map(|n| n.to_string()).collect::<Vec<_>>().join(" + ");
        assert_eq!(verdict(&sum, 32), visitor);
        // "More than 32 field selections"
        assert_eq!(verdict("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.A.B.C.D.E.F.G.H", 32), visitor);
        // "More than 32 index operations"
        let indexes: String = (1..=33).map(|n| format!("[{n}]")).collect();
        assert_eq!(verdict(&format!("a{indexes}"), 32), visitor);
        // "More than 32 relation operators"
        let relations = (1..=33).map(|n| n.to_string()).collect::<Vec<_>>().join(" < ");
        assert_eq!(verdict(&format!("a < {relations}"), 32), visitor);
        // "More than 32 index / relation operators": 20 indexes on each side plus 13 `!=`.
        let indexed: String = (1..=20).map(|n| format!("[{n}]")).collect();
        assert_eq!(verdict(&vec![format!("a{indexed}"); 14].join(" != "), 32), visitor);
        // The `y!=y!=...-y-y` case (97 relations), as written there.
        assert_eq!(verdict(MIXED_RELATIONS, 32), visitor);
        // The `[[[...'too many'...]]]` case (106 nested lists), as written there.
        assert_eq!(verdict(TOO_MANY_LISTS, 32), listener);
    }

    const MIXED_RELATIONS: &str = "y!=y!=y!=y!=y!=y!=y!=y!=y!=-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y\n\t\t!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y\n\t\t!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y\n\t\t!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y\n\t\t!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y\n\t\t!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y!=-y!=-y-y!=-y";

    const TOO_MANY_LISTS: &str = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n\t\t\t[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['too many']]]]]]]]]]]]]]]]]]]]]]]]]]]]\n\t\t\t]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]";

    /// Just inside the limits, as deep as the cases above but one level less.
    #[test]
    fn as_deep_as_the_limit_is_accepted() {
        assert_eq!(verdict(&format!("{}'fine'{}", "[".repeat(31), "]".repeat(31)), 32), Ok(()));
        let sum = (1..=33).map(|n| n.to_string()).collect::<Vec<_>>().join(" + ");
        assert_eq!(verdict(&sum, 32), Ok(()));
        assert_eq!(verdict("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.A.B.C.D.E.F.G", 32), Ok(()));
    }

    /// What does not count: `&&`/`||` chains (cel-go balances them), list elements, global call
    /// arguments, parentheses, `!` and `-`.
    #[test]
    fn chains_that_cel_go_does_not_count() {
        let conjunction = vec!["object.a == 1"; 1000].join(" && ");
        assert_eq!(verdict(&conjunction, MAX_RECURSION_DEPTH), Ok(()));
        let list = format!("[{}]", vec!["1"; 5000].join(", "));
        assert_eq!(verdict(&list, MAX_RECURSION_DEPTH), Ok(()));
        assert_eq!(verdict(&format!("{}x{}", "(".repeat(100), ")".repeat(100)), MAX_RECURSION_DEPTH), Ok(()));
        assert_eq!(verdict(&format!("{}x", "!".repeat(1000)), MAX_RECURSION_DEPTH), Ok(()));
    }

    /// At Kubernetes' limit of 250: a chain of 251 `+` (250 operators) passes, 252 does not;
    /// 249 nested lists pass (the outer expression is the 250th), 250 do not.
    #[test]
    fn kubernetes_limit_of_250() {
        let chain = |terms: usize| vec!["1"; terms].join(" + ");
        assert_eq!(verdict(&chain(251), MAX_RECURSION_DEPTH), Ok(()));
        assert_eq!(verdict(&chain(252), MAX_RECURSION_DEPTH), Err(TooDeep::VisitDepth));
        assert_eq!(verdict(&chain(5000), MAX_RECURSION_DEPTH), Err(TooDeep::VisitDepth));
        let lists = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(check(&lists(249), MAX_RECURSION_DEPTH), Ok(250));
        assert_eq!(verdict(&lists(250), MAX_RECURSION_DEPTH), Err(TooDeep::RuleNesting(250)));
        assert_eq!(TooDeep::RuleNesting(250).to_string(), "expression recursion limit exceeded: 250");
    }

    /// Ternaries nest `expr` in their else branch (and count a visit each, one fewer than the
    /// nesting, so the rule limit is met first); calls, maps and messages nest rules.
    #[test]
    fn ternaries_calls_maps_and_messages_nest() {
        let ternaries = |n: usize| format!("{}0", "a ? 1 : ".repeat(n));
        assert_eq!(verdict(&ternaries(32), 32), Err(TooDeep::RuleNesting(32)));
        assert_eq!(verdict(&ternaries(31), 32), Ok(()));
        let calls = |n: usize| format!("{}x{}", "f(".repeat(n), ")".repeat(n));
        assert_eq!(verdict(&calls(31), 32), Ok(()));
        assert_eq!(verdict(&calls(32), 32), Err(TooDeep::RuleNesting(32)));
        let maps = |n: usize| format!("{}1{}", "{'k': ".repeat(n), "}".repeat(n));
        assert_eq!(verdict(&maps(32), 32), Err(TooDeep::RuleNesting(32)));
        assert_eq!(verdict("google.protobuf.Duration{seconds: 1}", 32), Ok(()));
        assert_eq!(check("f(g([1, (2)]))", 32), Ok(5));
    }

    /// Input that is not CEL is left to the compiling parser.
    #[test]
    fn syntax_errors_are_not_reported_here() {
        for source in ["object.spec.replicas <= ", "a = 1", "'unterminated", "a.", "[1, 2"] {
            assert_eq!(check(source, 32), Ok(0), "{source}");
        }
        assert_eq!(verdict("r'\\d+' != b\"x\" && 1.5e3 > 0x1Fu && a.`b.c` == '''x'''", 32), Ok(()));
    }
}
