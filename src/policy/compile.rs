//! Compiling a policy's CEL expressions once per run, rejecting syntax errors and references to
//! variables the admission environment does not have, with the file, expression and column.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, bail};
use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::{Env, Program};

/// Top-level variables a ValidatingAdmissionPolicy expression may use.
pub const ADMISSION_VARIABLES: &[&str] = &["object", "oldObject", "request", "params", "namespaceObject", "variables", "authorizer"];

/// CEL's type identifiers (`type(x) == string`), which are not variables.
const TYPE_NAMES: &[&str] = &["bool", "bytes", "double", "int", "list", "map", "null_type", "string", "type", "uint", "dyn"];

/// One compiled expression with its source.
#[derive(Debug)]
pub struct Expression {
    pub source: String,
    pub program: Program,
    /// Uses `authorizer`, which cannot be evaluated offline.
    pub needs_authorizer: bool,
}

/// Where an expression sits, for error messages: file and YAML path.
pub struct Site<'a> {
    pub file: &'a Path,
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
        site.file.display(),
        site.policy,
        site.field,
        source.trim()
    )
}

/// Identifiers not bound by an enclosing comprehension, and `variables.<name>` selections, with
/// their expression ids.
fn free_references<'e>(expr: &'e IdedExpr, bound: &mut Vec<&'e str>, idents: &mut Vec<(&'e str, u64)>, variable_uses: &mut Vec<(&'e str, u64)>) {
    match &expr.expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.contains(&name.as_str()) && !TYPE_NAMES.contains(&name.as_str()) {
                idents.push((name, expr.id));
            }
        }
        Expr::Select(select) => {
            if let Expr::Ident(name) = &select.operand.expr
                && name == "variables"
                && !bound.contains(&"variables")
            {
                variable_uses.push((&select.field, expr.id));
            }
            free_references(&select.operand, bound, idents, variable_uses);
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                free_references(target, bound, idents, variable_uses);
            }
            for arg in &call.args {
                free_references(arg, bound, idents, variable_uses);
            }
        }
        Expr::Comprehension(comp) => {
            free_references(&comp.iter_range, bound, idents, variable_uses);
            free_references(&comp.accu_init, bound, idents, variable_uses);
            let depth = bound.len();
            bound.push(&comp.iter_var);
            if let Some(second) = &comp.iter_var2 {
                bound.push(second);
            }
            bound.push(&comp.accu_var);
            for part in [&comp.loop_cond, &comp.loop_step, &comp.result] {
                free_references(part, bound, idents, variable_uses);
            }
            bound.truncate(depth);
        }
        Expr::List(list) => list.elements.iter().for_each(|e| free_references(e, bound, idents, variable_uses)),
        Expr::Map(map) => {
            for entry in &map.entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => free_references(&field.value, bound, idents, variable_uses),
                    EntryExpr::MapEntry(map_entry) => {
                        free_references(&map_entry.key, bound, idents, variable_uses);
                        free_references(&map_entry.value, bound, idents, variable_uses);
                    }
                }
            }
        }
        Expr::Struct(structure) => {
            for entry in &structure.entries {
                if let EntryExpr::StructField(field) = &entry.expr {
                    free_references(&field.value, bound, idents, variable_uses);
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Compile `source`; `declared_variables` are the `variables` defined before it.
pub fn compile(env: &Arc<Env>, source: &str, site: &Site, declared_variables: &BTreeSet<String>) -> Result<Expression> {
    let program = match env.compile(source) {
        Ok(p) => p,
        Err(errors) => {
            let first = errors.errors.first();
            let (line, col) = first.map_or((1, 1), |e| (e.pos.0.max(1) as usize, e.pos.1.max(0) as usize + 1));
            let message = first.map_or_else(|| errors.to_string(), |e| e.msg.clone());
            return Err(fail(site, source, line, col, &message));
        }
    };
    let (mut idents, mut variable_uses) = (Vec::new(), Vec::new());
    free_references(program.expression(), &mut Vec::new(), &mut idents, &mut variable_uses);
    let position = |id: u64| program.source_info().offset_for(id).map_or((1, 1), |(start, _)| column(source, start));
    if let Some((name, id)) = idents.iter().find(|(name, _)| !ADMISSION_VARIABLES.contains(name)) {
        let (line, col) = position(*id);
        bail!(fail(site, source, line, col, &format!("undeclared reference to `{name}` (available: {})", ADMISSION_VARIABLES.join(", "))));
    }
    if let Some((name, id)) = variable_uses.iter().find(|(name, _)| !declared_variables.contains(*name)) {
        let (line, col) = position(*id);
        bail!(fail(site, source, line, col, &format!("`variables.{name}` is not defined before this expression")));
    }
    let needs_authorizer = idents.iter().any(|(name, _)| *name == "authorizer");
    Ok(Expression { source: source.to_string(), program, needs_authorizer })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_error(source: &str) -> String {
        let site = Site { file: Path::new("policies/p.yaml"), policy: "p", field: "validations[0].expression".into() };
        let declared = BTreeSet::from(["known".to_string()]);
        compile(&super::super::library::env(), source, &site, &declared).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn syntax_errors_name_file_expression_and_column() {
        let message = compile_error("object.spec.replicas <= ");
        assert!(message.starts_with("policies/p.yaml: ValidatingAdmissionPolicy p: validations[0].expression: expression `object.spec.replicas <=` at column 26: Syntax error: mismatched input"), "{message}");
    }

    #[test]
    fn unknown_variables_are_rejected_with_their_column() {
        let message = compile_error("object.spec.replicas <= limit");
        assert!(message.contains("at column 25: undeclared reference to `limit`"), "{message}");
        let message = compile_error("variables.known && variables.unknown");
        assert!(message.contains("at column 29: `variables.unknown` is not defined"), "{message}");
    }

    #[test]
    fn comprehension_variables_are_bound() {
        let site = Site { file: Path::new("p.yaml"), policy: "p", field: "f".into() };
        let env = super::super::library::env();
        let compiled = compile(&env, "object.spec.containers.all(c, c.image.startsWith('x'))", &site, &BTreeSet::new()).unwrap();
        assert!(!compiled.needs_authorizer);
        assert!(compile(&env, "authorizer.group('apps').resource('deployments').check('create').allowed()", &site, &BTreeSet::new()).unwrap().needs_authorizer);
    }
}
