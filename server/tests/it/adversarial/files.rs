//! A flood of connections up to the open-file limit: the server keeps the connections it has,
//! does not spin or flood its log while it cannot accept, and answers a real user again once
//! files free.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crate::support::{JWT_SECRET, SERVICE_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_to_the_file_limit_then_a_real_user() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::support::sqlite_url(&dir);
    let log = dir.path().join("stderr.log");
    // The server with a limit of 128 open files, its log in a file.
    let command = format!(
        "ulimit -n 128 && exec '{bin}' serve --addr 127.0.0.1:0 --database '{url}' \
         --jwt-secret {JWT_SECRET} --service-key {SERVICE_KEY} 2>'{log}'",
        bin = env!("CARGO_BIN_EXE_belfry"),
        log = log.display(),
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &command])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the server starts");
    let addr = wait_for_address(&log);

    // Far more connections than the server has files; the kernel queues what it cannot accept.
    let mut flood = Vec::new();
    for _ in 0..300 {
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(socket) => flood.push(socket),
            Err(_) => break,
        }
    }
    // Out of files for a while: a duration, not a synchronisation (a spinning accept loop would
    // write thousands of lines in it).
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(flood);

    // Files free (the server's side of each flooded connection closes at the header deadline
    // or when it sees the hang-up): a real user's request is answered.
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answer = client
            .get(format!("http://{addr}/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if matches!(&answer, Ok(r) if r.status() == 200) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server answers again once files free"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let complaints = text.matches("cannot accept connections").count();
    assert!(complaints >= 1, "running out of files is logged: {text}");
    assert!(
        complaints <= 3,
        "once per episode, not once per attempt ({complaints} lines)"
    );
}

/// The address the child logs when it listens.
fn wait_for_address(log: &std::path::Path) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(file) = std::fs::File::open(log) {
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on http://") {
                    return line[at + "listening on http://".len()..].trim().to_owned();
                }
            }
        }
        assert!(std::time::Instant::now() < deadline, "the server listens");
        std::thread::sleep(Duration::from_millis(50));
    }
}
