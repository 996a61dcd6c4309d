//! Progress for logs: an `indicatif` bar drawn as a plain line on a non-terminal stderr (a CI log)
//! at most every few seconds, so a long run is never silent and the log holds no cursor moves.
//! `CHARTPROOF_PROGRESS_SECONDS` sets the interval (default 10).

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Seconds between two progress lines unless `CHARTPROOF_PROGRESS_SECONDS` says otherwise.
const DEFAULT_INTERVAL_SECONDS: u64 = 10;

/// A terminal stand-in that writes each drawn frame as one line, at most once per interval.
#[derive(Debug)]
struct PlainLines {
    interval: Duration,
    last: Mutex<Option<Instant>>,
    frame: Mutex<String>,
}

impl indicatif::TermLike for PlainLines {
    fn width(&self) -> u16 {
        200
    }
    fn move_cursor_up(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.frame.lock().unwrap().push_str(s);
        Ok(())
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        let frame = std::mem::take(&mut *self.frame.lock().unwrap());
        let mut last = self.last.lock().unwrap();
        if frame.trim().is_empty() || last.is_some_and(|t| t.elapsed() < self.interval) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let mut err = io::stderr().lock();
        writeln!(err, "{}", frame.trim())?;
        err.flush()
    }
}

/// The interval between progress lines.
fn interval() -> Duration {
    let seconds = std::env::var("CHARTPROOF_PROGRESS_SECONDS").ok().and_then(|s| s.trim().parse::<f64>().ok()).filter(|s| *s >= 0.0);
    Duration::from_secs_f64(seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS as f64))
}

/// A progress bar for `len` items that prints `<what>: N of M <items> done, <msg>, <elapsed>
/// elapsed` on stderr every interval, ticking even when no item finishes.
pub fn plain_bar(len: u64, what: &str, items: &str, message: &str) -> indicatif::ProgressBar {
    let term = PlainLines { interval: interval(), last: Mutex::new(None), frame: Mutex::new(String::new()) };
    let pb = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::term_like(Box::new(term)));
    let template = format!("{what}: {{pos}} of {{len}} {items} done, {{msg}}, {{elapsed}} elapsed");
    pb.set_style(indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    pb.set_message(message.to_string());
    pb.enable_steady_tick(Duration::from_secs(1));
    pb
}
