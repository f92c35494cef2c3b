//! The command line: `belfry serve | token | send`. Every flag also reads an environment
//! variable (`BELFRY_…`), so a container or a systemd unit can configure Belfry without flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "belfry",
    version,
    about = "Real-time notifications over Server-Sent Events"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server: the SSR app, the API and the stream.
    Serve(Box<ServeArgs>),
    /// Print a signed user token.
    Token(TokenArgs),
    /// Write one notification straight into the configured database.
    Send(SendArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (embedded default) or a MongoDB URI `mongodb://host:port/DBNAME`.
    #[arg(long, env = "BELFRY_DATABASE", default_value = "sqlite://./belfry.db")]
    pub database: DatabaseUrl,

    /// The MongoDB collection holding the notifications.
    #[arg(long, env = "BELFRY_COLLECTION", default_value = "notifications")]
    pub collection: String,

    /// The time zone of dates the host application stores as text without an offset
    /// (`2026-11-28 09:00:00`), as an IANA name: Laravel's `app.timezone`.
    #[arg(long, env = "BELFRY_TIME_ZONE", default_value = "UTC", value_parser = parse_zone)]
    pub time_zone: chrono_tz::Tz,

    /// The shape of the MongoDB collection's documents: `belfry` (`user_id`, `message`,
    /// `link`, `read_at`) or `laravel` (Laravel's own database notifications:
    /// `notifiable_type`, `notifiable_id`, `data`, `read_at`; docs/LARAVEL.md).
    #[arg(long, env = "BELFRY_SCHEMA", value_enum, default_value = "belfry")]
    pub schema: SchemaName,

    /// With `--schema laravel`: the `notifiable_type` of the users whose notifications the
    /// bell shows (a class name, or its morph-map alias).
    #[arg(
        long,
        env = "BELFRY_NOTIFIABLE_TYPE",
        default_value = "App\\Models\\User"
    )]
    pub notifiable_type: String,
}

/// `--schema`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaName {
    Belfry,
    Laravel,
}

impl DatabaseArgs {
    /// The store these flags name.
    pub fn location(&self) -> crate::store::Location {
        match &self.database {
            DatabaseUrl::Sqlite(path) => crate::store::Location::Sqlite(path.clone()),
            DatabaseUrl::Mongo(uri) => crate::store::Location::Mongo {
                uri: uri.clone(),
                collection: self.collection.clone(),
                decoder: crate::store::mongo::Decoder {
                    zone: self.time_zone,
                    schema: match self.schema {
                        SchemaName::Belfry => crate::store::mongo::Schema::Belfry,
                        SchemaName::Laravel => crate::store::mongo::Schema::Laravel {
                            notifiable_type: self.notifiable_type.as_str().into(),
                        },
                    },
                },
            },
        }
    }
}

fn parse_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse()
        .map_err(|_| format!("{name:?} is not an IANA time zone name (e.g. UTC, Europe/Paris)"))
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,

    /// Listen address.
    #[arg(long, env = "BELFRY_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// HS256 secret(s) for user tokens, comma-separated: the first signs, all verify
    /// (rotation). Required unless --dev.
    #[arg(long, env = "BELFRY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Bearer key for the publish API; without it the publish API answers 404.
    #[arg(long, env = "BELFRY_SERVICE_KEY", hide_env_values = true)]
    pub service_key: Option<String>,

    /// Comma-separated origins allowed to embed the widget (CORS).
    #[arg(long, env = "BELFRY_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Seconds between SSE keep-alive comments.
    #[arg(long, env = "BELFRY_HEARTBEAT_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_secs: u64,

    /// Open streams allowed per user; more get 429.
    #[arg(long, env = "BELFRY_MAX_STREAMS_PER_USER", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_user: u32,

    /// Notifications per second the publish API accepts (a bulk publish counts each recipient).
    #[arg(long, env = "BELFRY_PUBLISH_RATE", default_value = "1000")]
    pub publish_rate: std::num::NonZeroU32,

    /// Seconds a client gets to send a request's headers (against slowloris).
    #[arg(long, env = "BELFRY_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_read_timeout_secs: u64,

    /// Requests (but the stream) not answered within this many milliseconds are answered
    /// 408; a publish may still be stored, and a retry with the same `id` stores nothing twice.
    #[arg(long, env = "BELFRY_REQUEST_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,

    /// Receive a Laravel application's broadcasts on the Pusher HTTP API
    /// (`POST /apps/{app_id}/events`) for this app id; with --pusher-key and --pusher-secret
    /// (docs/LARAVEL.md).
    #[arg(long, env = "BELFRY_PUSHER_APP_ID", requires_all = ["pusher_key", "pusher_secret"])]
    pub pusher_app_id: Option<String>,

    /// The Pusher app's key (`PUSHER_APP_KEY`).
    #[arg(long, env = "BELFRY_PUSHER_KEY", requires = "pusher_app_id")]
    pub pusher_key: Option<String>,

    /// The Pusher app's secret (`PUSHER_APP_SECRET`), which signs every request.
    #[arg(
        long,
        env = "BELFRY_PUSHER_SECRET",
        hide_env_values = true,
        requires = "pusher_app_id"
    )]
    pub pusher_secret: Option<String>,

    /// The channel a user's notifications are broadcast on, `{id}` standing for the user id
    /// (Laravel's `receivesBroadcastNotificationsOn` default).
    #[arg(long, env = "BELFRY_PUSHER_USER_CHANNEL", default_value = "private-App.Models.User.{id}",
          value_parser = crate::pusher::UserChannel::parse)]
    pub pusher_user_channel: crate::pusher::UserChannel,

    /// Remove notifications this many days after their creation (off by default). On MongoDB
    /// this deletes documents of the host application's own collection, through a TTL index
    /// named `belfry_retention`; every instance must have the same setting.
    #[arg(long, env = "BELFRY_RETAIN_DAYS",
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retain_days: Option<u32>,

    /// Demo mode: random secrets printed at start, demo sign-in. Not for production.
    #[arg(long, env = "BELFRY_DEV")]
    pub dev: bool,

    /// Where the built site (WASM, JS, CSS) is; cargo-leptos writes it to target/site.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The user the token is for.
    #[arg(long)]
    pub user: String,

    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub ttl_secs: u64,

    /// HS256 secret (the server's).
    #[arg(long, env = "BELFRY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
}

#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,

    /// The recipient's user id.
    #[arg(long)]
    pub user: String,

    /// The text of the notification.
    #[arg(long)]
    pub message: String,

    /// Where the notification leads: a path like /orders/7 or an http(s) URL.
    #[arg(long)]
    pub link: Option<String>,

    /// Its category (the bell's tabs), e.g. billing.
    #[arg(long)]
    pub category: Option<String>,
}

/// Which store to use, from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// The URI as given; the driver parses it (hosts, options, database name).
    Mongo(String),
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://./belfry.db".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("mongodb://") || raw.starts_with("mongodb+srv://") {
            return Ok(Self::Mongo(raw.to_owned()));
        }
        Err(format!(
            "unsupported database {raw:?}: use sqlite://PATH or mongodb://HOST:PORT/DBNAME"
        ))
    }
}

impl ServeArgs {
    /// The Pusher app these flags name, if any.
    pub fn pusher(&self) -> Option<crate::pusher::PusherApp> {
        match (&self.pusher_app_id, &self.pusher_key, &self.pusher_secret) {
            (Some(app_id), Some(key), Some(secret)) => Some(crate::pusher::PusherApp::new(
                app_id.clone(),
                key.clone(),
                secret.clone(),
                self.pusher_user_channel.clone(),
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            "sqlite://./belfry.db".parse(),
            Ok(DatabaseUrl::Sqlite("./belfry.db".into()))
        );
        assert_eq!(
            "mongodb://127.0.0.1:27017/app".parse(),
            Ok(DatabaseUrl::Mongo("mongodb://127.0.0.1:27017/app".into()))
        );
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
        assert!("postgres://x".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn flags_parse() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli =
            Cli::try_parse_from(["belfry", "serve", "--dev", "--addr", "127.0.0.1:0"]).unwrap();
        assert!(matches!(cli.command, Command::Serve(args) if args.dev));
        assert!(Cli::try_parse_from(["belfry", "serve", "--heartbeat-secs", "0"]).is_err());
        assert!(Cli::try_parse_from(["belfry", "serve", "--addr", "nowhere"]).is_err());
    }
}
