//! The Daytona provider against the fake Daytona: lifecycle, commands, files, previews,
//! lists and the errors Daytona answers with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::sandbox::daytona::{DaytonaProvider, Settings};
use domain::sandbox::{Chunk, Command, Exit, Provider, Spec, State};
use domain::seal::Secret;
use domain::Error;
use fakes::daytona::{Shared, World};

const KEY: &str = "dtn_test_key";

async fn serve(world: World) -> (Shared, SocketAddr) {
    let world = Arc::new(Mutex::new(world));
    let address = fakes::daytona::spawn(world.clone(), "127.0.0.1:0").await.unwrap();
    (world, address)
}

fn provider(address: SocketAddr, key: &str) -> DaytonaProvider {
    let settings = Settings {
        api_url: format!("http://{address}/api").parse().unwrap(),
        api_key: Secret::new(key),
        snapshot: None,
        target: Some("eu".into()),
    };
    DaytonaProvider::new(settings).with_settle_timeout(Duration::from_secs(15))
}

async fn fake() -> (Shared, DaytonaProvider) {
    let (world, address) = serve(World::new(KEY)).await;
    (world, provider(address, KEY))
}

fn spec(name: &str) -> Spec {
    let pairs = |items: &[(&str, &str)]| -> BTreeMap<String, String> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    Spec {
        name: name.into(),
        labels: pairs(&[("user", "octo"), ("repository", "widgets"), ("branch", "main")]),
        env: pairs(&[("GREETING", "hello from the sandbox")]),
        auto_stop_minutes: 30,
        host_paths: Vec::new(),
    }
}

async fn running(provider: &DaytonaProvider, name: &str) -> String {
    provider.create(&spec(name)).await.expect("the fake makes sandboxes")
}

/// Every chunk of a command, the exit last.
async fn chunks(provider: &DaytonaProvider, id: &str, command: Command) -> Vec<Chunk> {
    let mut execution = provider.exec(id, command).await.expect("the command starts");
    let mut chunks = Vec::new();
    while let Some(chunk) = execution.output.recv().await {
        chunks.push(chunk);
    }
    chunks
}

/// Whether a process is gone (reaped, or a zombie waiting to be).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        }
    }
}

/// Waits up to three seconds for `condition`.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..60 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

fn requests(world: &Shared) -> Vec<String> {
    world.lock().unwrap().requests.clone()
}

#[tokio::test]
async fn a_created_sandbox_carries_its_name_labels_env_and_auto_stop_and_is_running() {
    let (world, provider) = fake().await;

    let id = running(&provider, "upstream-octo-1").await;

    assert_eq!(provider.state(&id).await.unwrap(), State::Running);
    let world = world.lock().unwrap();
    let sandbox = world.sandbox(&id).expect("the fake knows the sandbox");
    assert_eq!(sandbox.name, "upstream-octo-1");
    assert_eq!(sandbox.labels, spec("").labels, "the labels reach Daytona");
    assert_eq!(sandbox.env["GREETING"], "hello from the sandbox");
    assert_eq!(sandbox.auto_stop_interval, 30);
    assert_eq!(sandbox.target, "eu", "the configured target reaches Daytona");
    assert!(sandbox.home().join("workspace").is_dir(), "the checkout folder is made");
    let looks = world.requests.iter().filter(|r| *r == &format!("GET /api/sandbox/{id}")).count();
    assert!(looks >= 2, "create polls until the sandbox has started, looked {looks} times");
}

#[tokio::test]
async fn the_sandbox_env_reaches_its_commands() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "env").await;

    let execution = provider.exec(&id, Command::new("echo \"$GREETING\"")).await.unwrap();

    assert_eq!(execution.collect().await, ("hello from the sandbox\n".into(), Exit::Code(0)));
}

#[tokio::test]
async fn a_repository_on_the_servers_disk_cannot_go_to_daytona() {
    let (world, provider) = fake().await;
    let spec = Spec { host_paths: vec!["/srv/repos/widgets".into()], ..spec("local") };

    let err = provider.create(&spec).await.expect_err("a host path is refused");

    assert!(matches!(err, Error::Invalid { field: "repository", .. }), "got {err:?}");
    assert!(err.to_string().contains("Daytona"), "the message names Daytona: {err}");
    assert!(world.lock().unwrap().sandboxes.is_empty(), "nothing was made at Daytona");
}

#[tokio::test]
async fn a_sandbox_that_fails_to_build_fails_create_with_its_reason_and_is_removed() {
    let (world, provider) = fake().await;
    world.lock().unwrap().build_failure = Some("snapshot daytonaio/nope not found".into());

    let err = provider.create(&spec("broken")).await.expect_err("a failed build fails create");

    assert!(matches!(err, Error::Upstream(_)), "got {err:?}");
    assert!(err.to_string().contains("snapshot daytonaio/nope not found"), "got: {err}");
    assert!(world.lock().unwrap().sandboxes.is_empty(), "the failed sandbox is deleted");
}

#[tokio::test]
async fn a_sandbox_daytona_gave_up_on_is_failed_with_its_reason() {
    let (world, provider) = fake().await;
    let id = running(&provider, "doomed").await;

    world.lock().unwrap().fail(&id, "runner lost");

    assert_eq!(provider.state(&id).await.unwrap(), State::Failed("runner lost".into()));
}

#[tokio::test]
async fn a_sandbox_deleted_behind_our_back_is_missing() {
    let (world, provider) = fake().await;
    let id = running(&provider, "vanishing").await;

    assert!(world.lock().unwrap().vanish(&id));

    assert_eq!(provider.state(&id).await.unwrap(), State::Missing);
}

#[tokio::test]
async fn a_stopped_sandbox_keeps_its_files_and_starts_again() {
    let (world, provider) = fake().await;
    let id = running(&provider, "sleepy").await;
    provider.write_file(&id, "kept.txt", b"still here").await.unwrap();

    provider.stop(&id).await.unwrap();
    let state = world.lock().unwrap().sandbox(&id).unwrap().state.clone();
    assert_eq!(state, "stopped", "stop waits until Daytona has stopped it");
    assert_eq!(provider.state(&id).await.unwrap(), State::Stopped);
    provider.stop(&id).await.expect("stopping a stopped sandbox succeeds");
    provider.start(&id).await.unwrap();

    assert_eq!(provider.state(&id).await.unwrap(), State::Running, "start waits until started");
    assert_eq!(provider.read_file(&id, "kept.txt").await.unwrap(), b"still here");
}

#[tokio::test]
async fn commands_in_a_stopped_sandbox_are_refused() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "stopped").await;
    provider.stop(&id).await.unwrap();

    let err = provider.exec(&id, Command::new("true")).await.err().expect("exec is refused");

    assert!(matches!(err, Error::Conflict(_)), "got {err:?}");
}

#[tokio::test]
async fn deleting_a_sandbox_twice_succeeds() {
    let (world, provider) = fake().await;
    let id = running(&provider, "doomed").await;

    provider.delete(&id).await.unwrap();
    provider.delete(&id).await.expect("deleting a missing sandbox succeeds");

    assert_eq!(provider.state(&id).await.unwrap(), State::Missing);
    assert!(world.lock().unwrap().sandboxes.is_empty(), "the fake no longer has it");
}

#[tokio::test]
async fn a_command_streams_stdout_and_stderr_in_order_and_ends_with_its_exit_code() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "streaming").await;
    let script = "echo one; sleep 1; echo two >&2; sleep 1; echo three";

    let chunks = chunks(&provider, &id, Command::new(script)).await;

    assert_eq!(
        chunks,
        vec![
            Chunk::Stdout("one\n".into()),
            Chunk::Stderr("two\n".into()),
            Chunk::Stdout("three\n".into()),
            Chunk::Exit(Exit::Code(0)),
        ],
        "output arrives as it is written, only once, and the exit comes last"
    );
}

#[tokio::test]
async fn a_failing_command_reports_its_exit_code() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "failing").await;

    let execution = provider.exec(&id, Command::new("echo oops >&2; exit 3")).await.unwrap();

    assert_eq!(execution.collect().await, ("oops\n".into(), Exit::Code(3)));
}

#[tokio::test]
async fn commands_start_in_the_checkout_and_a_relative_cwd_is_taken_from_it() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "cwd").await;
    provider.write_file(&id, "sub/dir/marker", b"").await.unwrap();

    let (top, _) = provider.exec(&id, Command::new("pwd")).await.unwrap().collect().await;
    let mut inner = Command::new("pwd; ls");
    inner.cwd = Some("sub/dir".into());
    let (below, exit) = provider.exec(&id, inner).await.unwrap().collect().await;

    assert!(top.trim_end().ends_with("/workspace"), "the checkout is the default: {top}");
    assert_eq!(exit, Exit::Code(0));
    assert!(below.contains("/workspace/sub/dir\nmarker"), "cwd is under the checkout: {below}");
}

#[tokio::test]
async fn killing_a_command_ends_it_and_everything_it_started() {
    let (world, provider) = fake().await;
    let id = running(&provider, "killing").await;
    let script = "sleep 300 & echo $! > sleeper.pid; wait";
    let execution = provider.exec(&id, Command::new(script)).await.unwrap();

    let mut pid = None;
    for _ in 0..100 {
        match provider.read_file(&id, "sleeper.pid").await {
            Ok(text) if text.ends_with(b"\n") => {
                pid = Some(String::from_utf8(text).unwrap().trim().parse::<u32>().unwrap());
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let pid = pid.expect("the command wrote its sleeper's pid");
    assert!(!is_gone(pid), "the sleeper runs before the kill");
    execution.kill.cancel();
    let (_, exit) = execution.collect().await;

    assert_eq!(exit, Exit::Killed);
    assert!(eventually(|| is_gone(pid)).await, "the sleeper {pid} was killed with its session");
    let idle = eventually(|| world.lock().unwrap().running_commands() == 0).await;
    assert!(idle, "the fake runs nothing any more");
    let deleted = requests(&world)
        .iter()
        .any(|r| r.starts_with("DELETE ") && r.contains("/process/session/"));
    assert!(deleted, "the session was deleted at Daytona");
}

#[tokio::test]
async fn a_command_past_its_timeout_is_timed_out() {
    let (world, provider) = fake().await;
    let id = running(&provider, "slow").await;
    let started = std::time::Instant::now();

    let command = Command::new("sleep 60").timeout(Duration::from_secs(1));
    let (_, exit) = provider.exec(&id, command).await.unwrap().collect().await;

    assert_eq!(exit, Exit::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(20), "the timeout cut the command short");
    let idle = eventually(|| world.lock().unwrap().running_commands() == 0).await;
    assert!(idle, "the timed-out command was killed");
}

#[tokio::test]
async fn stopping_the_sandbox_kills_its_running_command() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "interrupted").await;
    let execution = provider.exec(&id, Command::new("sleep 300")).await.unwrap();

    provider.stop(&id).await.unwrap();
    let (_, exit) = tokio::time::timeout(Duration::from_secs(15), execution.collect())
        .await
        .expect("the command ends when its sandbox stops");

    assert_eq!(exit, Exit::Killed);
}

#[tokio::test]
async fn command_env_reaches_the_command_but_no_command_line() {
    let (world, provider) = fake().await;
    let id = running(&provider, "secret").await;
    let secret = "sk-ant-it's-a-$ecret";

    let command = Command::new("printf '%s' \"$API_TOKEN\"").env("API_TOKEN", secret);
    let (output, exit) = provider.exec(&id, command).await.unwrap().collect().await;

    assert_eq!((output.as_str(), exit), (secret, Exit::Code(0)), "the value arrives intact");
    let world = world.lock().unwrap();
    assert!(!world.commands.is_empty(), "the fake saw the command line");
    for line in world.commands.iter().chain(&world.requests) {
        assert!(!line.contains("ecret"), "a secret leaked into {line:?}");
    }
    let staged = world.sandbox(&id).unwrap().home().join(".upstream");
    let left: Vec<_> = std::fs::read_dir(&staged).unwrap().collect();
    assert!(left.is_empty(), "the environment file is removed once read: {left:?}");
}

#[tokio::test]
async fn an_env_name_that_is_not_a_variable_is_refused() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "badenv").await;

    let command = Command::new("true").env("A=B; rm -rf ~", "x");
    let err = provider.exec(&id, command).await.err().expect("the name is refused");

    assert!(matches!(err, Error::Invalid { field: "env", .. }), "got {err:?}");
}

#[tokio::test]
async fn a_written_file_reads_back_with_its_folders_made() {
    let (world, provider) = fake().await;
    let id = running(&provider, "files").await;
    let contents = b"fn main() {}\n\xff binary too";

    provider.write_file(&id, "src/bin/tool.rs", contents).await.unwrap();

    assert_eq!(provider.read_file(&id, "src/bin/tool.rs").await.unwrap(), contents);
    let home = world.lock().unwrap().sandbox(&id).unwrap().home().to_path_buf();
    let on_disk = std::fs::read(home.join("workspace/src/bin/tool.rs")).unwrap();
    assert_eq!(on_disk, contents, "the file sits in the checkout");
}

#[tokio::test]
async fn a_missing_file_is_not_found() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "nofile").await;

    let err = provider.read_file(&id, "nope.txt").await.expect_err("no such file");

    assert!(matches!(err, Error::NotFound("file")), "got {err:?}");
}

#[tokio::test]
async fn paths_outside_the_checkout_are_refused() {
    let (world, provider) = fake().await;
    let id = running(&provider, "escape").await;
    let before = requests(&world).len();

    for path in ["/etc/passwd", "../.bashrc", "src/../../x"] {
        let read = provider.read_file(&id, path).await.expect_err("reading outside is refused");
        assert!(matches!(read, Error::Invalid { field: "path", .. }), "{path}: {read:?}");
        let write = provider.write_file(&id, path, b"x").await.expect_err("writing too");
        assert!(matches!(write, Error::Invalid { field: "path", .. }), "{path}: {write:?}");
    }
    assert_eq!(requests(&world).len(), before, "nothing was sent to Daytona");
}

#[tokio::test]
async fn a_preview_url_names_the_port_and_carries_a_token() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "preview").await;

    let preview = provider.preview_url(&id, 3000).await.unwrap();

    assert!(preview.url.contains(&format!("3000-{id}")), "the URL names port and sandbox");
    assert!(preview.token.is_some_and(|t| !t.is_empty()), "a private sandbox needs a token");
}

#[tokio::test]
async fn auto_stop_can_be_changed() {
    let (world, provider) = fake().await;
    let id = running(&provider, "idle").await;

    provider.set_auto_stop(&id, 5).await.unwrap();

    assert_eq!(world.lock().unwrap().sandbox(&id).unwrap().auto_stop_interval, 5);
    assert!(requests(&world).contains(&format!("POST /api/sandbox/{id}/autostop/5")));
}

async fn list_team_a(world: World) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (world, address) = serve(world).await;
    let provider = provider(address, KEY);
    let mut made = Vec::new();
    for n in 0..5 {
        let mut spec = spec(&format!("a-{n}"));
        spec.labels.insert("team".into(), "a".into());
        made.push(provider.create(&spec).await.unwrap());
    }
    let mut other = spec("b");
    other.labels.insert("team".into(), "b".into());
    provider.create(&other).await.unwrap();

    let team = BTreeMap::from([("team".to_string(), "a".to_string())]);
    let listed = provider.list(&team).await.unwrap();
    assert!(listed.iter().all(|s| s.state == State::Running && s.labels["team"] == "a"));
    let lists = requests(&world).into_iter().filter(|r| r.starts_with("GET /api/sandbox?"));
    (made, listed.into_iter().map(|s| s.id).collect(), lists.collect())
}

#[tokio::test]
async fn listing_by_labels_follows_the_cursor_through_every_page() {
    let mut world = World::new(KEY);
    world.page_size = 2;

    let (made, listed, lists) = list_team_a(world).await;

    assert_eq!(listed, made, "every sandbox labelled team=a, once each, in order");
    assert_eq!(lists.len(), 3, "five sandboxes in pages of two: {lists:?}");
    assert!(lists[1].contains("cursor="), "later pages ask with the cursor: {lists:?}");
}

#[tokio::test]
async fn listing_understands_the_legacy_plain_array() {
    let mut world = World::new(KEY);
    world.legacy_list = true;

    let (made, listed, lists) = list_team_a(world).await;

    assert_eq!(listed, made, "every sandbox labelled team=a");
    assert_eq!(lists.len(), 1, "a plain array is the whole list");
}

#[tokio::test]
async fn a_wrong_api_key_is_a_configuration_problem_naming_daytona() {
    let (_world, address) = serve(World::new(KEY)).await;
    let provider = provider(address, "dtn_wrong");

    let err = provider.create(&spec("nope")).await.expect_err("the key is refused");

    assert!(matches!(err, Error::NotConfigured(_)), "got {err:?}");
    assert!(err.to_string().contains("Daytona refused the API key"), "got: {err}");
    assert!(!err.to_string().contains("dtn_wrong"), "the key is never shown: {err}");
}

#[tokio::test]
async fn an_unknown_sandbox_is_not_found_and_missing() {
    let (_world, provider) = fake().await;

    let err = provider.client().get("no-such-sandbox").await.expect_err("no such sandbox");

    assert!(matches!(err, Error::NotFound("sandbox")), "got {err:?}");
    assert_eq!(provider.state("no-such-sandbox").await.unwrap(), State::Missing);
    let start = provider.start("no-such-sandbox").await.expect_err("cannot start it");
    assert!(matches!(start, Error::NotFound("sandbox")), "got {start:?}");
}

#[tokio::test]
async fn a_daytona_server_error_is_upstream_with_its_message() {
    let (world, provider) = fake().await;
    world.lock().unwrap().refuse_next = Some((500, "Failed to provision: no runners".into()));

    let err = provider.create(&spec("unlucky")).await.expect_err("Daytona failed");

    assert!(matches!(err, Error::Upstream(_)), "got {err:?}");
    let text = err.to_string();
    assert!(text.contains("500") && text.contains("Failed to provision: no runners"), "{text}");
}

#[tokio::test]
async fn an_unreachable_daytona_is_upstream_naming_daytona() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let provider = provider(address, KEY);

    let err = provider.state("anything").await.expect_err("nothing listens");

    assert!(matches!(err, Error::Upstream(_)), "got {err:?}");
    assert!(err.to_string().contains("Daytona could not be reached"), "got: {err}");
}

#[tokio::test]
async fn a_one_shot_command_runs_through_a_shell_and_can_time_out() {
    let (_world, provider) = fake().await;
    let id = running(&provider, "oneshot").await;
    let sandbox = provider.client().get(&id).await.unwrap();
    let toolbox = provider.client().toolbox(&sandbox).unwrap();
    let checkout = Some(provider.checkout_dir());

    let ran =
        toolbox.execute("echo $((1 + 2)) | tr 3 x; exit 4", checkout, Duration::from_secs(10));
    let slow = toolbox.execute("sleep 30", checkout, Duration::from_secs(1));

    assert_eq!(ran.await.unwrap(), ("x\n".into(), Exit::Code(4)));
    assert_eq!(slow.await.unwrap().1, Exit::TimedOut, "the daemon's 408 is a timeout");
}
