//! Static checks of a parsed policy expression, as the API server makes them when a policy is
//! created: every name is a variable the admission environment declares (`params` only with a
//! `paramKind`, `variables.<name>` only once declared), every function and method exists with
//! that many arguments, and operand types that are known without a schema (literals, library
//! results, declared variables) fit one of its overloads.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};

/// The type of an expression, as far as it is known without the objects' schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Not known before evaluation (object fields, params, ...).
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    List,
    Map,
    Type,
    Duration,
    Timestamp,
    Optional,
    Quantity,
    Ip,
    Cidr,
    Url,
    Semver,
    Format,
    /// `authorizer` and what its builder methods return: not evaluable offline.
    Authorizer,
}

impl Ty {
    fn parse(name: &str) -> Ty {
        match name {
            "dyn" => Ty::Dyn,
            "null" => Ty::Null,
            "bool" => Ty::Bool,
            "int" => Ty::Int,
            "uint" => Ty::Uint,
            "double" => Ty::Double,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "list" => Ty::List,
            "map" => Ty::Map,
            "type" => Ty::Type,
            "duration" => Ty::Duration,
            "timestamp" => Ty::Timestamp,
            "optional" => Ty::Optional,
            "quantity" => Ty::Quantity,
            "ip" => Ty::Ip,
            "cidr" => Ty::Cidr,
            "url" => Ty::Url,
            "semver" => Ty::Semver,
            "format" => Ty::Format,
            other => panic!("unknown type {other:?} in the CEL signatures"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::Dyn | Ty::Authorizer => "dyn",
            Ty::Null => "null_type",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Uint => "uint",
            Ty::Double => "double",
            Ty::String => "string",
            Ty::Bytes => "bytes",
            Ty::List => "list",
            Ty::Map => "map",
            Ty::Type => "type",
            Ty::Duration => "google.protobuf.Duration",
            Ty::Timestamp => "google.protobuf.Timestamp",
            Ty::Optional => "optional_type",
            Ty::Quantity => "kubernetes.Quantity",
            Ty::Ip => "net.IP",
            Ty::Cidr => "net.CIDR",
            Ty::Url => "kubernetes.URL",
            Ty::Semver => "kubernetes.Semver",
            Ty::Format => "kubernetes.NamedFormat",
        }
    }

    /// Known only at evaluation time: fits every parameter.
    pub fn is_dynamic(self) -> bool {
        matches!(self, Ty::Dyn | Ty::Authorizer)
    }

    /// Whether a value of this type may have fields selected (`x.f`, `has(x.f)`).
    fn has_fields(self) -> bool {
        matches!(self, Ty::Dyn | Ty::Authorizer | Ty::Map | Ty::Optional)
    }
}

/// The functions, methods and operators of the policy environment: cel-rust's standard library
/// and strings extension, optional values, and the Kubernetes libraries of `library.rs`. One
/// signature a line, `names(parameter types) result`; a name with a leading `.` is a method (its
/// receiver is the first parameter); `a|b` is one overload for each type.
const SIGNATURES: &str = "
_+_(int, int) int
_+_(uint, uint) uint
_+_(double, double) double
_+_(string, string) string
_+_(bytes, bytes) bytes
_+_(list, list) list
_+_(duration, duration) duration
_+_(timestamp, duration) timestamp
_+_(duration, timestamp) timestamp
_-_(int, int) int
_-_(uint, uint) uint
_-_(double, double) double
_-_(duration, duration) duration
_-_(timestamp, timestamp) duration
_-_(timestamp, duration) timestamp
_*_ _/_(int, int) int
_*_ _/_(uint, uint) uint
_*_ _/_(double, double) double
_%_(int, int) int
_%_(uint, uint) uint
-_(int) int
-_(double) double
!_ @not_strictly_false(bool) bool
_&&_ _||_(bool, bool) bool
_<_ _<=_ _>_ _>=_(int|uint|double, int|uint|double) bool
_<_ _<=_ _>_ _>=_(string, string) bool
_<_ _<=_ _>_ _>=_(bytes, bytes) bool
_<_ _<=_ _>_ _>=_(bool, bool) bool
_<_ _<=_ _>_ _>=_(timestamp, timestamp) bool
_<_ _<=_ _>_ _>=_(duration, duration) bool
_==_ _!=_(dyn, dyn) bool
@in(dyn, list|map) bool
_[_](list, int|uint) dyn
_[_](map, dyn) dyn
_[_](optional, dyn) optional
_[?_](list|map|optional, dyn) optional
_?._(map|optional, string) optional
_?_:_(bool, dyn, dyn) dyn
size .size(string|bytes|list|map) int
.contains .startsWith .endsWith .matches matches(string, string) bool
int(int|uint|double|string|timestamp|duration) int
uint(int|uint|double|string) uint
double(int|uint|double|string) double
string(string|bool|int|uint|double|bytes|timestamp|duration|ip|cidr) string
bytes(string|bytes) bytes
bool(bool|string) bool
type(dyn) type
dyn(dyn) dyn
duration(string|duration) duration
timestamp(string|timestamp|int) timestamp
.getFullYear .getMonth .getDate .getDayOfMonth .getDayOfWeek .getDayOfYear(timestamp) int
.getFullYear .getMonth .getDate .getDayOfMonth .getDayOfWeek .getDayOfYear(timestamp, string) int
.getHours .getMinutes .getSeconds .getMilliseconds(timestamp|duration) int
.getHours .getMinutes .getSeconds .getMilliseconds(timestamp, string) int
.charAt(string, int) string
.indexOf .lastIndexOf(string, string) int
.indexOf .lastIndexOf(string, string, int) int
.lowerAscii .upperAscii .trim .reverse(string) string
.replace(string, string, string) string
.replace(string, string, string, int) string
.split(string, string) list
.split(string, string, int) list
.substring(string, int) string
.substring(string, int, int) string
.join(list) string
.join(list, string) string
.format(string, list) string
strings.quote(string) string
optional.of optional.ofNonZeroValue(dyn) optional
optional.none() optional
.hasValue(optional) bool
.value(optional) dyn
.or(optional, optional) optional
.orValue(optional, dyn) dyn
.isSorted(list) bool
.sum .min .max(list) dyn
.indexOf .lastIndexOf(list, dyn) int
.reverse .distinct .sort .flatten(list) list
.flatten(list, int) list
.slice(list, int, int) list
.@sortByAssociatedKeys(list, list) list
lists.range(int) list
sets.contains sets.equivalent sets.intersects(list, list) bool
.find(string, string) string
.findAll(string, string) list
.findAll(string, string, int) list
quantity(string) quantity
isQuantity(string) bool
.isInteger(quantity) bool
.asInteger sign .sign(quantity) int
.asApproximateFloat(quantity) double
.add .sub(quantity, quantity|int) quantity
.compareTo(quantity, quantity) int
.isLessThan .isGreaterThan(quantity, quantity) bool
ip(string) ip
isIP ip.isCanonical(string) bool
.family(ip) int
.isUnspecified .isLoopback .isLinkLocalMulticast .isLinkLocalUnicast .isGlobalUnicast(ip) bool
cidr(string) cidr
isCIDR(string) bool
.containsIP(cidr, ip|string) bool
.containsCIDR(cidr, cidr|string) bool
.ip(cidr) ip
.masked(cidr) cidr
.prefixLength(cidr) int
url(string) url
isURL(string) bool
.getScheme .getHost .getHostname .getPort .getEscapedPath(url) string
.getQuery(url) map
semver(string) semver
semver(string, bool) semver
isSemver(string) bool
isSemver(string, bool) bool
.major .minor .patch(semver) int
.compareTo(semver, semver) int
.isLessThan .isGreaterThan(semver, semver) bool
format.named(string) optional
format.dns1123Label format.dns1123Subdomain format.dns1035Label format.qualifiedName format.dns1123LabelPrefix format.dns1123SubdomainPrefix format.dns1035LabelPrefix format.labelValue format.uri format.uuid format.byte format.date format.datetime() format
.validate(format, string) optional
";

/// Why a namespaced function outside [`SIGNATURES`] is refused: Kubernetes' CEL environment
/// (k8s.io/apiserver `pkg/cel/environment/base.go`, `baseOptsWithoutStrictCost`) has cel-go's
/// strings, sets, lists-library, optional and two-variable-comprehension extensions and the
/// Kubernetes libraries, but not cel-go's `math.*`, `base64.*` (encoders) or `cel.bind`
/// (bindings): the API server refuses a policy that calls them.
const NOT_IN_KUBERNETES: &str = "not a function of the Kubernetes CEL environment (k8s.io/apiserver pkg/cel/environment/base.go)";

/// The macros of Kubernetes' two-variable comprehensions (`list.all(i, v, p)`,
/// `map.transformMap(k, v, f)`, ...), which cel-rust does not expand: not evaluable offline.
const TWO_VARIABLE_COMPREHENSIONS: &[&str] = &["all", "exists", "existsOne", "exists_one", "transformList", "transformMap", "transformMapEntry"];

/// Top-level variables a ValidatingAdmissionPolicy expression may use.
pub const ADMISSION_VARIABLES: &[&str] = &["object", "oldObject", "request", "params", "namespaceObject", "variables", "authorizer"];

/// CEL's type identifiers (`type(x) == string`), which are not variables.
const TYPE_NAMES: &[&str] = &["bool", "bytes", "double", "int", "list", "map", "null_type", "optional_type", "string", "type", "uint", "dyn"];

/// The qualified type identifiers of the Kubernetes environment: the well-known protobuf types
/// and the types the IP and CIDR libraries declare (`cel.Types(IPType)`, `cel.Types(CIDRType)`).
pub const QUALIFIED_TYPE_NAMES: &[&str] = &["google.protobuf.Timestamp", "google.protobuf.Duration", "net.IP", "net.CIDR"];

struct Overload {
    name: &'static str,
    member: bool,
    params: Vec<Ty>,
    result: Ty,
}

/// Every overload of [`SIGNATURES`], parsed once.
fn overloads() -> &'static [Overload] {
    static OVERLOADS: OnceLock<Vec<Overload>> = OnceLock::new();
    OVERLOADS.get_or_init(|| {
        let mut all = Vec::new();
        for line in SIGNATURES.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (names, rest) = line.split_once('(').expect("a signature has parameters");
            let (params, result) = rest.split_once(')').expect("a signature closes its parameters");
            let result = Ty::parse(result.trim());
            // The cartesian product of each parameter's alternatives.
            let mut lists: Vec<Vec<Ty>> = vec![Vec::new()];
            for param in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let choices: Vec<Ty> = param.split('|').map(Ty::parse).collect();
                lists = lists.into_iter().flat_map(|l| choices.iter().map(move |c| [l.clone(), vec![*c]].concat())).collect();
            }
            for name in names.split_whitespace() {
                let (name, member) = name.strip_prefix('.').map_or((name, false), |n| (n, true));
                all.extend(lists.iter().map(|params| Overload { name, member, params: params.clone(), result }));
            }
        }
        all
    })
}

/// A problem found in an expression, at the expression node `id`.
#[derive(Debug)]
pub struct Problem {
    pub id: u64,
    pub message: String,
}

/// What the checks learned about an expression.
#[derive(Debug)]
pub struct Checked {
    pub ty: Ty,
    /// Why the expression cannot be evaluated offline (it uses `authorizer`, or a function
    /// chartproof does not implement), if it cannot.
    pub offline: Option<String>,
}

/// A declared `variables.<name>`, as its expression was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub ty: Ty,
    /// Why its expression cannot be evaluated offline, if it cannot.
    pub offline: Option<String>,
}

impl From<Ty> for Variable {
    fn from(ty: Ty) -> Variable {
        Variable { ty, offline: None }
    }
}

/// What an expression may refer to.
pub struct Declarations<'a> {
    /// The policy has a `paramKind`, so `params` is declared.
    pub has_params: bool,
    /// The `variables` declared before this expression.
    pub variables: &'a BTreeMap<String, Variable>,
}

/// Check `expr` against `declarations`.
pub fn check(expr: &IdedExpr, declarations: &Declarations) -> Result<Checked, Problem> {
    let mut checker = Checker { declarations, bound: Vec::new(), offline: None };
    let ty = checker.ty(expr)?;
    Ok(Checked { ty, offline: checker.offline })
}

struct Checker<'d, 'e> {
    declarations: &'d Declarations<'d>,
    /// Comprehension variables in scope, innermost last.
    bound: Vec<(&'e str, Ty)>,
    offline: Option<String>,
}

/// `a.b.c` for a chain of selections on an identifier.
fn qualified_name(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => Some(format!("{}.{}", qualified_name(&select.operand)?, select.field)),
        _ => None,
    }
}

fn problem(id: u64, message: String) -> Problem {
    Problem { id, message }
}

fn signature(types: &[Ty]) -> String {
    types.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
}

impl<'d, 'e> Checker<'d, 'e> {
    fn cannot_evaluate(&mut self, reason: String) {
        self.offline.get_or_insert(reason);
    }

    fn ty(&mut self, expr: &'e IdedExpr) -> Result<Ty, Problem> {
        match &expr.expr {
            Expr::Literal(literal) => Ok(match literal {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::Null => Ty::Null,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::UInt(_) => Ty::Uint,
            }),
            Expr::Ident(name) => self.ident(expr.id, name),
            Expr::Select(select) => {
                if let Some(name) = qualified_name(expr)
                    && QUALIFIED_TYPE_NAMES.contains(&name.as_str())
                    && !self.bound.iter().any(|(b, _)| Some(*b) == name.split('.').next())
                {
                    return Ok(Ty::Type);
                }
                if let Expr::Ident(name) = &select.operand.expr
                    && name == "variables"
                    && !self.bound.iter().any(|(b, _)| *b == "variables")
                {
                    let variable = self.declarations.variables.get(&select.field);
                    let variable = variable.ok_or_else(|| problem(expr.id, format!("`variables.{}` is not defined before this expression", select.field)))?;
                    if let Some(reason) = &variable.offline {
                        self.cannot_evaluate(format!("uses `variables.{}`, which {reason}", select.field));
                    }
                    return Ok(if select.test { Ty::Bool } else { variable.ty });
                }
                let operand = self.ty(&select.operand)?;
                if !operand.has_fields() {
                    return Err(problem(expr.id, format!("type `{}` has no field `{}`", operand.name(), select.field)));
                }
                Ok(match operand {
                    _ if select.test => Ty::Bool,
                    Ty::Optional | Ty::Authorizer => operand,
                    _ => Ty::Dyn,
                })
            }
            Expr::Call(call) => {
                // `ip.isCanonical(s)`: a namespaced function, not a method of a variable `ip`.
                if let Some(target) = &call.target
                    && let Some(namespace) = qualified_name(target)
                    && let Some(root) = namespace.split('.').next()
                    && !self.bound.iter().any(|(b, _)| *b == root)
                {
                    let name = format!("{namespace}.{}", call.func_name);
                    if overloads().iter().any(|o| !o.member && o.name == name) {
                        return self.call(expr.id, &name, None, &call.args);
                    }
                    // `math.greatest(...)` on no variable: a function of a library Kubernetes lacks.
                    if !ADMISSION_VARIABLES.contains(&root) {
                        return Err(problem(expr.id, format!("undeclared function `{name}()`: {NOT_IN_KUBERNETES}")));
                    }
                }
                self.call(expr.id, &call.func_name, call.target.as_deref(), &call.args)
            }
            Expr::Comprehension(comp) => {
                let range = self.ty(&comp.iter_range)?;
                if !matches!(range, Ty::List | Ty::Map) && !range.is_dynamic() {
                    return Err(problem(comp.iter_range.id, format!("cannot iterate over a value of type `{}` (a list or map is needed)", range.name())));
                }
                let accumulator = self.ty(&comp.accu_init)?;
                let depth = self.bound.len();
                self.bound.push((&comp.iter_var, Ty::Dyn));
                if let Some(second) = &comp.iter_var2 {
                    self.bound.push((second, Ty::Dyn));
                }
                self.bound.push((&comp.accu_var, accumulator));
                let result = [&comp.loop_cond, &comp.loop_step].into_iter().try_for_each(|part| self.ty(part).map(drop)).and_then(|()| self.ty(&comp.result));
                self.bound.truncate(depth);
                result
            }
            Expr::List(list) => {
                for element in &list.elements {
                    self.ty(element)?;
                }
                Ok(Ty::List)
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    match &entry.expr {
                        EntryExpr::StructField(field) => self.ty(&field.value).map(drop)?,
                        EntryExpr::MapEntry(map_entry) => {
                            self.ty(&map_entry.key)?;
                            self.ty(&map_entry.value)?;
                        }
                    }
                }
                Ok(Ty::Map)
            }
            Expr::Struct(structure) => {
                for entry in &structure.entries {
                    if let EntryExpr::StructField(field) = &entry.expr {
                        self.ty(&field.value)?;
                    }
                }
                Ok(Ty::Dyn)
            }
            Expr::Unspecified => Ok(Ty::Dyn),
        }
    }

    fn ident(&mut self, id: u64, name: &str) -> Result<Ty, Problem> {
        if let Some((_, ty)) = self.bound.iter().rev().find(|(bound, _)| *bound == name) {
            return Ok(*ty);
        }
        if TYPE_NAMES.contains(&name) {
            return Ok(Ty::Type);
        }
        match name {
            "params" if !self.declarations.has_params => Err(problem(id, "`params` is not declared: the policy has no `spec.paramKind`".into())),
            "authorizer" => {
                self.cannot_evaluate("uses `authorizer` (the API server's authorization check)".into());
                Ok(Ty::Authorizer)
            }
            "variables" => Ok(Ty::Map),
            _ if ADMISSION_VARIABLES.contains(&name) => Ok(Ty::Dyn),
            _ => Err(problem(id, format!("undeclared reference to `{name}` (available: {})", ADMISSION_VARIABLES.join(", ")))),
        }
    }

    fn call(&mut self, id: u64, name: &str, target: Option<&'e IdedExpr>, args: &'e [IdedExpr]) -> Result<Ty, Problem> {
        let member = target.is_some();
        let shown = if member { format!(".{name}()") } else { format!("{name}()") };
        let mut types = Vec::with_capacity(args.len() + 1);
        if let Some(target) = target {
            types.push(self.ty(target)?);
        }
        let named: Vec<&Overload> = overloads().iter().filter(|o| o.name == name && o.member == member).collect();
        // The authorizer's builder methods (group, resource, check, allowed, ...) take anything.
        let on_authorizer = types.first() == Some(&Ty::Authorizer);
        let binds_two = |args: &[IdedExpr]| matches!(args, [IdedExpr { expr: Expr::Ident(_), .. }, IdedExpr { expr: Expr::Ident(_), .. }, _] | [IdedExpr { expr: Expr::Ident(_), .. }, IdedExpr { expr: Expr::Ident(_), .. }, _, _]);
        let not_implemented = member && TWO_VARIABLE_COMPREHENSIONS.contains(&name) && binds_two(args);
        if named.is_empty() && !on_authorizer && !not_implemented {
            let kind = if member { "method" } else { "function" };
            return Err(problem(id, format!("undeclared {kind} `{shown}`")));
        }
        // Two-variable comprehensions (`list.all(i, v, ...)`, `transformMap`) bind names in their
        // arguments; cel-rust lacks them, so their arguments are not checked.
        if not_implemented {
            self.cannot_evaluate(format!("uses `{shown}`, a Kubernetes CEL function chartproof does not implement"));
            return Ok(Ty::Dyn);
        }
        for arg in args {
            types.push(self.ty(arg)?);
        }
        // cel-go's `ValidateRegexLiterals` (in Kubernetes' base environment since 1.29): a
        // literal pattern of `matches` must compile (RE2 syntax, which the regex crate shares).
        if name == "matches"
            && let Some(IdedExpr { id, expr: Expr::Literal(LiteralValue::String(pattern)) }) = args.last()
            && let Err(error) = regex::Regex::new(pattern)
        {
            let error = error.to_string();
            let reason = error.lines().last().unwrap_or_default().trim_start_matches("error: ");
            return Err(problem(*id, format!("invalid matches argument {:?}: {reason}", pattern.as_ref() as &str)));
        }
        if let Some(problem) = invalid_conversion_literal(name, target, args) {
            return Err(problem);
        }
        if on_authorizer {
            return Ok(Ty::Authorizer);
        }
        let arity = |o: &&Overload| o.params.len() - usize::from(o.member);
        let fitting: Vec<&Overload> = named.iter().copied().filter(|o| o.params.len() == types.len()).collect();
        if fitting.is_empty() {
            let mut counts: Vec<usize> = named.iter().map(arity).collect();
            counts.sort_unstable();
            counts.dedup();
            let counts = counts.iter().map(usize::to_string).collect::<Vec<_>>().join(" or ");
            return Err(problem(id, format!("`{shown}` takes {counts} argument(s), not {}", args.len())));
        }
        let accepts = |o: &&Overload| o.params.iter().zip(&types).all(|(param, arg)| param == arg || param.is_dynamic() || arg.is_dynamic());
        let matching: Vec<&Overload> = fitting.into_iter().filter(accepts).collect();
        if matching.is_empty() || (matches!(name, "_==_" | "_!=_") && incomparable(types[0], types[1])) {
            return Err(problem(id, format!("found no matching overload for `{name}` applied to ({})", signature(&types))));
        }
        Ok(match name {
            "_?_:_" if types[1] == types[2] => types[1],
            _ if matching.iter().all(|o| o.result == matching[0].result) => matching[0].result,
            _ => Ty::Dyn,
        })
    }
}

/// cel-go's `ValidateDurationLiterals` and `ValidateTimestampLiterals` (`cel/validator.go`), in
/// Kubernetes' base environment since compatibility version 1.29 (`base.go`; API servers from
/// 1.30): `duration(...)` or `timestamp(...)` of a literal is evaluated at compile time
/// (`evalCall`, with no variables), and an error refuses the expression, reported at the
/// literal as "invalid duration argument".
fn invalid_conversion_literal(name: &str, target: Option<&IdedExpr>, args: &[IdedExpr]) -> Option<Problem> {
    if target.is_some() || !matches!(name, "duration" | "timestamp") {
        return None;
    }
    let literal @ IdedExpr { id, expr: Expr::Literal(value) } = args.first()? else { return None };
    let call = IdedExpr { id: 0, expr: Expr::Call(cel::common::ast::CallExpr { func_name: name.to_string(), target: None, args: vec![literal.clone()] }) };
    let error = cel::Value::resolve(&call, &cel::Context::default()).err()?;
    let shown = match value {
        LiteralValue::String(text) => format!("{:?}", text.as_ref() as &str),
        LiteralValue::Int(number) => number.to_string(),
        _ => String::new(),
    };
    Some(problem(*id, format!("invalid {name} argument {shown}: {error}")))
}

/// Two known types that can never be equal (a string and an int, say); numbers compare across
/// their types and null with anything.
fn incomparable(a: Ty, b: Ty) -> bool {
    let family = |t: Ty| match t {
        Ty::Int | Ty::Uint | Ty::Double => Some(0),
        Ty::Bool => Some(1),
        Ty::String => Some(2),
        Ty::Bytes => Some(3),
        Ty::List => Some(4),
        Ty::Map => Some(5),
        _ => None,
    };
    matches!((family(a), family(b)), (Some(x), Some(y)) if x != y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problem `check` finds in `source`, or its result type.
    fn checked(source: &str, has_params: bool) -> Result<Ty, String> {
        let env = super::super::library::env();
        let program = env.compile(source).unwrap();
        let variables = BTreeMap::from([("count".to_string(), Ty::Int.into()), ("anything".to_string(), Ty::Dyn.into())]);
        check(program.expression(), &Declarations { has_params, variables: &variables }).map(|c| c.ty).map_err(|p| p.message)
    }

    #[test]
    fn signatures_parse() {
        assert!(overloads().len() > 150);
        assert!(overloads().iter().any(|o| o.name == "ip.isCanonical" && !o.member));
    }

    #[test]
    fn result_types_follow_the_signatures() {
        assert_eq!(checked("1 + 2", false), Ok(Ty::Int));
        assert_eq!(checked("'a' + 'b'", false), Ok(Ty::String));
        assert_eq!(checked("size(object.spec.containers)", false), Ok(Ty::Int));
        assert_eq!(checked("object.spec.replicas + 1", false), Ok(Ty::Int));
        assert_eq!(checked("quantity('1Gi').isGreaterThan(quantity('1'))", false), Ok(Ty::Bool));
        assert_eq!(checked("variables.count > 2", false), Ok(Ty::Bool));
        assert_eq!(checked("object.x.all(c, c.image.startsWith('a'))", false), Ok(Ty::Bool));
        assert_eq!(checked("object.x.map(c, c.name)", false), Ok(Ty::List));
        assert_eq!(checked("ip.isCanonical('::1') && optional.none().orValue(1) == 1", false), Ok(Ty::Bool));
        assert_eq!(checked("true ? 'a' : 'b'", false), Ok(Ty::String));
    }

    #[test]
    fn type_errors_known_without_a_schema() {
        assert_eq!(checked("1 + 'a'", false), Err("found no matching overload for `_+_` applied to (int, string)".into()));
        assert_eq!(checked("size(1) > 0", false), Err("found no matching overload for `size` applied to (int)".into()));
        assert_eq!(checked("variables.count + 'a' == ''", false), Err("found no matching overload for `_+_` applied to (int, string)".into()));
        assert_eq!(checked("'a' == 1", false), Err("found no matching overload for `_==_` applied to (string, int)".into()));
        assert!(checked("1 == 1.0 && 1 < 2.5 && null == 'a'", false).is_ok());
        assert_eq!(checked("1.all(x, x > 0)", false), Err("cannot iterate over a value of type `int` (a list or map is needed)".into()));
        assert_eq!(checked("'abc'.name == 'x'", false), Err("type `string` has no field `name`".into()));
        assert_eq!(checked("!object.x || 'a'", false), Err("found no matching overload for `_||_` applied to (bool, string)".into()));
    }

    #[test]
    fn unknown_functions_and_wrong_arity() {
        assert_eq!(checked("object.name.lower() == 'a'", false), Err("undeclared method `.lower()`".into()));
        assert_eq!(checked("lowerAscii(object.name) == 'a'", false), Err("undeclared function `lowerAscii()`".into()));
        assert_eq!(checked("size(object.a, object.b) == 1", false), Err("`size()` takes 1 argument(s), not 2".into()));
        assert_eq!(checked("object.name.split() == []", false), Err("`.split()` takes 1 or 2 argument(s), not 0".into()));
        // A macro called with the wrong number of arguments is no macro, and no function either.
        assert_eq!(checked("object.items.all(x)", false), Err("undeclared method `.all()`".into()));
        assert_eq!(checked("object.items.exists(x, x > 1, 2)", false), Err("undeclared method `.exists()`".into()));
    }

    #[test]
    fn params_need_a_param_kind() {
        assert_eq!(checked("params.max > 1", false), Err("`params` is not declared: the policy has no `spec.paramKind`".into()));
        assert!(checked("params.max > 1", true).is_ok());
    }

    /// Why `source` cannot be evaluated offline, if it cannot.
    fn offline(source: &str) -> Option<String> {
        let program = super::super::library::env().compile(source).unwrap();
        check(program.expression(), &Declarations { has_params: false, variables: &BTreeMap::new() }).unwrap().offline
    }

    #[test]
    fn kubernetes_functions_not_implemented_are_not_evaluable_offline() {
        assert!(offline("authorizer.group('apps').resource('deployments').check('create').allowed() && true").unwrap().contains("authorizer"));
        assert_eq!(offline("object.a.all(x, x > 1)"), None);
        for binder in ["object.items.all(i, v, v > i)", "object.labels.transformMap(k, v, v + 'x')"] {
            assert!(offline(binder).unwrap().contains("a Kubernetes CEL function chartproof does not implement"), "{binder}");
        }
    }

    /// cel-go libraries the Kubernetes environment (base.go) does not include are refused, as
    /// the API server refuses the policy.
    #[test]
    fn functions_outside_the_kubernetes_environment_are_refused() {
        for (source, function) in [("math.greatest(object.a, 1) > 2", "math.greatest"), ("base64.encode(b'a') == 'YQ=='", "base64.encode"), ("cel.bind(x, object.a, x + 1) > 2", "cel.bind"), ("math.abs(-1) == 1", "math.abs")] {
            assert_eq!(checked(source, false), Err(format!("undeclared function `{function}()`: {NOT_IN_KUBERNETES}")), "{source}");
        }
        // Methods on variables are not namespaced functions.
        assert!(checked("object.math.greatest(1) > 2", false).is_err_and(|e| e == "undeclared method `.greatest()`"));
    }

    #[test]
    fn invalid_regex_duration_and_timestamp_literals_are_refused() {
        assert_eq!(checked("object.name.matches('[a-z')", false), Err("invalid matches argument \"[a-z\": unclosed character class".into()));
        assert_eq!(checked("matches(object.name, '(x')", false), Err("invalid matches argument \"(x\": unclosed group".into()));
        // `ValidateDurationLiterals` / `ValidateTimestampLiterals`: the cases of cel-go's
        // `cel/validator_test.go` (TestValidateDurationLiterals, TestValidateTimestampLiterals;
        // its variable `x` is `object.x` here), refused at the literal.
        let refused = [
            ("duration('1')", "duration argument \"1\""),
            ("duration('1d')", "duration argument \"1d\""),
            ("duration('1us')\n < duration('1nns')", "duration argument \"1nns\""),
            ("timestamp('1000-00-00T00:00:00Z')", "timestamp argument \"1000-00-00T00:00:00Z\""),
            ("timestamp('1000-01-01T00:00:00ZZ')", "timestamp argument \"1000-01-01T00:00:00ZZ\""),
            ("timestamp(-62135596801)", "timestamp argument -62135596801"),
        ];
        for (source, literal) in refused {
            let message = checked(&format!("{source} == object.x"), false).unwrap_err();
            assert!(message.starts_with(&format!("invalid {literal}: ")), "{source}: {message}");
        }
        for valid in ["duration('2h3m4s5us')", "duration(object.x)", "timestamp('1000-01-01T00:00:00Z')", "timestamp(-6213559680)", "timestamp(-62135596800)", "timestamp(object.x)"] {
            assert_eq!(checked(&format!("{valid} == object.y"), false), Ok(Ty::Bool), "{valid}");
        }
        assert_eq!(checked("object.name.matches('^[a-z]+$')", false), Ok(Ty::Bool));
        assert_eq!(checked("object.name.matches(object.pattern)", false), Ok(Ty::Bool));
    }

    #[test]
    fn kubernetes_type_identifiers_are_types() {
        for name in ["net.IP", "net.CIDR", "google.protobuf.Timestamp", "google.protobuf.Duration", "optional_type"] {
            assert_eq!(checked(&format!("type(object.x) == {name}"), false), Ok(Ty::Bool), "{name}");
        }
        assert!(checked("type(object.x) == net.Nope", false).is_err());
    }
}
