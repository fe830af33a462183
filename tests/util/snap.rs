//! Snapshot files for CLI output: the expected bytes live under `tests/snapshots/`, and
//! `UPDATE_SNAPSHOTS=1` rewrites them after a deliberate change (then read the diff).

#![allow(dead_code)]

use std::path::PathBuf;

/// Compare `actual` with `tests/snapshots/<name>` (`name` may contain a subfolder).
pub fn snapshot(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}: run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (e, a) = (
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual),
    );
    let (el, al): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
    let mut diff = String::new();
    let mut shown = 0;
    for i in 0..el.len().max(al.len()) {
        let (x, y) = (el.get(i), al.get(i));
        if x != y && shown < 20 {
            shown += 1;
            diff.push_str(&format!(
                "line {}:\n  - {}\n  + {}\n",
                i + 1,
                x.unwrap_or(&"<none>"),
                y.unwrap_or(&"<none>")
            ));
        }
    }
    panic!(
        "snapshot {name} differs ({} vs {} lines); first differences:\n{diff}\
         (UPDATE_SNAPSHOTS=1 rewrites it after a deliberate change)",
        el.len(),
        al.len()
    );
}
