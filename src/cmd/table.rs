//! The command table: for every command Redis 7.0 has, its arity, key positions and flags
//! (from `commands.tsv`, generated from a real server by `fixtures/gen/commands.py`), and for
//! the ones rtool implements, the handler.
//!
//! Arity follows Redis: `n` means exactly n arguments including the name, `-n` at least n.
//! Containers (CONFIG, CLIENT, OBJECT, ...) have subcommands named `config|get`; a handler can
//! be registered on the container (it then dispatches on `argv[1]` itself) or on the
//! subcommand.

use super::Ctx;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// FNV-1a, for the command table only. The table is fixed when the process starts and a
/// lookup only ever compares against its own entries, so a client cannot grow a chain by
/// choosing names: the keyed SipHash the keyspace needs (see `keyspace::dict`) would buy
/// nothing here, and hashing every command name with it was a measurable part of a GET.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type NameMap = HashMap<Vec<u8>, usize, BuildHasherDefault<Fnv>>;

/// A command handler: parse, apply, reply; the arguments include the command name.
pub type Handler = fn(&mut Ctx, &[&[u8]]);

pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const MAY_REPLICATE: u32 = 1 << 12;
    pub const MOVABLEKEYS: u32 = 1 << 13;
    pub const ALLOW_BUSY: u32 = 1 << 14;

    pub fn parse(list: &str) -> u32 {
        let mut f = 0;
        for name in list.split(',') {
            f |= match name {
                "write" => WRITE,
                "readonly" => READONLY,
                "denyoom" => DENYOOM,
                "admin" => ADMIN,
                "pubsub" => PUBSUB,
                "noscript" => NOSCRIPT,
                "blocking" => BLOCKING,
                "loading" => LOADING,
                "stale" => STALE,
                "fast" => FAST,
                "no_auth" => NO_AUTH,
                "no_multi" => NO_MULTI,
                "may_replicate" => MAY_REPLICATE,
                "movablekeys" => MOVABLEKEYS,
                "allow_busy" => ALLOW_BUSY,
                _ => 0,
            };
        }
        f
    }
}

/// One command or subcommand.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Position in [`Table::specs`]: per-command statistics are a vector indexed by it.
    pub id: usize,
    /// Lowercase full name: `get`, `config|get`.
    pub name: String,
    pub arity: i32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub flags: u32,
    /// The flag names as Redis lists them (COMMAND INFO).
    pub flag_names: Vec<String>,
    /// ACL categories (COMMAND INFO).
    pub categories: Vec<String>,
    pub handler: Option<Handler>,
    /// Subcommands by lowercase name (for containers).
    pub subcommands: NameMap,
}

impl CommandSpec {
    pub fn is(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Does this number of arguments (name included) satisfy the arity?
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
    }
}

static TSV: &str = include_str!("commands.tsv");

/// All commands, looked up case-insensitively without allocating.
pub struct Table {
    pub specs: Vec<CommandSpec>,
    top: NameMap,
}

/// The table every engine of this process uses: built once (it depends on nothing but the
/// compiled-in command list and handlers), borrowed for the life of the process, so running
/// a command never touches a reference count.
pub fn global() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::new(&super::all_handlers()))
}

impl Table {
    /// The table of Redis 7.0's commands with rtool's handlers attached.
    pub fn new(handlers: &[(&str, Handler)]) -> Table {
        let mut t = Table {
            specs: Vec::new(),
            top: NameMap::default(),
        };
        for line in TSV.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let spec = CommandSpec {
                id: t.specs.len(),
                name: f[0].to_string(),
                arity: f[1].parse().unwrap_or(0),
                first_key: f[2].parse().unwrap_or(0),
                last_key: f[3].parse().unwrap_or(0),
                step: f[4].parse().unwrap_or(0),
                flags: flags::parse(f.get(5).copied().unwrap_or("")),
                flag_names: f
                    .get(5)
                    .map(|s| {
                        s.split(',')
                            .filter(|x| !x.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
                categories: f
                    .get(6)
                    .map(|s| {
                        s.split(',')
                            .filter(|x| !x.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
                handler: None,
                subcommands: NameMap::default(),
            };
            let idx = t.specs.len();
            t.specs.push(spec);
            let name = f[0];
            if let Some((parent, sub)) = name.split_once('|') {
                if let Some(&p) = t.top.get(parent.as_bytes()) {
                    t.specs[p].subcommands.insert(sub.as_bytes().to_vec(), idx);
                }
            } else {
                t.top.insert(name.as_bytes().to_vec(), idx);
            }
        }
        // Subcommands may be listed before their parent in the sorted file: link them now.
        for i in 0..t.specs.len() {
            if let Some((parent, sub)) = t.specs[i].name.clone().split_once('|')
                && let Some(&p) = t.top.get(parent.as_bytes())
            {
                t.specs[p].subcommands.insert(sub.as_bytes().to_vec(), i);
            }
        }
        for (name, h) in handlers {
            match t.find_full(name) {
                Some(i) => t.specs[i].handler = Some(*h),
                None => panic!("handler for a command Redis 7.0 does not have: {name}"),
            }
        }
        // A subcommand without a handler of its own is handled by its container.
        for p in 0..t.specs.len() {
            let Some(h) = t.specs[p].handler else {
                continue;
            };
            let subs: Vec<usize> = t.specs[p].subcommands.values().copied().collect();
            for s in subs {
                if t.specs[s].handler.is_none() {
                    t.specs[s].handler = Some(h);
                }
            }
        }
        t
    }

    fn find_full(&self, name: &str) -> Option<usize> {
        match name.split_once('|') {
            Some((p, s)) => {
                let p = *self.top.get(p.as_bytes())?;
                self.specs[p].subcommands.get(s.as_bytes()).copied()
            }
            None => self.top.get(name.as_bytes()).copied(),
        }
    }

    /// Find a top-level command by name, case-insensitively.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        lower_lookup(&self.top, name)
    }

    /// Find a subcommand of a container.
    pub fn lookup_sub(&self, parent: usize, name: &[u8]) -> Option<usize> {
        lower_lookup(&self.specs[parent].subcommands, name)
    }

    /// Number of top-level commands (COMMAND COUNT).
    pub fn count(&self) -> usize {
        self.top.len()
    }

    /// Top-level command indexes.
    pub fn top_level(&self) -> impl Iterator<Item = usize> + '_ {
        self.top.values().copied()
    }
}

fn lower_lookup(map: &NameMap, name: &[u8]) -> Option<usize> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    map.get(&buf[..name.len()]).copied()
}
