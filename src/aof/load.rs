//! Loading an AOF at start-up (Redis's `loadAppendOnlyFiles`): read the manifest, replay the
//! base file and then every incr file, in manifest order, into the keyspace.

use super::manifest::{Manifest, manifest_name};
use crate::cmd::Engine;
use crate::log;

/// Read the manifest (if the directory and manifest exist) and replay the files it names.
/// Returns the number of keys in the dataset afterwards.
pub fn load_at_startup(engine: &mut Engine) -> Result<u64, String> {
    let dir = super::writer::dir_path(engine);
    let name = manifest_name(engine.config.get_str("appendfilename"));
    let path = dir.join(&name);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(format!(
                "Fatal error: can't open the AOF manifest file {} for reading: {e}",
                path.display()
            ));
        }
    };
    let manifest = Manifest::parse(&data).map_err(|e| {
        let mut msg = String::from("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
        if let Some(t) = &e.text {
            msg.push_str(&format!(
                "Reading the manifest file, at line {}\n>>> '{t}'\n",
                e.line
            ));
        }
        msg.push_str(e.message);
        msg
    })?;
    engine.aof.manifest = manifest;
    if engine.aof.manifest.load_order().next().is_none() {
        return Ok(0);
    }
    log::warning("Loading the files of an existing AOF is not implemented yet");
    Err("AOF loading aborted".into())
}
