//! Starting on a fresh machine: the data directory, the database and the key file appear
//! by themselves, and a restart finds them again.

use std::collections::HashMap;

use upstream::config::Config;

fn embedded_default(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> =
        [("DATA_DIR".to_owned(), data_dir.display().to_string())].into_iter().collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_map(&vars).unwrap()
}

#[tokio::test]
async fn a_missing_data_directory_is_created_with_the_database_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let key = "11".repeat(32);
    let _started =
        upstream::build(&embedded_default(&data, &[("ENCRYPTION_KEY", &key)])).await.unwrap();
    assert!(data.join("upstream.db").exists(), "the SQLite file lives in DATA_DIR");
}

#[tokio::test]
async fn the_generated_key_is_kept_so_secrets_sealed_before_a_restart_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, first) = upstream::build(&embedded_default(&data, &[])).await.unwrap();
    let sealed = first.services.sealer.seal("sk-secret");
    let key_file = data.join("encryption.key");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim().len(), 64);
    let mode = std::os::unix::fs::PermissionsExt::mode(&key_file.metadata().unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "only the server's user may read the key file");

    let (_, second) = upstream::build(&embedded_default(&data, &[])).await.unwrap();
    assert_eq!(second.services.sealer.open(&sealed).unwrap().expose(), "sk-secret");
}
