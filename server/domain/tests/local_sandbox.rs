//! The local provider on its own, for real: bubblewrap (or its absence), files, and ending
//! commands.

use std::time::Duration;

use domain::sandbox::local::{Isolation, LocalProvider};
use domain::sandbox::{Command, Exit, Provider, Spec};
use domain::Error;

fn spec(name: &str) -> Spec {
    Spec { name: name.into(), ..Spec::default() }
}

fn running(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(needle))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn without_bubblewrap_sandboxes_are_refused_with_the_reason_and_the_way_out() {
    let root = tempfile::tempdir().unwrap();
    let provider = LocalProvider::with_bubblewrap(
        root.path().into(),
        Isolation::Bubblewrap,
        "/nonexistent/bwrap",
    )
    .await;
    let why = provider.unavailable().expect("bubblewrap is reported missing");
    assert!(why.contains("bubblewrap"), "{why}");
    assert!(why.contains("SANDBOX_ISOLATION=none"), "{why}");
    match provider.create(&spec("upstream-x-1")).await {
        Err(Error::NotConfigured(message)) => assert_eq!(message, why),
        other => panic!("creation must be refused, got {other:?}"),
    }
    let warning = provider.isolation_warning().expect("users are told");
    assert!(warning.starts_with("Sandboxes cannot run on this server"), "{warning}");
}

#[tokio::test]
async fn unisolated_sandboxes_still_run_in_their_directory_and_say_they_are_unisolated() {
    let root = tempfile::tempdir().unwrap();
    let provider = LocalProvider::new(root.path().into(), Isolation::None).await;
    assert!(provider.isolation_warning().unwrap().contains("not isolated"));
    let id = provider.create(&spec("upstream-x-2")).await.unwrap();
    let (out, exit) =
        provider.exec(&id, Command::new("pwd; echo $HOME")).await.unwrap().collect().await;
    assert_eq!(exit, Exit::Code(0));
    let dir = root.path().join(&id);
    assert_eq!(
        out,
        format!("{}\n{}\n", dir.join("workspace").display(), dir.join("home").display())
    );
}

#[tokio::test]
async fn files_are_read_and_written_inside_the_checkout_and_links_out_of_it_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "host secret").unwrap();
    let provider = LocalProvider::new(root.path().into(), Isolation::Bubblewrap).await;
    let id = provider.create(&spec("upstream-x-3")).await.unwrap();

    provider.write_file(&id, "src/notes.txt", b"hello").await.unwrap();
    assert_eq!(provider.read_file(&id, "src/notes.txt").await.unwrap(), b"hello");
    let (out, _) =
        provider.exec(&id, Command::new("cat src/notes.txt")).await.unwrap().collect().await;
    assert_eq!(out, "hello", "the sandbox sees what was written");

    for path in ["../escape", "/etc/passwd", ""] {
        assert!(
            matches!(provider.read_file(&id, path).await, Err(Error::Invalid { .. })),
            "{path:?} is refused"
        );
    }
    // Links an agent could plant, pointing at the host.
    let workspace = root.path().join(&id).join("workspace");
    std::os::unix::fs::symlink(outside.path().join("secret"), workspace.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), workspace.join("linked-dir")).unwrap();
    assert!(provider.read_file(&id, "link").await.is_err());
    assert!(provider.read_file(&id, "linked-dir/secret").await.is_err());
    assert!(provider.write_file(&id, "linked-dir/planted", b"x").await.is_err());
    assert!(!outside.path().join("planted").exists());
}

#[tokio::test]
async fn a_killed_command_ends_as_killed_and_takes_its_children_with_it() {
    let root = tempfile::tempdir().unwrap();
    let provider = LocalProvider::new(root.path().into(), Isolation::Bubblewrap).await;
    let id = provider.create(&spec("upstream-x-4")).await.unwrap();
    let execution = provider.exec(&id, Command::new("sleep 4041 & sleep 4042")).await.unwrap();
    for _ in 0..100 {
        if running("sleep 4042") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(running("sleep 4041") && running("sleep 4042"));
    execution.kill.cancel();
    let (_, exit) = execution.collect().await;
    assert_eq!(exit, Exit::Killed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!running("sleep 4041") && !running("sleep 4042"), "nothing is left behind");
}

#[tokio::test]
async fn a_command_past_its_timeout_is_ended_as_timed_out() {
    let root = tempfile::tempdir().unwrap();
    let provider = LocalProvider::new(root.path().into(), Isolation::Bubblewrap).await;
    let id = provider.create(&spec("upstream-x-5")).await.unwrap();
    let command = Command::new("echo started; sleep 4051").timeout(Duration::from_millis(300));
    let (out, exit) = provider.exec(&id, command).await.unwrap().collect().await;
    assert_eq!(out, "started\n");
    assert_eq!(exit, Exit::TimedOut);
    assert!(!running("sleep 4051"));
}

#[tokio::test]
async fn a_stopped_sandbox_refuses_commands_until_started_and_a_deleted_one_is_missing() {
    let root = tempfile::tempdir().unwrap();
    let provider = LocalProvider::new(root.path().into(), Isolation::Bubblewrap).await;
    let id = provider.create(&spec("upstream-x-6")).await.unwrap();
    provider.stop(&id).await.unwrap();
    assert!(matches!(provider.exec(&id, Command::new("true")).await, Err(Error::Conflict(_))));
    provider.start(&id).await.unwrap();
    let (_, exit) = provider.exec(&id, Command::new("true")).await.unwrap().collect().await;
    assert_eq!(exit, Exit::Code(0));
    provider.delete(&id).await.unwrap();
    provider.delete(&id).await.unwrap();
    assert_eq!(provider.state(&id).await.unwrap(), domain::sandbox::State::Missing);
}

#[tokio::test]
async fn a_followed_file_wakes_its_reader_when_the_sandbox_appends_and_links_are_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let provider = LocalProvider::new(root.path().into(), Isolation::Bubblewrap).await;
    let id = provider.create(&spec("upstream-x-7")).await.unwrap();

    let mut tail = provider.tail(&id, ".git/runs/1.log", 0).await.unwrap().expect("local tails");
    let wait = Duration::from_secs(5);
    tokio::time::timeout(wait, tail.grown()).await.expect("the first wait returns at once");
    assert!(tail.read(1024).await.unwrap().is_empty(), "the file starts empty");

    let command = "for i in 1 2 3; do echo line $i >>.git/runs/1.log; sleep 0.2; done";
    let execution = provider.exec(&id, Command::new(command)).await.unwrap();
    let mut seen = Vec::new();
    while seen != b"line 1\nline 2\nline 3\n" {
        tokio::time::timeout(wait, tail.grown()).await.expect("woken by each append");
        seen.extend(tail.read(1024).await.unwrap());
    }
    assert_eq!(execution.collect().await.1, Exit::Code(0));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), tail.grown()).await.is_err(),
        "no wake without a write"
    );

    let workspace = root.path().join(&id).join("workspace");
    std::os::unix::fs::symlink(outside.path().join("log"), workspace.join("planted.log")).unwrap();
    assert!(provider.tail(&id, "planted.log", 0).await.is_err());
    assert!(!outside.path().join("log").exists(), "nothing is created through the link");
}
