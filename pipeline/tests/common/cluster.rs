//! A Ballista cluster of this binary's roles as real processes (`pipeline cluster scheduler` and
//! two `pipeline cluster executor`), on free ports of 127.0.0.1, killed when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free now, whose next port is free too (an executor takes both).
pub fn free_port_pair() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// Waits until something listens on `port`.
pub fn wait_listening(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and two executors; killed when dropped.
pub struct Cluster {
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// The scheduler, then the executors.
    pub children: Vec<Child>,
}

impl Cluster {
    /// Starts a scheduler and one executor per work directory, each with one task slot.
    pub fn start(work_dirs: [&Path; 2]) -> Self {
        let binary = env!("CARGO_BIN_EXE_pipeline");
        let scheduler_port = free_port_pair();
        let mut children = vec![
            Command::new(binary)
                .args([
                    "cluster",
                    "scheduler",
                    "--port",
                    &scheduler_port.to_string(),
                ])
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        ];
        wait_listening(scheduler_port, "the scheduler");
        for dir in work_dirs {
            let port = free_port_pair();
            children.push(
                Command::new(binary)
                    .args([
                        "cluster",
                        "executor",
                        "--scheduler",
                        &format!("127.0.0.1:{scheduler_port}"),
                        "--port",
                        &port.to_string(),
                        "--vcores",
                        "1",
                        "--memory-mb",
                        "256",
                        "--work-dir",
                        dir.to_str().unwrap(),
                    ])
                    .env("RUST_LOG", "error")
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            wait_listening(port + 1, "an executor");
        }
        Self {
            scheduler_port,
            children,
        }
    }

    /// The scheduler's address as `engine = "ballista"` takes it.
    pub fn address(&self) -> String {
        format!("df://127.0.0.1:{}", self.scheduler_port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The executors first: they would complain of a scheduler gone.
        for child in self.children.iter_mut().rev() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

/// Under `root`: the directories `names`, created.
pub fn directories<const N: usize>(root: &Path, names: [&str; N]) -> [PathBuf; N] {
    names.map(|name| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}
