//! Belfry's load generator. It speaks only the public contract, so it drives Belfry and the
//! peer servers in `bench/peers/` alike: it mints user tokens with the shared secret, opens
//! streams, publishes through the API with the service key, and measures. Each scenario prints
//! JSON lines (see `record.rs`); `render` turns a run's lines into docs/BENCHMARKS.md.

mod client;
mod fleet;
mod proc;
mod record;
mod render;
mod scenario;
mod stats;
mod token;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::client::{Protocol, Target};
use crate::proc::Process;
use crate::scenario::{delivery, list, Bench};

#[derive(Parser)]
#[command(about = "Load generator for Belfry's SSE contract")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open N streams from none, for each N; time, failures, server memory and open files.
    Connect {
        #[command(flatten)]
        server: ServerArgs,
        /// Comma-separated stream counts, ascending.
        #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000,18000")]
        streams: Vec<usize>,
    },
    /// A fixed rate to random users, then rates growing by √2 until p99 > 50 ms or a loss.
    Delivery {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, default_value_t = 10_000)]
        streams: usize,
        /// Notifications per second of the first (targeted) step.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Seconds of the first step.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// Seconds of each further sweep step.
        #[arg(long, default_value_t = 5.0)]
        step_secs: f64,
        /// The sweep stops before passing this rate.
        #[arg(long, default_value_t = 64_000)]
        max_rate: u64,
        /// Notifications per publish request, comma-separated: one sweep each.
        #[arg(long, value_delimiter = ',', default_value = "1,100")]
        batches: Vec<usize>,
    },
    /// One notification to every user of N streams, in bulk publishes of 1,000.
    Broadcast {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, default_value_t = 18_000)]
        streams: usize,
        #[arg(long, default_value_t = 3)]
        rounds: u64,
        /// Further instances on the same database: the streams are spread over them and
        /// `--server` (which takes the publishes), round-robin.
        #[arg(long)]
        also: Vec<String>,
    },
    /// Streams opening and closing continuously beside idle ones.
    Churn {
        #[command(flatten)]
        server: ServerArgs,
        /// Idle streams held throughout.
        #[arg(long, default_value_t = 1000)]
        base: usize,
        /// Concurrent open-hold-close loops.
        #[arg(long, default_value_t = 64)]
        workers: usize,
        #[arg(long, default_value_t = 60.0)]
        secs: f64,
    },
    /// `GET /notifications` throughput.
    /// What the instance `--pid` (streams at `--streams-on`) pays for events of the shared
    /// change stream that are for none of its streams, published through `--server`.
    Discard {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        streams_on: String,
        #[arg(long, default_value_t = 5000)]
        count: u64,
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// The database's port on this machine, to count the bytes the instance receives.
        #[arg(long)]
        database_port: Option<u16>,
    },
    List {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Notifications seeded per user.
        #[arg(long, default_value_t = 50)]
        per_user: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
    },
    /// Turns the JSON lines of a run into Markdown tables.
    Render {
        /// The run's JSON lines.
        results: PathBuf,
    },
}

#[derive(Args)]
struct ServerArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:3000
    #[arg(long)]
    server: String,
    /// The server's process id, for its memory, open files and CPU.
    #[arg(long)]
    pid: u32,
    /// The database's process id, when it runs on this machine, for its CPU.
    #[arg(long)]
    database_pid: Option<u32>,
    /// The name of this server in the results.
    #[arg(long)]
    label: String,
    /// What the server speaks: Belfry's contract, or Nchan's publisher and subscriber locations.
    #[arg(long, value_enum, default_value = "belfry")]
    protocol: Protocol,
    /// The server's HS256 secret, to mint user tokens.
    #[arg(long, env = "BELFRY_JWT_SECRET")]
    jwt_secret: String,
    #[arg(long, env = "BELFRY_SERVICE_KEY")]
    service_key: String,
}

impl ServerArgs {
    /// The server, with its streams on it alone.
    fn target(&self) -> Result<Target, String> {
        Target::new(
            &self.server,
            self.protocol,
            &self.jwt_secret,
            &self.service_key,
        )
    }

    fn bench(&self) -> Result<Bench, String> {
        self.bench_on(self.target()?)
    }

    /// A bench of `target` (the server, its streams where `target` puts them).
    fn bench_on(&self, target: Target) -> Result<Bench, String> {
        Ok(Bench {
            target: Arc::new(target),
            label: self.label.clone(),
            server: Process::Pid(self.pid),
            database: self.database_pid.map(Process::Pid),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    match Cli::parse().command {
        Command::Connect { server, streams } => {
            scenario::connect::run(&server.bench()?, &streams).await
        }
        Command::Delivery {
            server,
            streams,
            rate,
            secs,
            step_secs,
            max_rate,
            batches,
        } => {
            let sweep = delivery::Sweep {
                rate,
                secs,
                step_secs,
                max_rate,
                batches,
            };
            delivery::run(&server.bench()?, streams, &sweep).await
        }
        Command::Broadcast {
            server,
            streams,
            rounds,
            also,
        } => {
            let bench = server.bench_on(server.target()?.with_stream_servers(&also))?;
            delivery::broadcast(&bench, streams, rounds).await
        }
        Command::Discard {
            server,
            streams_on,
            count,
            batch,
            database_port,
        } => {
            let bench = server.bench_on(server.target()?.streams_on(&streams_on))?;
            scenario::discard::run(&bench, count, batch.max(1), database_port).await
        }
        Command::Churn {
            server,
            base,
            workers,
            secs,
        } => scenario::churn::run(&server.bench()?, base, workers, secs).await,
        Command::List {
            server,
            users,
            per_user,
            concurrency,
            secs,
        } => {
            let load = list::Load {
                users,
                per_user,
                concurrency,
                secs,
            };
            list::run(&server.bench()?, &load).await
        }
        Command::Render { results } => {
            let text = std::fs::read_to_string(&results)
                .map_err(|e| format!("cannot read {}: {e}", results.display()))?;
            print!("{}", render::markdown(&render::parse(&text)?));
            Ok(())
        }
    }
}
