//! What a process costs, read from `/proc`: resident memory, open files and CPU time.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Linux reports CPU times in `/proc/*/stat` in USER_HZ, which is 100 on every architecture
/// Linux supports for userspace ABI purposes.
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub rss_kib: u64,
    pub open_files: u64,
    /// User + system CPU time, in seconds.
    pub cpu_secs: f64,
}

/// A process to watch: the server's pid, or this generator itself.
#[derive(Clone, Copy, Debug)]
pub enum Process {
    Pid(u32),
    Myself,
}

impl Process {
    fn dir(self) -> String {
        match self {
            Self::Pid(pid) => format!("/proc/{pid}"),
            Self::Myself => "/proc/self".to_owned(),
        }
    }

    pub fn sample(self) -> Result<Sample, String> {
        let dir = self.dir();
        let read = |file: &str| {
            std::fs::read_to_string(format!("{dir}/{file}"))
                .map_err(|e| format!("cannot read {dir}/{file}: {e}"))
        };
        let rss_kib = parse_rss(&read("status")?).ok_or_else(|| format!("no VmRSS in {dir}"))?;
        let cpu_secs = parse_cpu(&read("stat")?).ok_or_else(|| format!("bad {dir}/stat"))?;
        let open_files = std::fs::read_dir(format!("{dir}/fd"))
            .map_err(|e| format!("cannot list {dir}/fd: {e}"))?
            .count() as u64;
        Ok(Sample {
            rss_kib,
            open_files,
            cpu_secs,
        })
    }
}

fn parse_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// utime + stime: fields 14 and 15 of `stat`, counted after the `(comm)` field, which may
/// itself contain spaces and parentheses.
fn parse_cpu(stat: &str) -> Option<f64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SEC)
}

/// CPU used between two samples, as a share of one core over `secs` (100 = one core busy).
pub fn cpu_percent(before: &Sample, after: &Sample, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    (after.cpu_secs - before.cpu_secs) / secs * 100.0
}

/// CPU used by the server, its database (when it is a process here) and this generator while a
/// scenario runs, each as a share of one core: all three share the machine's cores, so a
/// generator starving the server shows up here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    pub server_pct: f64,
    /// The server's CPU time over the measurement, user + system, in seconds (absent in
    /// results from before it was recorded).
    #[serde(default)]
    pub server_secs: Option<f64>,
    pub database_pct: Option<f64>,
    pub generator_pct: f64,
}

pub struct CpuMeter {
    started: Instant,
    server: (Process, Sample),
    database: Option<(Process, Sample)>,
    generator: Sample,
}

impl CpuMeter {
    pub fn start(server: Process, database: Option<Process>) -> Result<Self, String> {
        Ok(Self {
            started: Instant::now(),
            server: (server, server.sample()?),
            database: database
                .map(|db| db.sample().map(|s| (db, s)))
                .transpose()?,
            generator: Process::Myself.sample()?,
        })
    }

    pub fn stop(&self) -> Result<Cpu, String> {
        let secs = self.started.elapsed().as_secs_f64();
        let share = |(process, before): &(Process, Sample)| -> Result<f64, String> {
            Ok(cpu_percent(before, &process.sample()?, secs))
        };
        let (server, before) = &self.server;
        let after = server.sample()?;
        Ok(Cpu {
            server_pct: cpu_percent(before, &after, secs),
            server_secs: Some(after.cpu_secs - before.cpu_secs),
            database_pct: self.database.as_ref().map(share).transpose()?,
            generator_pct: share(&(Process::Myself, self.generator))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vmrss() {
        let status = "Name:\tbelfry\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_rss(status), Some(12345));
        assert_eq!(parse_rss("Name: x\n"), None);
    }

    #[test]
    fn reads_cpu_times_past_an_awkward_command_name() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(parse_cpu(stat), Some(3.0));
        assert_eq!(parse_cpu("garbage"), None);
    }

    #[test]
    fn cpu_share_of_one_core() {
        let at = |cpu_secs| Sample {
            rss_kib: 0,
            open_files: 0,
            cpu_secs,
        };
        assert_eq!(cpu_percent(&at(1.0), &at(2.5), 2.0), 75.0);
        assert_eq!(cpu_percent(&at(1.0), &at(2.0), 0.0), 0.0);
    }
}
