//! Compiling a policy's CEL expressions once per run, rejecting syntax errors and references to
//! variables the admission environment does not have, with the file, expression and column.

use std::sync::Arc;

use anyhow::{Result, bail};
use cel::common::ast::{EntryExpr, Expr, IdedExpr, SourceInfo};
use cel::{Context, Env, ResolveResult, Value};

use super::recursion::{self, MAX_RECURSION_DEPTH};
use super::typecheck::{self, Declarations, Ty};

/// A parsed expression: cel-rust's tree and where each node was written. Not a `cel::Program`:
/// `Env::compile` parses with cel-rust's own limit of 96 nested `expr` rules, below cel-go's 250,
/// so it would refuse expressions the API server accepts; [`recursion`] applies cel-go's limits.
#[derive(Debug)]
pub struct Program {
    expression: IdedExpr,
    source_info: SourceInfo,
}

impl Program {
    pub fn execute(&self, context: &Context) -> ResolveResult {
        Value::resolve(&self.expression, context)
    }

    pub fn expression(&self) -> &IdedExpr {
        &self.expression
    }

    pub fn source_info(&self) -> &SourceInfo {
        &self.source_info
    }
}

/// One compiled expression with its source.
#[derive(Debug)]
pub struct Expression {
    pub source: String,
    pub program: Program,
    /// Its type, as far as known without the objects' schemas.
    pub ty: Ty,
    /// Why it cannot be evaluated offline (`authorizer`, a function chartproof lacks), if so.
    pub offline: Option<String>,
}

/// Where an expression sits, for error messages: `file:line`, policy and YAML path.
pub struct Site<'a> {
    pub at: String,
    pub policy: &'a str,
    pub field: String,
}

/// 1-based column of `offset` (a character offset) in `source`'s line.
fn column(source: &str, offset: u32) -> (usize, usize) {
    let before: String = source.chars().take(offset as usize).collect();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn fail(site: &Site, source: &str, line: usize, column: usize, message: &str) -> anyhow::Error {
    let at = if source.contains('\n') { format!("line {line} column {column}") } else { format!("column {column}") };
    anyhow::anyhow!(
        "{}: ValidatingAdmissionPolicy {}: {}: expression `{}` at {at}: {message}",
        site.at,
        site.policy,
        site.field,
        source.trim()
    )
}

/// cel-go's default `ExpressionSizeCodePointLimit` (`parser/options.go`), which Kubernetes keeps.
const MAX_CODE_POINTS: usize = 100_000;

/// Stack for parsing an expression: cel-rust's parser and its tree walks recurse once per level
/// of nesting, so a chain of thousands of `+` needs far more than a thread's default stack.
const PARSER_STACK: usize = 1 << 30;

/// Whether `source` may nest deeper than the default stack allows: more operators, brackets
/// and dots than [`MAX_RECURSION_DEPTH`].
fn may_nest_deeply(source: &str) -> bool {
    source.chars().filter(|c| "+-*/%&|<>=!?:([{.,".contains(*c)).count() > MAX_RECURSION_DEPTH
}

/// Parse `source` with `env`'s macros and syntax, leaving the nesting limits to [`recursion`]; on
/// a thread with a large stack when the expression may nest deeply (the stack is reserved, and
/// used only as deep as the expression goes).
fn parse(env: &Arc<Env>, source: &str) -> Result<Program, cel::ParseErrors> {
    let parse = || {
        let parser = env.parser().max_recursion_depth(u16::MAX);
        parser.parse_with_source_info(source).map(|(expression, source_info)| Program { expression, source_info })
    };
    if !may_nest_deeply(source) {
        return parse();
    }
    std::thread::scope(|scope| {
        let parsing = std::thread::Builder::new().stack_size(PARSER_STACK).spawn_scoped(scope, parse);
        parsing.expect("a parser thread starts").join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// chartproof's own limits, below the API server's, so that checking and evaluating an expression
/// fits a thread's default stack (2 MiB; measured in a debug build: 190 nested lists evaluate,
/// 200 overflow): `expr` rules nested (brackets, calls, conditionals; cel-go allows 250) and the
/// depth of the parsed tree (within cel-go's limits it can reach about 250 counted operators plus
/// a few nodes per nesting level). An expression past them is refused as chartproof's limit, not
/// the API server's; no policy seen so far comes near.
const MAX_EXPR_NESTING: usize = 150;
const MAX_TREE_DEPTH: usize = 300;

/// The depth of the expression tree (counted without recursion).
fn nesting(root: &IdedExpr) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(root, 1)];
    while let Some((expr, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        let children: Vec<&IdedExpr> = match &expr.expr {
            Expr::Call(call) => call.target.as_deref().into_iter().chain(&call.args).collect(),
            Expr::Select(select) => vec![&select.operand],
            Expr::List(list) => list.elements.iter().collect(),
            Expr::Map(map) => map.entries.iter().flat_map(entry_children).collect(),
            Expr::Struct(structure) => structure.entries.iter().flat_map(entry_children).collect(),
            Expr::Comprehension(c) => vec![&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result],
            _ => Vec::new(),
        };
        pending.extend(children.into_iter().map(|child| (child, depth + 1)));
    }
    deepest
}

fn entry_children(entry: &cel::common::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        EntryExpr::StructField(field) => vec![&field.value],
        EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
    }
}

/// Compile `source` and check it against `declarations`; `returns` is the type the field must
/// have (bool for a validation, string for a message expression).
pub fn compile(env: &Arc<Env>, source: &str, site: &Site, declarations: &Declarations, returns: Ty) -> Result<Expression> {
    if source.chars().count() > MAX_CODE_POINTS {
        return Err(fail(site, source, 1, 1, &format!("expression code point size exceeds limit: size: {}, limit {MAX_CODE_POINTS}", source.chars().count())));
    }
    let nested = recursion::check(source, MAX_RECURSION_DEPTH).map_err(|too_deep| fail(site, source, 1, 1, &too_deep.to_string()))?;
    if nested > MAX_EXPR_NESTING {
        let message = format!("nested {nested} levels deep (brackets, calls, conditionals): the API server allows 250, chartproof evaluates at most {MAX_EXPR_NESTING}");
        return Err(fail(site, source, 1, 1, &message));
    }
    let program = match parse(env, source) {
        Ok(p) => p,
        Err(errors) => {
            let first = errors.errors.first();
            let (line, col) = first.map_or((1, 1), |e| (e.pos.0.max(1) as usize, e.pos.1.max(0) as usize + 1));
            let message = first.map_or_else(|| errors.to_string(), |e| e.msg.clone());
            return Err(fail(site, source, line, col, &message));
        }
    };
    let depth = nesting(program.expression());
    if depth > MAX_TREE_DEPTH {
        let message = format!("a tree {depth} levels deep: within the API server's limits, but chartproof evaluates at most {MAX_TREE_DEPTH}");
        // A program this deep is dropped where there is stack enough for it.
        std::thread::scope(|scope| std::thread::Builder::new().stack_size(PARSER_STACK).spawn_scoped(scope, move || drop(program)).map(|t| t.join()).ok());
        return Err(fail(site, source, 1, 1, &message));
    }
    let position = |id: u64| program.source_info().offset_for(id).map_or((1, 1), |(start, _)| column(source, start));
    let checked = typecheck::check(program.expression(), declarations).map_err(|problem| {
        let (line, col) = position(problem.id);
        fail(site, source, line, col, &problem.message)
    })?;
    if returns != Ty::Dyn && checked.ty != returns && !checked.ty.is_dynamic() {
        let (line, col) = position(program.expression().id);
        bail!(fail(site, source, line, col, &format!("must evaluate to {}, not {}", returns.name(), checked.ty.name())));
    }
    Ok(Expression { source: source.to_string(), program, ty: checked.ty, offline: checked.offline })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn compiled(source: &str, returns: Ty) -> Result<Expression> {
        let site = Site { at: "policies/p.yaml:7".into(), policy: "p", field: "spec.validations[0].expression".into() };
        let variables = BTreeMap::from([("known".to_string(), Ty::Bool.into())]);
        compile(&super::super::library::env(), source, &site, &Declarations { has_params: false, variables: &variables }, returns)
    }

    fn compile_error(source: &str) -> String {
        compiled(source, Ty::Bool).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn syntax_errors_name_file_expression_and_column() {
        let message = compile_error("object.spec.replicas <= ");
        assert!(message.starts_with("policies/p.yaml:7: ValidatingAdmissionPolicy p: spec.validations[0].expression: expression `object.spec.replicas <=` at column 26: Syntax error: mismatched input"), "{message}");
    }

    #[test]
    fn unknown_variables_are_rejected_with_their_column() {
        let message = compile_error("object.spec.replicas <= limit");
        assert!(message.contains("at column 25: undeclared reference to `limit`"), "{message}");
        let message = compile_error("variables.known && variables.unknown");
        assert!(message.contains("at column 29: `variables.unknown` is not defined"), "{message}");
        let message = compile_error("params.limit > 1");
        assert!(message.contains("at column 1: `params` is not declared: the policy has no `spec.paramKind`"), "{message}");
    }

    #[test]
    fn unknown_functions_arity_and_type_errors_have_their_column() {
        assert!(compile_error("object.name.lower() == 'a'").ends_with("expression `object.name.lower() == 'a'` at column 18: undeclared method `.lower()`"));
        assert!(compile_error("object.a && size(object.b, 1) > 0").ends_with("at column 17: `size()` takes 1 argument(s), not 2"));
        assert!(compile_error("object.a == 1 + 'a'").ends_with("at column 15: found no matching overload for `_+_` applied to (int, string)"));
        assert!(compile_error("size(2) > 1").ends_with("at column 5: found no matching overload for `size` applied to (int)"));
    }

    #[test]
    fn expressions_return_what_their_field_needs() {
        let message = compile_error("'replicas: ' + string(object.spec.replicas)");
        assert!(message.ends_with("at column 14: must evaluate to bool, not string"), "{message}");
        assert!(compiled("'replicas: ' + string(object.spec.replicas)", Ty::String).is_ok());
        assert!(compiled("object.spec.replicas", Ty::Bool).is_ok(), "unknown until evaluated");
        assert_eq!(compiled("size(object.items)", Ty::Dyn).unwrap().ty, Ty::Int);
    }

    /// A chain of 5,000 `+` (deeper than cel-go's parser allows) is a compile error in cel-go's
    /// words, not a stack overflow; as deep as cel-go allows compiles and evaluates (on a test
    /// thread's 2 MiB stack), also past cel-rust's own limit of 96 nested expressions.
    #[test]
    fn deeply_nested_expressions_are_refused_not_a_crash() {
        let chain = |terms: usize| format!("{} > 0", vec!["1"; terms].join(" + "));
        let message = compile_error(&chain(5000));
        assert!(message.ends_with("at column 1: max recursion depth exceeded"), "{}", &message[message.len() - 80..]);
        let message = compile_error(&format!("{}1{} == 1", "[".repeat(250), "]".repeat(250)));
        assert!(message.ends_with("at column 1: expression recursion limit exceeded: 250"), "{}", &message[message.len() - 80..]);
        let env = super::super::library::env();
        let context = super::super::library::root_context(env.clone());
        // 149 `+` and an `==` inside 120 lists and a 1,000-term `&&`: within cel-go's limits, and
        // past cel-rust's 96 nested expressions.
        let deep = format!("size({}{}{}) == 1 && {}", "[".repeat(120), vec!["1"; 150].join(" + "), "]".repeat(120), vec!["true"; 1000].join(" && "));
        let program = compiled(&deep, Ty::Bool).unwrap().program;
        assert_eq!(program.execute(&context), Ok(Value::Bool(true)));
        assert_eq!(compiled(&chain(250), Ty::Bool).unwrap().program.execute(&context), Ok(Value::Bool(true)));
        assert!(compile_error(&chain(251)).ends_with("max recursion depth exceeded"));
        // Within the API server's limits, past chartproof's: refused as chartproof's.
        let message = compile_error(&format!("{}1{} == 1", "[".repeat(200), "]".repeat(200)));
        assert!(message.ends_with("nested 201 levels deep (brackets, calls, conditionals): the API server allows 250, chartproof evaluates at most 150"), "{}", &message[message.len() - 80..]);
        let message = compile_error(&format!("size({}{}{}) == 1", "[".repeat(100), vec!["1"; 240].join(" + "), "]".repeat(100)));
        assert!(message.contains("within the API server's limits, but chartproof evaluates at most 300"), "{}", &message[message.len() - 80..]);
        let message = compile_error(&"a".repeat(100_001));
        assert!(message.ends_with("expression code point size exceeds limit: size: 100001, limit 100000"), "{}", &message[message.len() - 80..]);
    }

    #[test]
    fn comprehension_variables_are_bound() {
        let compiled_all = compiled("object.spec.containers.all(c, c.image.startsWith('x'))", Ty::Bool).unwrap();
        assert_eq!(compiled_all.offline, None);
        let authorizer = compiled("authorizer.group('apps').resource('deployments').check('create').allowed()", Ty::Bool).unwrap();
        assert!(authorizer.offline.is_some());
    }
}
