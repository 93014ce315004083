//! Measures the two standing budgets against a release build:
//!
//! - the workspace page's first load: the JS, WASM and CSS it loads, as the server sends
//!   them gzip-compressed (budget 250 KB);
//! - the idle server's resident memory after it served that page (budget 30 MB).
//!
//! Run `cargo leptos build --release --split` first, then `cargo bench -p upstream --bench budgets`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

    let data = tempfile::tempdir()?;
    let mut child = start(&server, &site, data.path())?;
    let measured = (|| {
        wait_until_up(Duration::from_secs(30))?;
        let page = String::from_utf8_lossy(&http_get("/", false)?).into_owned();
        anyhow::ensure!(page.contains("Upstream Agents"), "the page did not render");
        let page_kb = first_load_kb(&site)?;
        std::thread::sleep(Duration::from_secs(3));
        Ok((page_kb, resident_mb(&child)?))
    })();
    stop(&mut child);
    let (page_kb, memory_mb) = measured?;

    println!();
    report("first load of the workspace page (gzip)", page_kb, "KB", PAGE_BUDGET_KB);
    report("idle server resident memory", memory_mb, "MB", MEMORY_BUDGET_MB);
    Ok(())
}

fn report(what: &str, value: f64, unit: &str, budget: f64) {
    let verdict = if value <= budget { "within budget" } else { "OVER BUDGET" };
    println!("{what:<42} {value:>7.1} {unit}  (budget {budget} {unit}: {verdict})");
}

/// What the server sends, gzip-compressed, for every file the page loads from `pkg/` at
/// first: the app's JS, its main WASM, the stylesheet and the loader of split-off WASM. The
/// chunks split off with `#[island(lazy)]`, and the chunks they share, load only on pages
/// that show one of those islands (the split manifest names them); they are listed apart.
fn first_load_kb(site: &Path) -> anyhow::Result<f64> {
    let pkg = site.join("pkg");
    let with_islands = island_chunks(&pkg)?;
    let mut total = 0usize;
    let mut chunks = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(&pkg)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".js") || name.ends_with(".wasm") || name.ends_with(".css"))
        .collect();
    names.sort();
    for name in names {
        let size = http_get(&format!("/pkg/{name}"), true)?.len();
        let stem = name.trim_end_matches(".wasm");
        if name.ends_with(".wasm") && with_islands.iter().any(|chunk| chunk == stem) {
            chunks.push((name, size));
        } else {
            println!("  {name:<40} {:>7} gzip", size);
            total += size;
        }
    }
    for (name, size) in chunks {
        println!("  {name:<40} {:>7} gzip, loaded only with an island", size);
    }
    Ok(total as f64 / 1000.0)
}

/// The WASM chunks that load only with a lazy island: every chunk the split manifest lists
/// for an island's loader.
fn island_chunks(pkg: &Path) -> anyhow::Result<Vec<String>> {
    let manifest = pkg.join("__wasm_split_manifest.json");
    if !manifest.exists() {
        return Ok(Vec::new());
    }
    let loaders: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&std::fs::read(manifest)?)?;
    Ok(loaders.into_values().flatten().collect())
}

/// Starts the release server on a fresh embedded-default data directory.
fn start(server: &Path, site: &Path, data: &Path) -> anyhow::Result<Child> {
    Ok(Command::new(server)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDRESS", ADDRESS)
        .env("DATA_DIR", data)
        .env("LEPTOS_SITE_ROOT", site)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?)
}

fn wait_until_up(limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if http_get("/healthz", false).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("the server did not answer within {limit:?}")
}

/// The body of `GET path` as sent (still compressed, when `gzip` asks for it).
fn http_get(path: &str, gzip: bool) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(ADDRESS)?;
    let encoding = if gzip { "Accept-Encoding: gzip\r\n" } else { "" };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {ADDRESS}\r\n{encoding}Connection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("GET {path}: no header end"))?;
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    anyhow::ensure!(
        head.starts_with("http/1.1 200"),
        "GET {path}: {}",
        &head[..head.len().min(40)]
    );
    anyhow::ensure!(
        !gzip || head.contains("content-encoding: gzip"),
        "GET {path} was not sent compressed"
    );
    // Counting a file's bytes needs them whole; pages may stream.
    let chunked = head.contains("transfer-encoding: chunked");
    anyhow::ensure!(!gzip || !chunked, "GET {path}: a file sent in chunks");
    Ok(response[split + 4..].to_vec())
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
