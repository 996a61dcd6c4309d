//! Finding the helm binary (`--helm`, then `HELM_BIN`, then PATH), learning its version, and
//! running `helm template` under a timeout with its error text turned into a structured error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A helm binary that answered `helm version`.
#[derive(Debug, Clone)]
pub struct Helm {
    pub path: PathBuf,
    /// As helm prints it, e.g. `v4.1.4`.
    pub version: String,
    pub major: u32,
    /// Bytes of address space one render may use (`--helm-memory`; None: no limit).
    pub memory_limit: Option<u64>,
}

/// Address space a render may use unless `--helm-memory` says otherwise. A render of the
/// largest corpus chart (kube-prometheus-stack) runs in under 1.5 GB of address space with
/// about 85 MB resident; values that make a template loop without bound (`until` over a
/// replica count of 2147483647) grow helm until the kernel's OOM killer ends it, 24 GB later.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;

const HOW_TO_GET_HELM: &str = "chartproof needs the helm binary (Helm 3 or 4).\n  - run `scripts/ensure-helm` in the chartproof repository: it uses helm from PATH or installs one into .tools/ and prints its path,\n  - or install helm (https://helm.sh/docs/intro/install/) and put it on PATH,\n  - then pass it with --helm PATH or HELM_BIN=PATH.";

/// How long `helm version` may take when no --helm-timeout applies.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

impl Helm {
    /// Locate helm: an explicit path (from `--helm`), else `HELM_BIN`, else `helm` on PATH.
    pub fn discover(explicit: Option<&Path>) -> Result<Helm> {
        Self::discover_within(explicit, VERSION_TIMEOUT)
    }

    /// [`Helm::discover`] with `helm version` killed after `timeout` (a hung helm fails fast).
    pub fn discover_within(explicit: Option<&Path>, timeout: Duration) -> Result<Helm> {
        match Self::discover_if_any(explicit, timeout)? {
            Some(helm) => Ok(helm),
            None => bail!("helm was not found: no --helm, no HELM_BIN, and no `helm` on PATH.\n{HOW_TO_GET_HELM}"),
        }
    }

    /// [`Helm::discover_within`], with `None` when no place names a helm (a named helm that
    /// does not work is still an error).
    pub fn discover_if_any(explicit: Option<&Path>, timeout: Duration) -> Result<Option<Helm>> {
        if let Some(p) = explicit {
            return Self::at_within(p, timeout).with_context(|| format!("--helm {} does not work", p.display())).map(Some);
        }
        if let Some(p) = std::env::var_os("HELM_BIN").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            return Self::at_within(&p, timeout).with_context(|| format!("HELM_BIN={} does not work", p.display())).map(Some);
        }
        find_on_path("helm").map(|p| Self::at_within(&p, timeout)).transpose()
    }

    /// Use the helm at `path`, checking that it runs and reading its version.
    pub fn at(path: &Path) -> Result<Helm> {
        Self::at_within(path, VERSION_TIMEOUT)
    }

    fn at_within(path: &Path, timeout: Duration) -> Result<Helm> {
        if !path.exists() && path.components().count() > 1 {
            bail!("{} does not exist.\n{HOW_TO_GET_HELM}", path.display());
        }
        let out = match run_with_timeout(path, &["version".into(), "--template".into(), "{{.Version}}".into()], timeout, None) {
            Ok(out) => out,
            Err(e) => bail!("cannot run `{} version`: {e:#}\n{HOW_TO_GET_HELM}", path.display()),
        };
        let version = out.stdout.trim().to_string();
        if !out.success || !version.starts_with('v') {
            let how = out.failure.clone().unwrap_or_else(|| "exited with status 0".into());
            let printed = match (out.stderr.trim(), version.as_str()) {
                ("", "") => "and printed nothing".to_string(),
                ("", v) => format!("and printed `{v}`, not a version"),
                (e, "") => format!("and printed: {e}"),
                (e, v) => format!("and printed: {e} {v}"),
            };
            bail!("`{} version` {how} {printed}: is it helm?", path.display());
        }
        let major: u32 = version[1..].split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
        if major < 3 {
            bail!("{} is helm {version}; chartproof needs Helm 3 or 4", path.display());
        }
        Ok(Helm { path: path.to_path_buf(), version, major, memory_limit: Some(DEFAULT_MEMORY_LIMIT) })
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// What a finished process printed.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub success: bool,
    /// How it ended when it failed without succeeding: `exited with status 1`, `killed by signal 11 (SIGSEGV)`.
    pub failure: Option<String>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// A process that did not finish in time (it was killed).
#[derive(Debug, thiserror::Error)]
#[error("{program} did not finish within {timeout:?} and was killed")]
pub struct TimedOut {
    pub program: String,
    pub timeout: Duration,
}

/// Run a program with captured output; kill it, and every process it started, when it outlives
/// `timeout` (a hung helm plugin or post-renderer must not survive the run). With a
/// `memory_limit`, it and the processes it starts may use that many bytes of address space
/// (`RLIMIT_AS`, Unix): a Go program past it stops with `fatal error: out of memory` at once
/// instead of taking the machine's memory.
pub fn run_with_timeout(program: &Path, args: &[String], timeout: Duration, memory_limit: Option<u64>) -> Result<ProcessOutput> {
    let start = Instant::now();
    // Every process of this run inherits the marker, even one that outlives helm (a background
    // child keeping the output pipe open): on timeout they are found by it and killed.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let marker = format!("{}.{}", std::process::id(), RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let mut cmd = duct::cmd(program, args).env(process_tree::MARKER_VAR, &marker);
    // helm is a Go program: collecting garbage 4x less often saves ~10% of its CPU for
    // ~5% more memory (kube-prometheus-stack: 2.2-2.6 s user per 10 renders instead of
    // 2.5-3.2 s, 98 MB peak instead of 94 MB). A GOGC the user set wins.
    if std::env::var_os("GOGC").is_none() {
        cmd = cmd.env("GOGC", "400");
    }
    // (Linux sets the limit after the start: `limit_started`.)
    if let Some(limit) = memory_limit.filter(|_| !cfg!(all(target_os = "linux", target_env = "gnu"))) {
        cmd = cmd.before_spawn(move |command| {
            limit_address_space(command, limit);
            Ok(())
        });
    }
    let handle = cmd
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .with_context(|| format!("cannot start {}", program.display()))?;
    if let Some(limit) = memory_limit {
        limit_started(&handle.pids(), limit);
    }
    match handle.wait_timeout(timeout)? {
        Some(out) => Ok(ProcessOutput {
            success: out.status.success(),
            failure: (!out.status.success()).then(|| describe_exit(&out.status)),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: start.elapsed(),
        }),
        None => {
            process_tree::kill(&handle.pids(), &marker);
            let _ = handle.kill();
            Err(TimedOut { program: program.display().to_string(), timeout }.into())
        }
    }
}

/// On Linux the limit is set on the started child with prlimit(2): a `pre_exec` hook would make
/// the standard library fork instead of posix_spawn, which cost 3–4% per render (2 cores,
/// `scripts/bench` against the build before). Go's start-up reservation may come first; the
/// limit binds every mapping after it, and every process helm starts inherits it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_started(pids: &[u32], limit: u64) {
    let rlim = libc::rlimit { rlim_cur: limit as libc::rlim_t, rlim_max: limit as libc::rlim_t };
    for &pid in pids {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: prlimit(2) reads `rlim` and writes nothing (old limit pointer is null); a
            // child that already ended yields ESRCH, which changes nothing.
            unsafe { libc::prlimit(pid, libc::RLIMIT_AS, &rlim, std::ptr::null_mut()) };
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_started(_pids: &[u32], _limit: u64) {}

/// Elsewhere on Unix the child starts with at most `limit` bytes of address space.
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
fn limit_address_space(command: &mut std::process::Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    let rlim = libc::rlimit { rlim_cur: limit as libc::rlim_t, rlim_max: limit as libc::rlim_t };
    // SAFETY: the closure runs in the child between fork and exec and only calls setrlimit(2),
    // which is async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &rlim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(any(not(unix), all(target_os = "linux", target_env = "gnu")))]
fn limit_address_space(_command: &mut std::process::Command, _limit: u64) {}

/// `exited with status 1`, or on Unix `killed by signal 11 (SIGSEGV)`.
fn describe_exit(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}{}", process_tree::signal_name(sig).map(|n| format!(" ({n})")).unwrap_or_default());
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("ended with {status}"),
    }
}

/// Killing a process together with every process it started. The child stays in chartproof's
/// process group (so Ctrl-C in a terminal still reaches helm); on timeout its descendants are
/// found through /proc (Linux) or `ps` (other Unix), and on Linux also every process carrying
/// the run's marker in its environment (orphans re-parented away from the tree); all are stopped
/// so nothing forks meanwhile, then killed.
#[cfg(unix)]
mod process_tree {
    use std::collections::BTreeSet;

    /// Environment variable naming the run a process belongs to.
    pub const MARKER_VAR: &str = "CHARTPROOF_HELM_RUN";

    pub fn kill(roots: &[u32], marker: &str) {
        let mut tree: Vec<u32> = roots.to_vec();
        tree.extend(marked(marker).into_iter().filter(|p| !roots.contains(p)));
        for &pid in &tree {
            signal(pid, libc::SIGSTOP);
        }
        loop {
            let known: BTreeSet<u32> = tree.iter().copied().collect();
            let mut children: Vec<u32> = parent_links().into_iter().filter(|(pid, ppid)| known.contains(ppid) && !known.contains(pid)).map(|(pid, _)| pid).collect();
            let orphans: Vec<u32> = marked(marker).into_iter().filter(|p| !known.contains(p) && !children.contains(p)).collect();
            children.extend(orphans);
            if children.is_empty() {
                break;
            }
            for &pid in &children {
                signal(pid, libc::SIGSTOP);
            }
            tree.extend(children);
        }
        for &pid in tree.iter().rev() {
            signal(pid, libc::SIGKILL);
        }
    }

    fn signal(pid: u32, sig: libc::c_int) {
        if let Ok(pid) = libc::pid_t::try_from(pid)
            && pid > 1
        {
            // SAFETY: kill(2) has no memory effects; a process that already ended yields ESRCH.
            unsafe { libc::kill(pid, sig) };
        }
    }

    /// Processes whose environment holds `MARKER_VAR=marker` (Linux; elsewhere none).
    fn marked(marker: &str) -> Vec<u32> {
        let wanted = format!("{MARKER_VAR}={marker}");
        let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let env = std::fs::read(e.path().join("environ")).ok()?;
                env.split(|b| *b == 0).any(|kv| kv == wanted.as_bytes()).then_some(pid)
            })
            .filter(|&pid| pid != std::process::id())
            .collect()
    }

    /// (pid, parent pid) of every process we can see.
    fn parent_links() -> Vec<(u32, u32)> {
        if let Ok(entries) = std::fs::read_dir("/proc") {
            let links: Vec<(u32, u32)> = entries
                .flatten()
                .filter_map(|e| {
                    let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                    let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                    // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
                    let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
                    Some((pid, ppid))
                })
                .collect();
            if !links.is_empty() {
                return links;
            }
        }
        let Ok(out) = std::process::Command::new("ps").args(["-A", "-o", "pid=", "-o", "ppid="]).output() else { return Vec::new() };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace().map(|w| w.parse::<u32>());
                Some((w.next()?.ok()?, w.next()?.ok()?))
            })
            .collect()
    }

    pub fn signal_name(sig: i32) -> Option<&'static str> {
        Some(match sig {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGTERM => "SIGTERM",
            _ => return None,
        })
    }
}

#[cfg(not(unix))]
mod process_tree {
    pub const MARKER_VAR: &str = "CHARTPROOF_HELM_RUN";
    /// Without Unix signals only the child itself is killed (by the caller).
    pub fn kill(_roots: &[u32], _marker: &str) {}
}
