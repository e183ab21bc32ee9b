//! Log lines on stderr, one per event, with a level — what journald (or a terminal) shows — and
//! what the commands print on stdout.
//!
//! Messages are built by the host from its own words and from values that are never secrets
//! (order ids, X3 document numbers, error texts that the clients already scrub). `MLC_LOG`
//! (`error`, `warn`, `info`, `debug`) chooses how much is printed; the default is `info`.
//!
//! - Under systemd, when stderr is the journal (`JOURNAL_STREAM` names the stream stderr is), each
//!   line starts with its syslog priority — `<3>` error, `<4>` warning, `<6>` info, `<7>` debug —
//!   so `journalctl -p warning` filters. On a terminal or in a file: `ERROR …`, `WARN …`.
//! - The libraries (ureq, rustls, wasmtime) log through the `log` crate's facade: their records
//!   come through the same writer, `[target]` first, at the same level setting. Never their
//!   `trace` records (ureq prints request URLs with their query there, which may be signed); the
//!   JIT's per-function chatter (cranelift, wasmtime) only from `warn` up.
//! - Writing never panics: a closed stderr (the journal restarted, `2>&1 | head`) drops the
//!   line, and a closed stdout ends the command quietly ([`out`]).

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JOURNAL: AtomicBool = AtomicBool::new(false);
static INIT: OnceLock<()> = OnceLock::new();

/// Reads `MLC_LOG` and `JOURNAL_STREAM`, and takes the libraries' records. Called by the first
/// log line, or earlier by the command line so that no library record is lost.
pub fn init() {
    INIT.get_or_init(|| {
        let level = match std::env::var("MLC_LOG")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "error" => Level::Error,
            "warn" => Level::Warn,
            "debug" => Level::Debug,
            _ => Level::Info,
        };
        LEVEL.store(level as u8, Ordering::Relaxed);
        JOURNAL.store(stderr_is_the_journal(), Ordering::Relaxed);
        if ::log::set_logger(&FACADE).is_ok() {
            ::log::set_max_level(match level {
                Level::Error => ::log::LevelFilter::Error,
                Level::Warn => ::log::LevelFilter::Warn,
                Level::Info => ::log::LevelFilter::Info,
                Level::Debug => ::log::LevelFilter::Debug,
            });
        }
    });
}

/// systemd sets `JOURNAL_STREAM=<device>:<inode>` of the stream it connects stdout/stderr to. A
/// child that inherited the variable but writes elsewhere (a file, a pipe) must not get the
/// prefixes, so the stream is compared with what stderr is.
fn stderr_is_the_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.trim().parse::<u64>(), ino.trim().parse::<u64>()) else {
        return false;
    };
    // /proc/self/fd/2 resolves to the stream itself, a socket included.
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(m) => m.dev() == dev && m.ino() == ino,
        Err(_) => false,
    }
}

pub fn enabled(level: Level) -> bool {
    init();
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line: `<level> <message>`, or `<priority>message` to the journal. Newlines inside
/// the message are escaped so one event is always one line.
pub fn write(level: Level, message: &str) {
    if !enabled(level) {
        return;
    }
    line(level, message);
}

fn line(level: Level, message: &str) {
    let message = message.replace('\n', "\\n");
    let text = if JOURNAL.load(Ordering::Relaxed) {
        let priority = match level {
            Level::Error => 3,
            Level::Warn => 4,
            Level::Info => 6,
            Level::Debug => 7,
        };
        format!("<{priority}>{message}\n")
    } else {
        let tag = match level {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        };
        format!("{tag} {message}\n")
    };
    // One write per line, so lines from several threads do not interleave; a failed write (a
    // closed stderr) is dropped: there is nowhere to report it.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The libraries' records (the `log` facade), written as ours.
struct Facade;

static FACADE: Facade = Facade;

impl ::log::Log for Facade {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        let level = match metadata.level() {
            ::log::Level::Error => Level::Error,
            ::log::Level::Warn => Level::Warn,
            ::log::Level::Info => Level::Info,
            ::log::Level::Debug => Level::Debug,
            ::log::Level::Trace => return false,
        };
        let jit =
            metadata.target().starts_with("cranelift") || metadata.target().starts_with("wasmtime");
        (!jit || level <= Level::Warn) && enabled(level)
    }

    fn log(&self, record: &::log::Record<'_>) {
        if !::log::Log::enabled(self, record.metadata()) {
            return;
        }
        let level = match record.level() {
            ::log::Level::Error => Level::Error,
            ::log::Level::Warn => Level::Warn,
            ::log::Level::Info => Level::Info,
            ::log::Level::Debug | ::log::Level::Trace => Level::Debug,
        };
        line(level, &format!("[{}] {}", record.target(), record.args()));
    }

    fn flush(&self) {}
}

/// What a command prints on stdout (`println!` panics when the reader has gone: `orders show N
/// | head`). A reader that stopped reading ends the command quietly, as `cat` would — what was
/// asked has been done, the rest was not wanted; any other failure to write is an error.
pub fn out(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let result = stdout.write_fmt(args).and_then(|()| stdout.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: writing the output: {e}");
            std::process::exit(1);
        }
    }
}

#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Error, &format!($($t)*)) } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, &format!($($t)*)) } }
#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, &format!($($t)*)) } }
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Debug, &format!($($t)*)) } }
/// `println!` for the commands' output, without its panic on a closed pipe ([`log::out`]).
#[macro_export]
macro_rules! outln {
    () => { $crate::log::out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::log::out(format_args!("{}\n", format_args!($($t)*))) };
}
/// `eprintln!` for the commands' messages on stderr, without its panic on a closed stream (the
/// line is dropped).
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}
/// `print!` for the commands' output ([`log::out`]).
#[macro_export]
macro_rules! out { ($($t:tt)*) => { $crate::log::out(format_args!($($t)*)) } }
