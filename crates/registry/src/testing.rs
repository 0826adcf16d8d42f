//! A real registry for tests (feature `testing`): the CNCF distribution
//! registry (Debian's `docker-registry`) on a free loopback port, with its
//! storage in a temporary directory, stopped when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::artifact;

#[derive(Debug)]
pub struct LoopbackRegistry {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for LoopbackRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl LoopbackRegistry {
    /// Starts a registry and waits until it accepts connections.
    pub fn start() -> LoopbackRegistry {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let config = dir.path().join("reg.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("the registry's configuration");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry runs (cargo xtask installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        LoopbackRegistry { child, port, dir }
    }

    /// `oci+http://127.0.0.1:PORT/NAMESPACE`.
    pub fn url(&self, namespace: &str) -> String {
        format!("oci+http://127.0.0.1:{}/{namespace}", self.port)
    }

    /// The file the registry keeps a blob in (to change it behind its back).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = artifact::digest_hex(digest).expect("a sha256 digest");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}
