//! The process's own figures, under the names every Prometheus client library writes (and dashboards for
//! the reference's Go binaries read): `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_cpu_seconds_total`, `process_open_fds`, `process_max_fds` and `process_start_time_seconds`.
//!
//! In: Linux's `/proc/self` (`stat`, `statm`, `fd/`, `limits`) and `/proc/stat`'s boot time. Out:
//! [`ProcessFigures`], added to a page by [`crate::MetricsPage::process`]. A figure that cannot be read (no
//! `/proc`) is left off the page rather than written as 0.

use std::fs;

use crate::MetricsPage;

/// What `/proc` says about this process; `None` where it could not be read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessFigures {
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessFigures {
    /// Reads the figures of the calling process.
    pub fn read() -> ProcessFigures {
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let page = rustix::param::page_size() as u64;
        let stat = fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|text| parse_stat(&text));
        let statm = fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|text| parse_statm(&text));
        let boot = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|text| parse_boot_time(&text));
        ProcessFigures {
            resident_memory_bytes: statm.map(|(_, resident)| resident * page),
            virtual_memory_bytes: statm.map(|(size, _)| size * page),
            cpu_seconds: stat.map(|s| (s.user_ticks + s.system_ticks) as f64 / ticks),
            open_fds: fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| entries.count() as u64),
            max_fds: fs::read_to_string("/proc/self/limits")
                .ok()
                .and_then(|text| parse_max_open_files(&text)),
            start_time_seconds: stat
                .zip(boot)
                .map(|(s, boot)| boot as f64 + s.start_ticks as f64 / ticks),
        }
    }
}

impl MetricsPage {
    /// Adds the process's own figures ([`ProcessFigures::read`]).
    pub fn process(&mut self) -> &mut Self {
        self.process_figures(&ProcessFigures::read())
    }

    /// Adds the given process figures (those read).
    pub fn process_figures(&mut self, figures: &ProcessFigures) -> &mut Self {
        if let Some(seconds) = figures.cpu_seconds {
            self.float_counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                seconds,
            );
        }
        if let Some(fds) = figures.open_fds {
            self.gauge("process_open_fds", "Number of open file descriptors.", fds);
        }
        if let Some(fds) = figures.max_fds {
            self.gauge("process_max_fds", "Maximum number of open file descriptors.", fds);
        }
        if let Some(bytes) = figures.virtual_memory_bytes {
            self.gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                bytes,
            );
        }
        if let Some(bytes) = figures.resident_memory_bytes {
            self.gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                bytes,
            );
        }
        if let Some(seconds) = figures.start_time_seconds {
            self.float_gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                seconds,
            );
        }
        self
    }
}

/// The fields of `/proc/self/stat` used here, in clock ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stat {
    user_ticks: u64,
    system_ticks: u64,
    start_ticks: u64,
}

/// `pid (comm) state ppid ...`: the command may hold spaces and parentheses, so fields are counted after
/// the last `)`. utime and stime are fields 14 and 15, starttime field 22 (proc(5)).
fn parse_stat(text: &str) -> Option<Stat> {
    let after_command = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_command.split_whitespace().collect();
    // fields[0] is field 3 (state).
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    Some(Stat {
        user_ticks: field(14)?,
        system_ticks: field(15)?,
        start_ticks: field(22)?,
    })
}

/// `size resident shared text lib data dt`, in pages.
fn parse_statm(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some((fields.next()??, fields.next()??))
}

/// The `btime` line: boot time in seconds since the epoch.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

/// The soft limit of `Max open files` (`unlimited` gives none).
fn parse_max_open_files(text: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command() {
        let text = "4242 (holt (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0 \
                    12345 123456789 2500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                user_ticks: 150,
                system_ticks: 25,
                start_ticks: 12345
            })
        );
        assert_eq!(parse_stat("4242 (holt) S 1"), None);
    }

    #[test]
    fn statm_boot_time_and_limits_are_read() {
        assert_eq!(parse_statm("5000 1200 300 10 0 900 0\n"), Some((5000, 1200)));
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nbtime 1764900000\nprocesses 9\n"),
            Some(1_764_900_000)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1048576              1048576              files     \n";
        assert_eq!(parse_max_open_files(limits), Some(1_048_576));
        let unlimited = "Max open files            unlimited            unlimited            files     \n";
        assert_eq!(parse_max_open_files(unlimited), None);
    }

    #[test]
    fn this_process_has_memory_cpu_and_descriptors() {
        let figures = ProcessFigures::read();
        let resident = figures.resident_memory_bytes.expect("resident memory");
        assert!(
            resident > 1 << 20,
            "a test binary holds more than 1 MiB: {resident}"
        );
        assert!(figures.virtual_memory_bytes.expect("virtual memory") >= resident);
        assert!(figures.open_fds.expect("open fds") >= 3);
        assert!(figures.cpu_seconds.expect("cpu seconds") >= 0.0);
        let started = figures.start_time_seconds.expect("start time");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        assert!(
            started <= now + 1.0 && started > now - 86_400.0,
            "started {started}, now {now}"
        );
        let text = {
            let mut page = MetricsPage::new();
            page.process_figures(&figures);
            page.render()
        };
        for name in [
            "process_cpu_seconds_total ",
            "process_open_fds ",
            "process_resident_memory_bytes ",
            "process_start_time_seconds ",
            "# TYPE process_cpu_seconds_total counter",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
