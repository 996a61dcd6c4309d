//! The YAML event stream as Kubernetes and Helm see it: libyaml's parser (through the
//! `unsafe-libyaml` translation, already used by serde_yaml) behind a small safe iterator.
//!
//! go-yaml v2, which Kubernetes and Helm read YAML with (via sigs.k8s.io/yaml), is a port of
//! libyaml, so it accepts what libyaml accepts: flow collections indented less than their key,
//! quoted scalars continued at column 0, tabs inside scalars. A stricter YAML 1.2 reader rejects
//! some of these and would drop documents that the API server takes. Scalar resolution (YAML 1.1
//! booleans, Go integers) is not done here; see [`super::values`].
//!
//! libyaml 0.2.5 accepts two things that go-yaml v2 (ported from libyaml 0.1) refuses, found by
//! the differential test against helm (`tests/yaml_agreement.rs`); they are refused here too:
//! a `?` inside a plain scalar in a flow collection (go-yaml ends the scalar there and then fails),
//! and the `\/` escape in a double-quoted scalar.

use std::mem::MaybeUninit;
use std::ptr::{NonNull, addr_of_mut};

use unsafe_libyaml as sys;

/// A 1-based line and column of an event's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
}

impl Mark {
    fn of(mark: sys::yaml_mark_t) -> Mark {
        Mark { line: mark.line as usize + 1, column: mark.column as usize + 1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// One parser event. Tags are given in full (`!!str` is `tag:yaml.org,2002:str`).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias { anchor: String },
    Scalar { value: String, style: ScalarStyle, anchor: Option<String>, tag: Option<String> },
    SequenceStart { anchor: Option<String>, tag: Option<String> },
    SequenceEnd,
    MappingStart { anchor: Option<String>, tag: Option<String> },
    MappingEnd,
}

/// A syntax error as libyaml reports it: the problem, what was being parsed, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub mark: Mark,
    pub message: String,
}

/// Parses one input string into events. The input is borrowed for the parser's lifetime because
/// libyaml reads it in place.
pub struct EventParser<'input> {
    parser: Box<MaybeUninit<sys::yaml_parser_t>>,
    input: &'input [u8],
    finished: bool,
    /// For each open collection, whether it is in flow style (`[…]`, `{…}`).
    flow: Vec<bool>,
}

impl<'input> EventParser<'input> {
    pub fn new(input: &'input str) -> EventParser<'input> {
        let mut parser = Box::new(MaybeUninit::<sys::yaml_parser_t>::uninit());
        let bytes = input.as_bytes();
        // SAFETY: the parser lives in a Box (it never moves) and is initialised before any other
        // call; the input outlives it through the 'input borrow held in `input`.
        unsafe {
            let p = parser.as_mut_ptr();
            if sys::yaml_parser_initialize(p).fail {
                panic!("libyaml could not allocate a parser");
            }
            sys::yaml_parser_set_encoding(p, sys::YAML_UTF8_ENCODING);
            sys::yaml_parser_set_input_string(p, bytes.as_ptr(), bytes.len() as u64);
        }
        EventParser { parser, input: bytes, finished: false, flow: Vec::new() }
    }

    /// The next event, or the syntax error that stops the stream. `None` after StreamEnd.
    pub fn next_event(&mut self) -> Option<Result<(Event, Mark), SyntaxError>> {
        if self.finished {
            return None;
        }
        let mut raw = MaybeUninit::<sys::yaml_event_t>::uninit();
        // SAFETY: the parser was initialised in `new`; the event is only read after a successful
        // parse and deleted right after it has been copied into owned Rust values.
        unsafe {
            let p = self.parser.as_mut_ptr();
            if sys::yaml_parser_parse(p, raw.as_mut_ptr()).fail {
                self.finished = true;
                return Some(Err(syntax_error(&*p)));
            }
            let raw = raw.as_mut_ptr();
            let event = convert(&*raw);
            let mark = Mark::of((*raw).start_mark);
            let span = (*raw).start_mark.index as usize..(*raw).end_mark.index as usize;
            let flow_start = match (*raw).type_ {
                sys::YAML_SEQUENCE_START_EVENT => Some((*raw).data.sequence_start.style == sys::YAML_FLOW_SEQUENCE_STYLE),
                sys::YAML_MAPPING_START_EVENT => Some((*raw).data.mapping_start.style == sys::YAML_FLOW_MAPPING_STYLE),
                _ => None,
            };
            sys::yaml_event_delete(raw);
            if event == Event::StreamEnd {
                self.finished = true;
            }
            if let Err(e) = self.go_yaml_v2_check(&event, mark, span) {
                self.finished = true;
                return Some(Err(e));
            }
            match (&event, flow_start) {
                (_, Some(flow)) => self.flow.push(flow),
                (Event::SequenceEnd | Event::MappingEnd, _) => {
                    self.flow.pop();
                }
                _ => {}
            }
            Some(Ok((event, mark)))
        }
    }

    /// Refuse what go-yaml v2's scanner refuses and libyaml 0.2.5's accepts.
    fn go_yaml_v2_check(&self, event: &Event, mark: Mark, span: std::ops::Range<usize>) -> Result<(), SyntaxError> {
        let Event::Scalar { style, .. } = event else { return Ok(()) };
        let source = self.input.get(span).unwrap_or_default();
        match style {
            ScalarStyle::Plain if self.flow.last() == Some(&true) && source.contains(&b'?') => {
                Err(SyntaxError { mark, message: "did not find expected ',' or ']' (go-yaml ends a plain scalar at '?' inside a flow collection)".into() })
            }
            ScalarStyle::DoubleQuoted => {
                let mut bytes = source.iter();
                while let Some(b) = bytes.next() {
                    if *b == b'\\' && bytes.next() == Some(&b'/') {
                        return Err(SyntaxError { mark, message: "found unknown escape character '\\/' (while parsing a quoted scalar)".into() });
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Drop for EventParser<'_> {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, deleted once.
        unsafe { sys::yaml_parser_delete(addr_of_mut!(*self.parser.as_mut_ptr())) }
    }
}

unsafe fn c_string(ptr: *const u8) -> Option<String> {
    let ptr = NonNull::new(ptr as *mut std::ffi::c_char)?;
    // SAFETY: libyaml hands out NUL-terminated strings that live until the event is deleted.
    Some(unsafe { std::ffi::CStr::from_ptr(ptr.as_ptr()) }.to_string_lossy().into_owned())
}

unsafe fn convert(raw: &sys::yaml_event_t) -> Event {
    // SAFETY (whole body): each union field is read only for its own event type.
    unsafe {
        match raw.type_ {
            sys::YAML_STREAM_START_EVENT => Event::StreamStart,
            sys::YAML_DOCUMENT_START_EVENT => Event::DocumentStart,
            sys::YAML_DOCUMENT_END_EVENT => Event::DocumentEnd,
            sys::YAML_ALIAS_EVENT => Event::Alias { anchor: c_string(raw.data.alias.anchor).unwrap_or_default() },
            sys::YAML_SCALAR_EVENT => {
                let s = raw.data.scalar;
                let bytes = std::slice::from_raw_parts(s.value, s.length as usize);
                Event::Scalar {
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    style: match s.style {
                        sys::YAML_SINGLE_QUOTED_SCALAR_STYLE => ScalarStyle::SingleQuoted,
                        sys::YAML_DOUBLE_QUOTED_SCALAR_STYLE => ScalarStyle::DoubleQuoted,
                        sys::YAML_LITERAL_SCALAR_STYLE => ScalarStyle::Literal,
                        sys::YAML_FOLDED_SCALAR_STYLE => ScalarStyle::Folded,
                        _ => ScalarStyle::Plain,
                    },
                    anchor: c_string(s.anchor),
                    tag: c_string(s.tag),
                }
            }
            sys::YAML_SEQUENCE_START_EVENT => {
                Event::SequenceStart { anchor: c_string(raw.data.sequence_start.anchor), tag: c_string(raw.data.sequence_start.tag) }
            }
            sys::YAML_SEQUENCE_END_EVENT => Event::SequenceEnd,
            sys::YAML_MAPPING_START_EVENT => {
                Event::MappingStart { anchor: c_string(raw.data.mapping_start.anchor), tag: c_string(raw.data.mapping_start.tag) }
            }
            sys::YAML_MAPPING_END_EVENT => Event::MappingEnd,
            _ => Event::StreamEnd,
        }
    }
}

fn syntax_error(parser: &sys::yaml_parser_t) -> SyntaxError {
    // SAFETY: problem and context are static C strings (or null) set by libyaml on failure.
    let (problem, context) = unsafe { (c_string(parser.problem.cast()), c_string(parser.context.cast())) };
    let problem = problem.unwrap_or_else(|| "libyaml failed without saying why".into());
    let message = match context {
        Some(context) => format!("{problem} ({context})"),
        None => problem,
    };
    SyntaxError { mark: Mark::of(parser.problem_mark), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Result<Vec<Event>, SyntaxError> {
        let mut parser = EventParser::new(text);
        let mut out = Vec::new();
        while let Some(ev) = parser.next_event() {
            out.push(ev?.0);
        }
        Ok(out)
    }

    #[test]
    fn scalars_carry_style_anchor_and_full_tag() {
        let evs = events("a: &x !!str 1\nb: 'q'\n").unwrap();
        assert!(evs.contains(&Event::Scalar {
            value: "1".into(),
            style: ScalarStyle::Plain,
            anchor: Some("x".into()),
            tag: Some("tag:yaml.org,2002:str".into())
        }));
        assert!(evs.contains(&Event::Scalar { value: "q".into(), style: ScalarStyle::SingleQuoted, anchor: None, tag: None }));
    }

    #[test]
    fn accepts_what_go_yaml_accepts() {
        // A flow sequence indented less than its key, and a quoted scalar continued at column 0.
        assert!(events("spec:\n  args: [\n\"-g\",\n  \"daemon off;\"\n]\n").is_ok());
        assert!(events("data:\n  x: \"first\nsecond\"\n").is_ok());
    }

    #[test]
    fn refuses_what_go_yaml_v2_refuses() {
        assert!(events("a: [x?]\n").is_err());
        assert!(events("a: {k: a?b}\n").is_err());
        assert!(events("a: x?y\n").is_ok());
        assert!(events("a: [\"x?\", http://h:1/p]\n").is_ok());
        assert!(events("a: \"\\/\"\n").is_err());
        assert!(events("a: \"\\\\/\"\n").is_ok());
    }

    #[test]
    fn errors_are_located() {
        let err = events("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(err.mark.line >= 2, "{err:?}");
        assert!(err.message.contains("flow sequence"), "{err:?}");
    }
}
