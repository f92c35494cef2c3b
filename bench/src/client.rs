//! The generator's side of the contract: tokens, streams, publishes and list requests; and the
//! same scenarios in Nchan's words (a channel per user, a publisher location), for the Nchan
//! peer (`bench/peers/nchan`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use app::protocol::StreamEvent;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::token;

/// Streams are spread over this many loopback source addresses (127.0.0.1, .2, …), so tens of
/// thousands of connections, and a minute of churn leaving sockets in TIME_WAIT, never run out
/// of ephemeral ports on one address.
const SOURCE_ADDRESSES: u8 = 8;

/// One event of a stream, as the scenarios need it.
#[derive(Debug)]
pub struct Received {
    /// Which of the fleet's streams got it.
    pub stream: usize,
    /// The sequence number the generator put in the notification's message.
    pub seq: u64,
    pub at: Instant,
}

/// A server speaking the contract, and the secrets to talk to it.
pub struct Target {
    pub server: String,
    pub protocol: Protocol,
    /// Where the fleet's streams go, round-robin: `server`, and any other instance beside it.
    pub stream_servers: Vec<String>,
    jwt_secret: String,
    service_key: String,
    clients: Vec<reqwest::Client>,
    failures_reported: AtomicU64,
}

impl Target {
    pub fn new(
        server: &str,
        protocol: Protocol,
        jwt_secret: &str,
        service_key: &str,
    ) -> Result<Self, String> {
        let clients = (1..=SOURCE_ADDRESSES)
            .map(|last| {
                reqwest::Client::builder()
                    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
                    .tcp_nodelay(true)
                    .build()
                    .map_err(|e| format!("cannot build an HTTP client: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let server = server.trim_end_matches('/').to_owned();
        Ok(Self {
            stream_servers: vec![server.clone()],
            server,
            protocol,
            jwt_secret: jwt_secret.to_owned(),
            service_key: service_key.to_owned(),
            clients,
            failures_reported: AtomicU64::new(0),
        })
    }

    fn client(&self, n: usize) -> &reqwest::Client {
        &self.clients[n % self.clients.len()]
    }

    /// The user of the fleet's stream `n`. Every stream has its own user.
    pub fn user(n: usize) -> String {
        format!("bench-{n}")
    }

    /// Spreads the streams over `server` and `others` (instances on the same database).
    /// Streams to `server` only (publishes still go to the first).
    pub fn streams_on(mut self, server: &str) -> Self {
        self.stream_servers = vec![server.trim_end_matches('/').to_owned()];
        self
    }

    pub fn with_stream_servers(mut self, others: &[String]) -> Self {
        let others = others.iter().map(|s| s.trim_end_matches('/').to_owned());
        self.stream_servers.extend(others);
        self
    }

    /// Opens stream `n` (for user `user(n)`); returns once the response headers are in, so
    /// the server holds the stream.
    pub async fn open_stream(&self, n: usize) -> Result<reqwest::Response, String> {
        let server = &self.stream_servers[n % self.stream_servers.len()];
        let request = match self.protocol {
            Protocol::Belfry => {
                let token = token::mint(&self.jwt_secret, &Self::user(n))?;
                self.client(n)
                    .get(format!("{server}/notifications/stream?token={token}"))
            }
            // Nchan picks its EventSource subscriber by the Accept header.
            Protocol::Nchan => self
                .client(n)
                .get(format!("{server}/sub/{}", Self::user(n)))
                .header("accept", "text/event-stream"),
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("stream request: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("stream refused: {}", response.status()));
        }
        Ok(response)
    }

    /// Publishes one notification, carrying `seq`, to each of `users`. True when accepted.
    pub async fn publish(&self, users: &[String], seq: u64) -> bool {
        if self.protocol == Protocol::Nchan {
            return self.publish_to_channels(users, seq).await;
        }
        let body = if let [user] = users {
            serde_json::json!({ "user_id": user, "message": seq.to_string() })
        } else {
            serde_json::json!({ "user_ids": users, "message": seq.to_string() })
        };
        let sent = self
            .client(seq as usize)
            .post(format!("{}/api/notifications", self.server))
            .bearer_auth(&self.service_key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        self.accepted(sent, &[201]).await
    }

    /// Whether a publish was answered with one of the `accepting` statuses (the first few
    /// refusals and failures are reported).
    async fn accepted(&self, sent: reqwest::Result<reqwest::Response>, accepting: &[u16]) -> bool {
        match sent {
            Ok(response) if accepting.contains(&response.status().as_u16()) => {
                // Read the body, so the connection goes back to the pool.
                response.bytes().await.is_ok()
            }
            Ok(response) => {
                self.report_failure(&format!("publish refused: {}", response.status()));
                false
            }
            Err(err) => {
                self.report_failure(&format!("publish failed: {err}"));
                false
            }
        }
    }

    /// The feed's database requests so far, summed over the stream servers, from their
    /// `/metrics`; `None` if one does not report them (the peers).
    pub async fn feed_requests(&self) -> Option<f64> {
        let mut total = 0.0;
        for server in &self.stream_servers {
            let text = self.clients[0]
                .get(format!("{server}/metrics"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            total += text
                .lines()
                .find(|l| l.starts_with("belfry_feed_database_requests_total"))?
                .rsplit(' ')
                .next()?
                .parse::<f64>()
                .ok()?;
        }
        Some(total)
    }

    /// One `GET /notifications` with a user token; true on 200 with a full body.
    pub async fn list(&self, client: usize, token: &str) -> bool {
        let response = self
            .client(client)
            .get(format!("{}/notifications?limit=20", self.server))
            .bearer_auth(token)
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
            _ => false,
        }
    }

    /// Nchan publishes to one channel per request: the users' channels one after the other, on
    /// one keep-alive connection, each message the notification as Belfry would push it (the
    /// peer names the event `new-notification`). Nchan answers 201 (delivered to subscribers)
    /// or 202 (queued in the channel's buffer).
    async fn publish_to_channels(&self, users: &[String], seq: u64) -> bool {
        let client = self.client(seq as usize);
        for user in users {
            let body = serde_json::json!({
                "_id": format!("{seq:024x}"),
                "user_id": user,
                "message": seq.to_string(),
                // The generator reads only the message; a date of the same length as a real one.
                "created_at": "2026-01-01T00:00:00.000Z",
            });
            let sent = client
                .post(format!("{}/pub/{user}", self.server))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            if !self.accepted(sent, &[201, 202]).await {
                return false;
            }
        }
        true
    }

    /// Prints the first few publish failures; the scenarios count them all.
    fn report_failure(&self, what: &str) {
        if self.failures_reported.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("{what}");
        }
    }

    pub fn token(&self, user: &str) -> Result<String, String> {
        token::mint(&self.jwt_secret, user)
    }
}

/// How the generator talks to the server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// Belfry's contract (`/notifications/stream`, `/api/notifications`), which the Node.js and
    /// Python peers implement too.
    Belfry,
    /// Nchan: a subscriber location `/sub/{user}` and a publisher location `/pub/{user}`, no
    /// authentication (the peer's configuration, bench/peers/nchan/nginx.conf).
    Nchan,
}

/// Reads stream `n` until it ends, handing each notification to `events`.
pub async fn read_events(
    n: usize,
    response: reqwest::Response,
    events: mpsc::UnboundedSender<Received>,
) {
    let mut stream = response.bytes_stream().eventsource();
    while let Some(Ok(event)) = stream.next().await {
        let at = Instant::now();
        if let Some(seq) = sequence_number(&event.event, &event.data) {
            let _ = events.send(Received { stream: n, seq, at });
        }
    }
}

/// The generator's messages are the decimal sequence number of the publish; other events
/// (and anything else) have none.
fn sequence_number(event: &str, data: &str) -> Option<u64> {
    match StreamEvent::parse(event, data) {
        Ok(StreamEvent::New(notification)) => notification.message.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sequence_number_from_a_pushed_notification() {
        let data = r#"{"_id":"6650f1a2b3c4d5e6f7a8b9c0","user_id":"bench-1","message":"42","link":null,"read_at":null,"created_at":"2026-11-28T07:00:00.000Z"}"#;
        assert_eq!(sequence_number("new-notification", data), Some(42));
        let hello = data.replace(r#""42""#, r#""hello""#);
        assert_eq!(sequence_number("new-notification", &hello), None);
        assert_eq!(sequence_number("notification-read", data), None);
        assert_eq!(sequence_number("new-notification", "not json"), None);
    }
}
