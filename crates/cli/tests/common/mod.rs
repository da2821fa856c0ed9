//! Desks as real processes beside the simulator, for the crash and multi-instance tests.
#![allow(clippy::unwrap_used)] // test support: a panic is a failed test with its message
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use windowdesk_sim::SimNumber;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("windowdesk-{tag}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The desk as a child process, killed when dropped so a failing test leaves nothing running.
pub struct Desk {
    pub child: Child,
    pub port: u16,
    pub config: PathBuf,
}

impl Desk {
    pub fn spawn(config: &Path, port: u16) -> Desk {
        let child = Command::new(env!("CARGO_BIN_EXE_windowdesk"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Desk { child, port, config: config.to_owned() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGKILL: no shutdown, no lease released, sends in flight cut off.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub async fn healthy(&self) {
        for _ in 0..400 {
            if reqwest::get(self.url("/healthz")).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the desk did not come up on port {}", self.port);
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A desk configuration: the numbers as the simulator has them, `dispatcher` lines appended to the
/// `[dispatcher]` table.
pub fn desk_config(dir: &Path, port: u16, database_url: &str, sim_url: &str, numbers: &[SimNumber], dispatcher: &str) -> PathBuf {
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = {database_url:?}\n[media]\ndir = {:?}\n\
         [rules]\nseed_defaults = false\nsweep_interval_seconds = 1\nclaim_seconds = 3\n[whatsapp]\napi_base_url = {sim_url:?}\nrequest_timeout_seconds = 2\n[dispatcher]\n{dispatcher}\n",
        dir.join("media").display().to_string()
    );
    for n in numbers {
        toml.push_str(&format!(
            "[[business_numbers]]\nphone_number_id = {:?}\nwaba_id = {:?}\ndisplay_number = {:?}\nname = \"Support {}\"\n\
             access_token = {:?}\napp_secret = {:?}\nverify_token = \"v\"\n",
            n.phone_number_id, n.waba_id, n.display_number, n.phone_number_id, n.access_token, n.app_secret
        ));
    }
    let path = dir.join(format!("desk-{port}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

/// `count` business numbers for the simulator, each with `throughput_per_second`.
pub fn sim_numbers(count: usize, throughput_per_second: u32) -> Vec<SimNumber> {
    (0..count)
        .map(|i| {
            let base = SimNumber::default();
            if i == 0 {
                return SimNumber { throughput_per_second, ..base };
            }
            SimNumber {
                phone_number_id: format!("1065403522429{:02}", 30 + i),
                display_number: format!("+1 555-078-39{:02}", 10 + i),
                waba_id: format!("1022901293403{:02}", 10 + i),
                throughput_per_second,
                ..base
            }
        })
        .collect()
}

/// The most sends any window of 1,000 consecutive milliseconds holds, from sorted acceptance times.
pub fn busiest_second(mut at_ms: Vec<i64>) -> usize {
    at_ms.sort_unstable();
    let mut most = 0;
    let mut first = 0;
    for last in 0..at_ms.len() {
        while at_ms[last] - at_ms[first] >= 1000 {
            first += 1;
        }
        most = most.max(last - first + 1);
    }
    most
}
