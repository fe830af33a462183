//! Logging in Redis's format, so rtool's log can be read next to a real one:
//!
//! ```text
//! 4242:M 23 Nov 2026 10:00:00.000 * Ready to accept connections
//! ```
//!
//! pid, role (`M` master, `S` replica, `C` child/startup), the time, a level mark (`.` debug,
//! `-` verbose, `*` notice, `#` warning) and the message. Like Redis's `serverLog` it writes
//! to stdout or to `logfile`, and drops lines below `loglevel`.

use std::io::Write;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "verbose" => Some(Level::Verbose),
            "notice" => Some(Level::Notice),
            "warning" => Some(Level::Warning),
            "nothing" => Some(Level::Warning),
            _ => None,
        }
    }

    fn mark(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning => '#',
        }
    }
}

struct Sink {
    level: Level,
    role: char,
    file: Option<std::fs::File>,
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    level: Level::Notice,
    role: 'M',
    file: None,
});

impl Sink {
    fn write(&mut self, line: &str) {
        match self.file.as_mut() {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
        }
    }
}

/// Set where and what to log. An empty `logfile` means stdout.
pub fn configure(level: Level, logfile: &str) -> std::io::Result<()> {
    let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
    s.level = level;
    s.file = if logfile.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logfile)?,
        )
    };
    Ok(())
}

/// Set the role letter (`M`, `S`, `C`).
pub fn set_role(role: char) {
    SINK.lock().unwrap_or_else(|e| e.into_inner()).role = role;
}

/// Write one line.
pub fn log(level: Level, msg: &str) {
    let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if level < s.level {
        return;
    }
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        s.role,
        timestamp(),
        level.mark(),
        msg
    );
    s.write(&line);
}

/// Write one line the way Redis's `serverLogFromHandler` does for what its signal handler
/// says: `4242:signal-handler (1795434812) Received SIGTERM scheduling shutdown...`, with
/// Unix seconds and no role or level mark (the handler cannot format a date safely, so
/// Redis's own line has this shape, and readers of a Redis log expect it).
pub fn from_signal_handler(level: Level, msg: &str) {
    let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if level < s.level {
        return;
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let line = format!("{}:signal-handler ({secs}) {msg}\n", std::process::id());
    s.write(&line);
}

pub fn notice(msg: &str) {
    log(Level::Notice, msg)
}

pub fn warning(msg: &str) {
    log(Level::Warning, msg)
}

pub fn verbose(msg: &str) {
    log(Level::Verbose, msg)
}

/// `23 Nov 2026 10:00:00.000` (UTC; Redis uses local time, and these machines run in UTC).
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let ms = now.subsec_millis();
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let tod = secs.rem_euclid(86400);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        tod / 3600,
        tod / 60 % 60,
        tod % 60,
        ms
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20415), (2025, 11, 23));
    }
}
