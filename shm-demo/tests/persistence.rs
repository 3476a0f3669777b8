//! The object outlives the processes that use it: write, read and unlink are separate runs.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use common::{run, stderr, stdout, unique_name};

/// Removes /dev/shm/<name> when the test ends, whatever happened.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
    }
}

#[test]
fn write_then_read_in_another_process_then_unlink() {
    let name = unique_name("persist");
    let _cleanup = Cleanup(name.clone());

    let out = run(&["write", &name, "--temp", "-17"]);
    assert!(out.status.success(), "write failed: {}", stderr(&out));
    assert!(stdout(&out).contains("created"), "{}", stdout(&out));

    // The writer has exited; the object is still there, 0600, header + reading.
    let meta = std::fs::metadata(format!("/dev/shm{name}")).expect("object persists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), shm_demo::OBJECT_LEN as u64);

    let out = run(&["read", &name]);
    assert!(out.status.success(), "read failed: {}", stderr(&out));
    assert!(
        stdout(&out).starts_with("temperature: -17 "),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("update #1"), "{}", stdout(&out));

    // A second write reuses the object (it is ours: the header checks out).
    let out = run(&["write", &name, "--temp", "42"]);
    assert!(
        out.status.success(),
        "second write failed: {}",
        stderr(&out)
    );
    let out = run(&["read", &name]);
    assert!(
        stdout(&out).starts_with("temperature: 42 "),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("update #2"), "{}", stdout(&out));

    let out = run(&["unlink", &name]);
    assert!(out.status.success(), "unlink failed: {}", stderr(&out));
    assert!(
        std::fs::metadata(format!("/dev/shm{name}")).is_err(),
        "still in /dev/shm"
    );

    let out = run(&["read", &name]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("shm-demo: shm_open "), "{err}");
    assert!(
        err.contains("No such file or directory") && err.contains("shm-demo write"),
        "{err}"
    );
}

/// Puts `bytes` in /dev/shm/<name> as another program would (0600, exclusive).
fn foreign_object(name: &str, bytes: &[u8]) -> Cleanup {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(format!("/dev/shm{name}"))
        .expect("create foreign object");
    file.write_all(bytes).expect("write foreign object");
    Cleanup(name.to_owned())
}

#[test]
fn another_programs_object_is_refused_not_read() {
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("size", vec![7; 4096], "object is 4096 bytes"),
        ("empty", vec![], "object is 0 bytes"),
        (
            "magic",
            b"JFIF".repeat(shm_demo::OBJECT_LEN / 4),
            "another program's object",
        ),
        (
            "zero",
            vec![0; shm_demo::OBJECT_LEN],
            "header is still zero",
        ),
    ];
    for (tag, bytes, expected) in cases {
        let name = unique_name(tag);
        let _cleanup = foreign_object(&name, &bytes);
        for subcommand in ["read", "write"] {
            let out = run(&[subcommand, &name]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{subcommand} {tag}: {err}");
            assert_eq!(err.lines().count(), 1, "{subcommand} {tag}: {err}");
            assert!(err.contains(expected), "{subcommand} {tag}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
        // Refusing it did not change it.
        assert_eq!(
            std::fs::read(format!("/dev/shm{name}")).unwrap(),
            bytes,
            "{tag}"
        );
    }
}

#[test]
fn a_valid_header_from_another_process_is_accepted() {
    // The same check, passing: our own header, made by `write`, read back through the file.
    let name = unique_name("valid");
    let _cleanup = Cleanup(name.clone());
    assert!(run(&["write", &name]).status.success());
    let bytes = std::fs::read(format!("/dev/shm{name}")).unwrap();
    assert_eq!(bytes[..shm_demo::HEADER_LEN], shm_demo::valid_header());
    assert_eq!(shm_demo::decode_header(&bytes, bytes.len() as u64), Ok(()));
}
