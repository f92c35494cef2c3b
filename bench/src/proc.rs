//! What a process costs, read from `/proc`: resident memory, open files, CPU time and bytes
//! written to storage.

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
    /// Bytes the process caused to be written to storage (`write_bytes` of `/proc/<pid>/io`:
    /// counted when a page of a file is first dirtied, so a page rewritten before it reaches
    /// the disk counts once); `None` where the kernel does not report it.
    pub written_bytes: Option<u64>,
}

/// A process to watch: the server's pid, or this generator itself.
#[derive(Clone, Copy, Debug)]
pub enum Process {
    Pid(u32),
    Myself,
}

impl Process {
    /// The process id, where it is another process.
    pub fn pid(self) -> Option<u32> {
        match self {
            Self::Pid(pid) => Some(pid),
            Self::Myself => None,
        }
    }

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
        let written_bytes = read("io").ok().and_then(|io| io_field(&io, "write_bytes:"));
        Ok(Sample {
            rss_kib,
            open_files,
            cpu_secs,
            written_bytes,
        })
    }
}

fn parse_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Bytes process `pid` has received on its TCP connections to `port` on this machine, as the
/// kernel counts them per socket (`bytes_received` of `ss -tinp`: a connection closed in
/// between is not counted). `None` if `ss` cannot be run.
pub fn tcp_received(pid: u32, port: u16) -> Option<u64> {
    let output = std::process::Command::new("ss")
        .args([
            "-Htinp",
            "state",
            "established",
            &format!("( dport = :{port} )"),
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(received_by(&String::from_utf8_lossy(&output.stdout), pid))
}

/// The sum of `bytes_received` over the sockets of `pid` in `ss -tinp` output, where each
/// socket's line (naming its process) is followed by an indented line of its counters.
fn received_by(ss: &str, pid: u32) -> u64 {
    let owner = format!("pid={pid},");
    let mut ours = false;
    let mut total = 0;
    for line in ss.lines() {
        if !line.starts_with(char::is_whitespace) {
            ours = line.contains(&owner);
            continue;
        }
        if ours {
            total += line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("bytes_received:"))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// A counter of `/proc/<pid>/io`, by its name with the colon.
fn io_field(io: &str, name: &str) -> Option<u64> {
    io.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.trim().parse().ok())
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
    /// Bytes the server wrote to storage over the measurement (see [`Sample`]); absent in
    /// results from before it was recorded, and where the kernel does not report it.
    #[serde(default)]
    pub server_written_bytes: Option<u64>,
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
            server_written_bytes: after
                .written_bytes
                .zip(before.written_bytes)
                .map(|(after, before)| after.saturating_sub(before)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bytes_written_to_storage() {
        let io =
            "rchar: 6976\nwchar: 10\nsyscr: 10\nsyscw: 1\nread_bytes: 0\nwrite_bytes: 409600\n";
        assert_eq!(io_field(io, "write_bytes:"), Some(409600));
        assert_eq!(io_field(io, "rchar:"), Some(6976));
        assert_eq!(io_field("rchar: 1\n", "write_bytes:"), None);
    }

    #[test]
    fn sums_what_one_process_received() {
        let ss = "0 0 127.0.0.1:4000 127.0.0.1:27017 users:((\"belfry\",pid=42,fd=9))\n\t cubic bytes_sent:10 bytes_received:700 segs_out:3\n0 0 127.0.0.1:4001 127.0.0.1:27017 users:((\"other\",pid=7,fd=3))\n\t cubic bytes_received:999\n0 0 127.0.0.1:4002 127.0.0.1:27017 users:((\"belfry\",pid=42,fd=10))\n\t cubic bytes_sent:1\n0 0 127.0.0.1:4003 127.0.0.1:27017 users:((\"belfry\",pid=42,fd=11))\n\t cubic bytes_received:300\n";
        assert_eq!(received_by(ss, 42), 1000);
        assert_eq!(received_by(ss, 420), 0);
    }

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
            written_bytes: None,
        };
        assert_eq!(cpu_percent(&at(1.0), &at(2.5), 2.0), 75.0);
        assert_eq!(cpu_percent(&at(1.0), &at(2.0), 0.0), 0.0);
    }
}
