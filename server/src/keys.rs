//! The key that seals secrets: given in the environment, or kept in a file under the data
//! directory on the embedded default.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;

use crate::config::KeySource;

/// Returns the configured key, creating the key file on the first start if needed.
pub fn load(source: &KeySource) -> anyhow::Result<[u8; 32]> {
    match source {
        KeySource::Given(key) => Ok(*key),
        KeySource::File(path) if path.exists() => read(path),
        KeySource::File(path) => create(path),
    }
}

fn read(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| format!("{} does not hold 64 hex digits", path.display()))
}

fn create(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex::encode(key).as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "ENCRYPTION_KEY is not set: generated a key file; keep it, or sealed secrets are lost"
    );
    Ok(key)
}
