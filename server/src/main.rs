use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use belfry::config::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Serve(args) => belfry::serve::run(*args.clone()).await,
        Command::Token(args) => belfry::commands::token(args),
        Command::Send(args) => belfry::commands::send(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("belfry: {message}");
            ExitCode::FAILURE
        }
    }
}
