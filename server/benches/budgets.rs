//! Measures the two standing budgets against a release build:
//!
//! - the workspace page's first load: the gzip size of the JS, WASM and CSS it loads
//!   (budget 250 KB);
//! - the idle server's resident memory after it served that page (budget 30 MB).
//!
//! Run `cargo leptos build --release --split` first, then `cargo bench -p upstream --bench budgets`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;

const PAGE_BUDGET_KB: f64 = 250.0;
const MEMORY_BUDGET_MB: f64 = 30.0;
const ADDRESS: &str = "127.0.0.1:3390";

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let site = root.join("target/site");
    let server = root.join("target/release/upstream");
    anyhow::ensure!(
        server.exists() && site.join("pkg/upstream.wasm").exists(),
        "no release build: run `cargo leptos build --release --split` first"
    );

    let page_kb = first_load_kb(&site)?;
    let memory_mb = idle_memory_mb(&server, &site)?;

    println!();
    report("first load of the workspace page (gzip)", page_kb, "KB", PAGE_BUDGET_KB);
    report("idle server resident memory", memory_mb, "MB", MEMORY_BUDGET_MB);
    Ok(())
}

fn report(what: &str, value: f64, unit: &str, budget: f64) {
    let verdict = if value <= budget { "within budget" } else { "OVER BUDGET" };
    println!("{what:<42} {value:>7.1} {unit}  (budget {budget} {unit}: {verdict})");
}

/// The gzip size of every file the page loads from `pkg/` at first: the app's JS, its main
/// WASM, the stylesheet and the loader of split-off WASM. The chunks split off with
/// `#[island(lazy)]` load only on pages that show their island; they are listed apart.
fn first_load_kb(site: &Path) -> anyhow::Result<f64> {
    let pkg = site.join("pkg");
    let mut total = 0usize;
    let mut chunks = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(&pkg)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".js") || name.ends_with(".wasm") || name.ends_with(".css"))
        .collect();
    names.sort();
    for name in names {
        let size = gzip_size(&pkg.join(&name))?;
        if name.starts_with("split_") {
            chunks.push((name, size));
        } else {
            println!("  {name:<40} {:>7} gzip", size);
            total += size;
        }
    }
    for (name, size) in chunks {
        println!("  {name:<40} {:>7} gzip, loaded only with its island", size);
    }
    Ok(total as f64 / 1000.0)
}

fn gzip_size(path: &Path) -> anyhow::Result<usize> {
    let bytes = std::fs::read(path)?;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&bytes)?;
    Ok(encoder.finish()?.len())
}

/// Starts the release server on a fresh embedded-default data directory, loads the
/// workspace page once, lets it settle, and reads its resident set size.
fn idle_memory_mb(server: &Path, site: &Path) -> anyhow::Result<f64> {
    let data = tempfile::tempdir()?;
    let mut child = Command::new(server)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDRESS", ADDRESS)
        .env("DATA_DIR", data.path())
        .env("LEPTOS_SITE_ROOT", site)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let result = (|| {
        wait_until_up(Duration::from_secs(30))?;
        let page = http_get("/")?;
        anyhow::ensure!(page.contains("Upstream Agents"), "the page did not render");
        std::thread::sleep(Duration::from_secs(3));
        resident_mb(&child)
    })();
    stop(&mut child);
    result
}

fn wait_until_up(limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if http_get("/healthz").is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("the server did not answer within {limit:?}")
}

fn http_get(path: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(ADDRESS)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {ADDRESS}\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    anyhow::ensure!(response.starts_with("HTTP/1.1 200"), "GET {path}: {}", &response[..40]);
    Ok(response)
}

fn resident_mb(child: &Child) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(PathBuf::from(format!("/proc/{}/status", child.id())))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc status"))?;
    Ok(kb / 1024.0)
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
