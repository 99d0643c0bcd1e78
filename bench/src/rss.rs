//! A server process's memory, read from `/proc/PID/status`.

use std::time::Duration;

use tokio::sync::watch;

/// Peak resident set size of `pid` in KiB: `VmHWM` (the kernel's high-water mark), or `VmRSS`
/// when the kernel does not report it. `None` when the process cannot be read.
pub fn read_peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    field_kib(&status, "VmHWM:").or_else(|| field_kib(&status, "VmRSS:"))
}

/// The value in kB of a `Name:   1234 kB` line of a `/proc/PID/status` text.
pub fn field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Current resident set size of `pid` in KiB (`VmRSS`).
pub fn read_current_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    field_kib(&status, "VmRSS:")
}

/// What [`sample_peak`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peaks {
    /// The kernel's high-water mark (`VmHWM`) at the end: the peak since the process started.
    pub hwm_kib: Option<u64>,
    /// The largest `VmRSS` sampled: the peak while sampling (to the sampling interval).
    pub rss_max_kib: Option<u64>,
}

/// Samples `pid` every `every` until `stop` turns true, and returns the peaks seen.
pub async fn sample_peak(pid: u32, every: Duration, mut stop: watch::Receiver<bool>) -> Peaks {
    let mut peaks = Peaks::default();
    let sample = |peaks: &mut Peaks| {
        if let Some(kib) = read_peak_kib(pid) {
            peaks.hwm_kib = Some(peaks.hwm_kib.map_or(kib, |p| p.max(kib)));
        }
        if let Some(kib) = read_current_kib(pid) {
            peaks.rss_max_kib = Some(peaks.rss_max_kib.map_or(kib, |p| p.max(kib)));
        }
    };
    sample(&mut peaks);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => sample(&mut peaks),
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    sample(&mut peaks);
    peaks
}

/// CPU time (user + system) process `pid` has used so far, from `/proc/PID/stat` (100 ticks
/// per second assumed). `None` where it cannot be read.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_ticks(&stat).map(|ticks| Duration::from_millis(ticks * 10))
}

/// KiB as MiB with one decimal, for reports.
pub fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`, assuming
/// the kernel's usual 100 ticks per second. `None` where `/proc` cannot be read.
pub fn own_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_ticks(&stat).map(|ticks| Duration::from_millis(ticks * 10))
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in clock ticks. The command
/// name (field 2) may contain spaces and parentheses, so fields are counted after its last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields() {
        let status = "Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t   52344 kB\nVmRSS:\t   51000 kB\n";
        assert_eq!(field_kib(status, "VmHWM:"), Some(52_344));
        assert_eq!(field_kib(status, "VmRSS:"), Some(51_000));
        assert_eq!(field_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_cpu_ticks() {
        let stat = "1234 (tokio (rt) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 37 0 0 20 0 3";
        assert_eq!(cpu_ticks(stat), Some(287));
        assert_eq!(cpu_ticks("garbage"), None);
        assert!(own_cpu_time().is_some());
    }

    #[test]
    fn reads_our_own_process() {
        let kib = read_peak_kib(std::process::id()).expect("our own /proc entry");
        assert!(kib > 0);
        assert!(read_current_kib(std::process::id()).is_some_and(|k| k > 0));
        assert!(process_cpu_time(std::process::id()).is_some());
        assert_eq!(mib(1536), 1.5);
    }
}
