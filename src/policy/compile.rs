//! Compiling a policy's CEL expressions once per run, rejecting syntax errors and references to
//! variables the admission environment does not have, with the file, expression and column.

use std::sync::Arc;

use anyhow::{Result, bail};
use cel::{Env, Program};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use super::typecheck::{self, Declarations, MAX_NESTING, Ty};

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
/// and dots than [`MAX_NESTING`].
fn may_nest_deeply(source: &str) -> bool {
    source.chars().filter(|c| "+-*/%&|<>=!?:([{.,".contains(*c)).count() > MAX_NESTING
}

/// `env.compile(source)`, on a thread with a large stack when the expression may nest deeply
/// (the stack is reserved, and used only as deep as the expression goes).
fn parse(env: &Arc<Env>, source: &str) -> Result<Program, cel::ParseErrors> {
    if !may_nest_deeply(source) {
        return env.compile(source);
    }
    std::thread::scope(|scope| {
        let parsing = std::thread::Builder::new().stack_size(PARSER_STACK).spawn_scoped(scope, || env.compile(source));
        parsing.expect("a parser thread starts").join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

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
    let program = match parse(env, source) {
        Ok(p) => p,
        Err(errors) => {
            let first = errors.errors.first();
            let (line, col) = first.map_or((1, 1), |e| (e.pos.0.max(1) as usize, e.pos.1.max(0) as usize + 1));
            let message = first.map_or_else(|| errors.to_string(), |e| e.msg.clone());
            return Err(fail(site, source, line, col, &message));
        }
    };
    if nesting(program.expression()) > MAX_NESTING {
        let message = format!("expression recursion limit exceeded: {MAX_NESTING}");
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

    /// A chain of 5,000 `+` (deeper than cel-go's parser allows) is a compile error, not a stack
    /// overflow; one as deep as allowed compiles.
    #[test]
    fn deeply_nested_expressions_are_refused_not_a_crash() {
        let chain = |terms: usize| format!("{} > 0", vec!["1"; terms].join(" + "));
        let message = compile_error(&chain(5000));
        assert!(message.ends_with("expression recursion limit exceeded: 250"), "{}", &message[message.len() - 80..]);
        assert!(compiled(&chain(200), Ty::Bool).is_ok());
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
