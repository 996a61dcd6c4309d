//! The CEL environment policies are compiled and run in: cel-rust's standard library and its
//! strings extension, plus the Kubernetes CEL libraries chartproof implements offline —
//! `quantity()` and its comparisons, the regex functions `find`/`findAll`, and the list
//! functions `isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`, and `ip()`/`cidr()`.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use cel::common::types::{CelInt, DYN_TYPE, LIST_TYPE};
use cel::common::value::CowVal;
use cel::extractors::{Arguments, This};
use cel::objects::{Opaque, Value};
use cel::{Context, Env, ExecutionError};

use crate::rules::quantity::Quantity;

/// A Kubernetes `resource.Quantity` as a CEL value (`quantity("500Mi")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KubeQuantity(Quantity);

impl Opaque for KubeQuantity {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Quantity"
    }
}

/// A Kubernetes CEL `net.IP` (`ip("10.0.0.1")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KubeIp(IpAddr);

impl Opaque for KubeIp {
    fn runtime_type_name(&self) -> &str {
        "net.IP"
    }
}

/// A Kubernetes CEL `net.CIDR` (`cidr("10.0.0.0/8")`): address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KubeCidr(IpAddr, u8);

impl Opaque for KubeCidr {
    fn runtime_type_name(&self) -> &str {
        "net.CIDR"
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    // Kubernetes rejects IPv4-mapped IPv6 and zones; std rejects zones already.
    text.parse::<IpAddr>().ok().filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some()))
}

fn parse_cidr(text: &str) -> Option<KubeCidr> {
    let (address, prefix) = text.split_once('/')?;
    let (ip, prefix) = (parse_ip(address)?, prefix.parse::<u8>().ok()?);
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some(KubeCidr(ip, prefix))
}

fn ip(text: Arc<String>) -> Result<Value, ExecutionError> {
    let ip = parse_ip(&text).ok_or_else(|| function_error("ip", format!("IP Address {text:?} parse error")))?;
    Ok(Value::Opaque(Arc::new(KubeIp(ip))))
}

fn cidr(text: Arc<String>) -> Result<Value, ExecutionError> {
    let cidr = parse_cidr(&text).ok_or_else(|| function_error("cidr", format!("network address {text:?} parse error")))?;
    Ok(Value::Opaque(Arc::new(cidr)))
}

fn opaque<T: Copy + 'static>(v: &Value, function: &str) -> Result<T, ExecutionError> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<T>().copied().ok_or_else(|| function_error(function, "wrong receiver type")),
        other => Err(function_error(function, format!("wrong receiver type: {other:?}"))),
    }
}

fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// `cidr.containsIP(ip or string)`.
fn contains_ip(This(range): This<Value>, address: Value) -> Result<bool, ExecutionError> {
    let KubeCidr(network, prefix) = opaque(&range, "containsIP")?;
    let address = match &address {
        Value::String(s) => parse_ip(s).ok_or_else(|| function_error("containsIP", format!("IP Address {s:?} parse error")))?,
        other => opaque::<KubeIp>(other, "containsIP")?.0,
    };
    let ((net, width), (addr, addr_width)) = (bits(network), bits(address));
    if width != addr_width {
        return Ok(false);
    }
    let shift = width - u32::from(prefix);
    Ok(shift >= width || (net >> shift) == (addr >> shift))
}

/// The compile-time environment: standard library, optional syntax, strings extension.
pub fn env() -> Arc<Env> {
    let mut env = Env::stdlib();
    env.add_extension(cel::extensions::strings).expect("the strings extension registers once");
    // `indexOf` is a member overload of the strings extension, so the list form joins it there.
    env.add_member_overload("indexOf", "list.indexOf(dyn)", LIST_TYPE, vec![DYN_TYPE], list_index_of).expect("list.indexOf registers once");
    env.add_member_overload("lastIndexOf", "list.lastIndexOf(dyn)", LIST_TYPE, vec![DYN_TYPE], list_last_index_of).expect("list.lastIndexOf registers once");
    Arc::new(env)
}

/// Position of `item` in the list, by CEL equality (-1 when absent).
fn position<'b, 'v>(args: Vec<CowVal<'b, 'v>>, last: bool) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list, item]: [CowVal; 2] = args.try_into().map_err(|a: Vec<CowVal>| ExecutionError::invalid_argument_count(2, a.len()))?;
    let iterable = list.as_ref().as_iterable().ok_or_else(|| function_error("indexOf", "receiver is not a list"))?;
    let mut items = iterable.iter();
    let mut found = -1i64;
    let mut index = 0i64;
    while let Some(element) = items.next() {
        if element.equals(item.as_ref()) {
            found = index;
            if !last {
                break;
            }
        }
        index += 1;
    }
    Ok(CowVal::owned(CelInt::from(found)))
}

fn list_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    position(args, false)
}

fn list_last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    position(args, true)
}

/// A root context over `env` with the Kubernetes library functions added; evaluations bind
/// their variables in an inner scope of it.
pub fn root_context(env: Arc<Env>) -> Context<'static, 'static> {
    let mut ctx = Context::with_env(env);
    add(&mut ctx, "quantity", quantity);
    add(&mut ctx, "isQuantity", is_quantity);
    add(&mut ctx, "compareTo", compare_to);
    add(&mut ctx, "isGreaterThan", |This(a): This<Value>, b: Value| -> Result<bool, ExecutionError> { Ok(compare(&a, &b)? == Ordering::Greater) });
    add(&mut ctx, "isLessThan", |This(a): This<Value>, b: Value| -> Result<bool, ExecutionError> { Ok(compare(&a, &b)? == Ordering::Less) });
    add(&mut ctx, "asInteger", as_integer);
    add(&mut ctx, "ip", ip);
    add(&mut ctx, "isIP", |text: Arc<String>| parse_ip(&text).is_some());
    add(&mut ctx, "family", |This(v): This<Value>| -> Result<i64, ExecutionError> { Ok(if opaque::<KubeIp>(&v, "family")?.0.is_ipv4() { 4 } else { 6 }) });
    add(&mut ctx, "isLoopback", |This(v): This<Value>| -> Result<bool, ExecutionError> { Ok(opaque::<KubeIp>(&v, "isLoopback")?.0.is_loopback()) });
    add(&mut ctx, "cidr", cidr);
    add(&mut ctx, "isCIDR", |text: Arc<String>| parse_cidr(&text).is_some());
    add(&mut ctx, "containsIP", contains_ip);
    add(&mut ctx, "prefixLength", |This(v): This<Value>| -> Result<i64, ExecutionError> { Ok(i64::from(opaque::<KubeCidr>(&v, "prefixLength")?.1)) });
    add(&mut ctx, "find", find);
    add(&mut ctx, "findAll", find_all);
    add(&mut ctx, "isSorted", is_sorted);
    add(&mut ctx, "sum", sum);
    add(&mut ctx, "min", |This(list): This<Arc<Vec<Value>>>| extreme(&list, Ordering::Less, "min"));
    add(&mut ctx, "max", |This(list): This<Arc<Vec<Value>>>| extreme(&list, Ordering::Greater, "max"));
    ctx
}

fn add<T: 'static, F>(ctx: &mut Context<'static, 'static>, name: &str, function: F)
where
    F: cel::extractors::IntoFunction<T> + 'static + Send + Sync,
{
    ctx.add_function(name, function).unwrap_or_else(|e| panic!("CEL function {name}: {e}"));
}

fn function_error(function: &str, message: impl ToString) -> ExecutionError {
    ExecutionError::function_error(function, message)
}

fn quantity(text: Arc<String>) -> Result<Value, ExecutionError> {
    let q = Quantity::parse(&text).map_err(|e| function_error("quantity", format!("{text:?}: {e}")))?;
    Ok(Value::Opaque(Arc::new(KubeQuantity(q))))
}

fn is_quantity(text: Arc<String>) -> bool {
    Quantity::parse(&text).is_ok()
}

fn as_quantity(v: &Value, function: &str) -> Result<Quantity, ExecutionError> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<KubeQuantity>().map(|q| q.0).ok_or_else(|| function_error(function, "not a quantity")),
        other => Err(function_error(function, format!("not a quantity: {other:?}"))),
    }
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, ExecutionError> {
    Ok(as_quantity(a, "compareTo")?.cmp(&as_quantity(b, "compareTo")?))
}

fn compare_to(This(a): This<Value>, b: Value) -> Result<i64, ExecutionError> {
    Ok(match compare(&a, &b)? {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    })
}

fn as_integer(This(a): This<Value>) -> Result<i64, ExecutionError> {
    let q = as_quantity(&a, "asInteger")?;
    let nano = 1_000_000_000i128;
    if q.0 % nano != 0 {
        return Err(function_error("asInteger", "quantity is not an integer"));
    }
    i64::try_from(q.0 / nano).map_err(|_| function_error("asInteger", "quantity overflows int64"))
}

fn regex(pattern: &str, function: &str) -> Result<regex::Regex, ExecutionError> {
    regex::Regex::new(pattern).map_err(|e| function_error(function, e))
}

fn find(This(text): This<Arc<String>>, pattern: Arc<String>) -> Result<Value, ExecutionError> {
    Ok(Value::from(regex(&pattern, "find")?.find(&text).map(|m| m.as_str().to_string()).unwrap_or_default()))
}

/// `findAll(regex)` and `findAll(regex, limit)`; a negative limit means all matches.
fn find_all(This(text): This<Arc<String>>, Arguments(args): Arguments) -> Result<Value, ExecutionError> {
    let (pattern, limit) = match args.as_slice() {
        [Value::String(p)] => (p, None),
        [Value::String(p), Value::Int(n)] => (p, usize::try_from(*n).ok()),
        other => return Err(function_error("findAll", format!("expects (string[, int]), got {other:?}"))),
    };
    let regex = regex(pattern, "findAll")?;
    let matches = regex.find_iter(&text).map(|m| Value::from(m.as_str().to_string()));
    let found: Vec<Value> = match limit {
        Some(n) => matches.take(n).collect(),
        None => matches.collect(),
    };
    Ok(Value::List(Arc::new(found)))
}

/// Order of two list elements of one comparable type (int, uint, double, string, bool, quantity).
fn order(a: &Value, b: &Value, function: &str) -> Result<Ordering, ExecutionError> {
    let ordering = match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.partial_cmp(y),
        (Value::UInt(x), Value::UInt(y)) => x.partial_cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::String(x), Value::String(y)) => x.partial_cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.partial_cmp(y),
        (Value::Opaque(_), Value::Opaque(_)) => Some(compare(a, b)?),
        _ => None,
    };
    ordering.ok_or_else(|| function_error(function, format!("cannot compare {a:?} and {b:?}")))
}

fn is_sorted(This(list): This<Arc<Vec<Value>>>) -> Result<bool, ExecutionError> {
    for pair in list.windows(2) {
        if order(&pair[0], &pair[1], "isSorted")? == Ordering::Greater {
            return Ok(false);
        }
    }
    Ok(true)
}

fn sum(This(list): This<Arc<Vec<Value>>>) -> Result<Value, ExecutionError> {
    let overflow = || function_error("sum", "overflow");
    let mut total = match list.first() {
        None | Some(Value::Int(_)) => Value::Int(0),
        Some(Value::UInt(_)) => Value::UInt(0),
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(other) => return Err(function_error("sum", format!("cannot sum {other:?}"))),
    };
    for item in list.iter() {
        total = match (total, item) {
            (Value::Int(t), Value::Int(x)) => Value::Int(t.checked_add(*x).ok_or_else(overflow)?),
            (Value::UInt(t), Value::UInt(x)) => Value::UInt(t.checked_add(*x).ok_or_else(overflow)?),
            (Value::Float(t), Value::Float(x)) => Value::Float(t + x),
            (_, other) => return Err(function_error("sum", format!("mixed or unsupported element {other:?}"))),
        };
    }
    Ok(total)
}

fn extreme(list: &[Value], wanted: Ordering, function: &str) -> Result<Value, ExecutionError> {
    let mut best = list.first().ok_or_else(|| function_error(function, "empty list"))?;
    for item in &list[1..] {
        if order(item, best, function)? == wanted {
            best = item;
        }
    }
    Ok(best.clone())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Evaluate `expression` with no variables.
    pub(crate) fn eval(expression: &str) -> Result<Value, String> {
        let env = env();
        let program = env.compile(expression).map_err(|e| e.to_string())?;
        let ctx = root_context(env);
        program.execute(&ctx).map_err(|e| e.to_string())
    }

    fn assert_true(expression: &str) {
        assert_eq!(eval(expression), Ok(Value::Bool(true)), "{expression}");
    }

    #[test]
    fn string_extension_functions() {
        assert_true("'TacoCat'.lowerAscii() == 'tacocat'");
        assert_true("'TacoCat'.upperAscii() == 'TACOCAT'");
        assert_true("'a,b,c'.split(',') == ['a', 'b', 'c']");
        assert_true("['a', 'b'].join('-') == 'a-b'");
        assert_true("'registry.example.com/app'.indexOf('/') == 20");
        assert_true("'a-b-c'.replace('-', '.') == 'a.b.c'");
        assert_true("'  x  '.trim() == 'x'");
        assert_true("'%s has %d'.format(['app', 2]) == 'app has 2'");
    }

    #[test]
    fn regex_functions() {
        assert_true("'registry.example.com/app:1.2'.matches('^registry\\\\.example\\\\.com/')");
        assert_true("!'docker.io/app'.matches('^registry\\\\.example\\\\.com/')");
        assert_true("'abc 123'.find('[0-9]+') == '123'");
        assert_true("'abc'.find('[0-9]+') == ''");
        assert_true("'123 abc 456'.findAll('[0-9]+') == ['123', '456']");
        assert_true("'123 abc 456'.findAll('[0-9]+', 1) == ['123']");
        assert!(eval("'x'.find('[')").is_err());
    }

    #[test]
    fn list_functions() {
        assert_true("[1, 2, 3].isSorted()");
        assert_true("!['b', 'a'].isSorted()");
        assert_true("[1, 2, 3].sum() == 6");
        assert_true("[].sum() == 0");
        assert_true("[1.5, 2.5].sum() == 4.0");
        assert_true("[3, 1, 2].min() == 1");
        assert_true("[3, 1, 2].max() == 3");
        assert!(eval("[].max()").is_err());
        assert_true("[1, 2, 3, 2].indexOf(2) == 1 && [1, 2, 3, 2].lastIndexOf(2) == 3");
        assert_true("['a'].indexOf('b') == -1");
        assert_true("'abc'.indexOf('c') == 2");
    }

    #[test]
    fn quantity_library() {
        assert_true("quantity('1Gi').isGreaterThan(quantity('500Mi'))");
        assert_true("quantity('500m').isLessThan(quantity('1'))");
        assert_true("quantity('1000m').compareTo(quantity('1')) == 0");
        assert_true("quantity('2Gi').compareTo(quantity('1Gi')) == 1");
        assert_true("quantity('1k').asInteger() == 1000");
        assert_true("isQuantity('1Gi') && !isQuantity('1 GB')");
        assert!(eval("quantity('lots')").is_err());
    }

    #[test]
    fn ip_and_cidr_library() {
        assert_true("isIP('10.0.0.1') && isIP('::1') && !isIP('10.0.0.256') && !isIP('::ffff:1.2.3.4')");
        assert_true("ip('10.0.0.1').family() == 4 && ip('fd00::1').family() == 6");
        assert_true("ip('127.0.0.1').isLoopback() && !ip('10.0.0.1').isLoopback()");
        assert_true("cidr('10.0.0.0/8').containsIP(ip('10.1.2.3')) && !cidr('10.0.0.0/8').containsIP('11.0.0.1')");
        assert_true("cidr('fd00::/16').containsIP('fd00::5') && !cidr('fd00::/16').containsIP('10.0.0.1')");
        assert_true("cidr('0.0.0.0/0').containsIP('8.8.8.8') && cidr('10.0.0.0/8').prefixLength() == 8");
        assert_true("isCIDR('10.0.0.0/8') && !isCIDR('10.0.0.0/33') && !isCIDR('10.0.0.0')");
        assert!(eval("ip('nope')").is_err());
    }

    #[test]
    fn has_and_optionals_on_maps() {
        assert_true("has({'a': 1}.a) && !has({'a': 1}.b)");
        assert_true("{'a': 1}.?b.orValue(7) == 7");
        assert_true("{'a': {'b': 2}}.?a.?b.orValue(0) == 2");
    }
}
