//! Compiling a policy's CEL expressions once per run, rejecting syntax errors and references to
//! variables the admission environment does not have, with the file, expression and column.

use std::sync::Arc;

use anyhow::{Result, bail};
use cel::{Env, Program};

use super::typecheck::{self, Declarations, Ty};

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

/// Compile `source` and check it against `declarations`; `returns` is the type the field must
/// have (bool for a validation, string for a message expression).
pub fn compile(env: &Arc<Env>, source: &str, site: &Site, declarations: &Declarations, returns: Ty) -> Result<Expression> {
    let program = match env.compile(source) {
        Ok(p) => p,
        Err(errors) => {
            let first = errors.errors.first();
            let (line, col) = first.map_or((1, 1), |e| (e.pos.0.max(1) as usize, e.pos.1.max(0) as usize + 1));
            let message = first.map_or_else(|| errors.to_string(), |e| e.msg.clone());
            return Err(fail(site, source, line, col, &message));
        }
    };
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

    #[test]
    fn comprehension_variables_are_bound() {
        let compiled_all = compiled("object.spec.containers.all(c, c.image.startsWith('x'))", Ty::Bool).unwrap();
        assert_eq!(compiled_all.offline, None);
        let authorizer = compiled("authorizer.group('apps').resource('deployments').check('create').allowed()", Ty::Bool).unwrap();
        assert!(authorizer.offline.is_some());
    }
}
