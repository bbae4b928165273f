//! Server-side costs from /proc: CPU time (utime + stime) and memory (VmRSS, VmHWM).

/// utime + stime of process `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// (VmRSS, VmHWM) of process `pid`, in KiB.
pub fn mem_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Samples a process's CPU time: start at construction, read the difference later.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    pid: u32,
    start: u64,
    /// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux).
    tck: u64,
}

impl CpuMeter {
    /// Starts measuring `pid`; `None` if it cannot be read.
    pub fn start(pid: u32, tck: u64) -> Option<CpuMeter> {
        Some(CpuMeter {
            pid,
            start: cpu_ticks(pid)?,
            tck: tck.max(1),
        })
    }

    /// CPU seconds used since the start.
    pub fn seconds(&self) -> Option<f64> {
        let now = cpu_ticks(self.pid)?;
        Some(now.saturating_sub(self.start) as f64 / self.tck as f64)
    }
}

/// CPU meters of several processes (e.g. server, branch service, load generator); a
/// process that is not given or cannot be read has no meter.
#[derive(Debug, Clone, Default)]
pub struct Meters(Vec<Option<CpuMeter>>);

impl Meters {
    /// Starts a meter for each pid.
    pub fn start(pids: &[Option<u32>], tck: u64) -> Meters {
        Meters(
            pids.iter()
                .map(|p| p.and_then(|p| CpuMeter::start(p, tck)))
                .collect(),
        )
    }

    /// CPU seconds of each process since the start.
    pub fn seconds(&self) -> Vec<Option<f64>> {
        self.0.iter().map(|m| m.and_then(|m| m.seconds())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(cpu_ticks(pid).is_some());
        let (rss, hwm) = mem_kib(pid).expect("status");
        assert!(rss > 0 && hwm >= rss);
    }
}
