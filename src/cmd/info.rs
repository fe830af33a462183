//! INFO: the server's state as `# Section` blocks of `field:value` lines.
//!
//! Section names, field names and their order are Redis 7.0.15's (`redis-cli info
//! everything`), because monitoring tools parse INFO by field name and a learner compares the
//! two outputs side by side; `tests/info_fields.rs` checks them against a real server. Values
//! come from the engine where rtool keeps the same state (clients, stats, keyspace, command
//! and error counters, the replication offset); memory comes from the kernel's view of the
//! process (`/proc/self`), since rtool has no allocator statistics; a field describing
//! something rtool does not have (Lua, forks, defragmentation, threaded I/O...) shows the
//! value an idle Redis shows. rtool adds one field, `rtool_version`, at the end of `server`.

use super::{Ctx, Handler};
use std::fmt::Write as _;

pub const HANDLERS: &[(&str, Handler)] = &[("info", info)];

/// Every section in the order Redis prints them.
pub const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// What `INFO` and `INFO default` show: everything but the per-command sections.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

fn info(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut wanted: Vec<&str> = Vec::new();
    if argv.len() == 1 {
        wanted.extend(DEFAULT);
    }
    for a in &argv[1..] {
        let a = String::from_utf8_lossy(a).to_ascii_lowercase();
        match a.as_str() {
            // rtool has no modules, so "everything" (all + module sections) is "all".
            "all" | "everything" => wanted.extend(SECTIONS),
            "default" => wanted.extend(DEFAULT),
            name => {
                // Unknown names are ignored, as in Redis (INFO foo is an empty string).
                if let Some(s) = SECTIONS.iter().find(|s| **s == name) {
                    wanted.push(s);
                }
            }
        }
    }
    let text = render(ctx, &wanted);
    ctx.out.verbatim(text.as_bytes());
}

/// The INFO text for the chosen sections (in Redis's order whatever the order asked).
pub fn render(ctx: &Ctx, wanted: &[&str]) -> String {
    let mut w = Writer {
        out: String::with_capacity(4096),
        sections: 0,
    };
    for s in SECTIONS.iter().filter(|s| wanted.contains(s)) {
        match *s {
            "server" => server(ctx, &mut w),
            "clients" => clients(ctx, &mut w),
            "memory" => memory(ctx, &mut w),
            "persistence" => persistence(ctx, &mut w),
            "stats" => stats(ctx, &mut w),
            "replication" => replication(ctx, &mut w),
            "cpu" => cpu(&mut w),
            "modules" => w.section("Modules"),
            "commandstats" => commandstats(ctx, &mut w),
            "errorstats" => errorstats(ctx, &mut w),
            // rtool keeps no latency histograms; the section is there, empty, as in a Redis
            // started with `latency-tracking no`.
            "latencystats" => w.section("Latencystats"),
            "cluster" => {
                w.section("Cluster");
                w.field("cluster_enabled", 0);
            }
            "keyspace" => keyspace(ctx, &mut w),
            _ => {}
        }
    }
    w.out
}

/// Builds the text: sections separated by an empty line, every line ending in CRLF.
struct Writer {
    out: String,
    sections: usize,
}

impl Writer {
    fn section(&mut self, title: &str) {
        if self.sections > 0 {
            self.out.push_str("\r\n");
        }
        self.sections += 1;
        let _ = write!(self.out, "# {title}\r\n");
    }

    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.out, "{name}:{value}\r\n");
    }
}

/// Redis's `bytesToHuman`: `967.37K`, `6.82M`, `0B`.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut d = n as f64 / 1024.0;
    for u in UNITS {
        if d < 1024.0 {
            return format!("{d:.2}{u}");
        }
        d /= 1024.0;
    }
    format!("{n}B")
}

fn server(ctx: &Ctx, w: &mut Writer) {
    let e = &*ctx.engine;
    let now = super::engine::now_ms();
    let uptime = (now - e.start_ms).max(0) / 1000;
    let hz = e.config.get_i64("hz");
    w.section("Server");
    w.field("redis_version", super::server::REDIS_VERSION);
    w.field("redis_git_sha1", "00000000");
    w.field("redis_git_dirty", 0);
    w.field("redis_build_id", "0");
    w.field("redis_mode", "standalone");
    w.field("os", uname());
    w.field("arch_bits", usize::BITS);
    w.field("monotonic_clock", "POSIX clock_gettime");
    w.field("multiplexing_api", "epoll");
    w.field("atomicvar_api", "c11-builtin");
    w.field("gcc_version", "0.0.0");
    w.field("process_id", std::process::id());
    w.field("process_supervised", "no");
    w.field("run_id", &e.run_id);
    w.field("tcp_port", e.config.get_i64("port"));
    w.field("server_time_usec", now * 1000);
    w.field("uptime_in_seconds", uptime);
    w.field("uptime_in_days", uptime / 86400);
    w.field("hz", hz);
    w.field("configured_hz", hz);
    // Redis's LRU clock: seconds, on 24 bits.
    w.field("lru_clock", (now / 1000) & ((1 << 24) - 1));
    w.field(
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    w.field(
        "config_file",
        e.config
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    w.field("io_threads_active", 0);
    // Only while SHUTDOWN waits for lagging replicas, as in Redis.
    let deadline = e.persist.shutdown.deadline_ms;
    if deadline != 0 {
        w.field("shutdown_in_milliseconds", deadline - now);
    }
    w.field("rtool_version", env!("CARGO_PKG_VERSION"));
}

/// `uname -srm`, as Redis prints it in `os`.
fn uname() -> String {
    // SAFETY: `uname` fills the zeroed struct; the fields are NUL-terminated C strings.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |s: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(s.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

fn clients(ctx: &Ctx, w: &mut Writer) {
    let e = &*ctx.engine;
    // Clients whose write waits for a shutdown's pause count as blocked, as in Redis.
    let blocked = e.blocking.len() + e.persist.shutdown.postponed.len();
    let in_timeout = e
        .clients
        .keys()
        .filter(|id| e.blocking.get(**id).is_some_and(|b| b.deadline.is_some()))
        .count();
    let max_qbuf = e.clients.values().map(|c| c.qbuf).max().unwrap_or(0);
    w.section("Clients");
    w.field("connected_clients", e.clients.len());
    w.field("cluster_connections", 0);
    w.field("maxclients", e.config.get_i64("maxclients"));
    w.field("client_recent_max_input_buffer", max_qbuf);
    w.field("client_recent_max_output_buffer", 0);
    w.field("blocked_clients", blocked);
    w.field("tracking_clients", 0);
    w.field("clients_in_timeout_table", in_timeout);
}

/// Resident and peak resident memory of this process, in bytes, from `/proc/self`.
pub fn process_memory() -> (u64, u64) {
    let page = page_size();
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|p| p * page)
        .unwrap_or(0);
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(rss);
    (rss, peak.max(rss))
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    if pages > 0 {
        pages as u64 * page_size()
    } else {
        0
    }
}

fn memory(ctx: &Ctx, w: &mut Writer) {
    let e = &*ctx.engine;
    // Without allocator statistics, "used" is what the kernel has resident for us.
    let (used, peak) = process_memory();
    let maxmemory = e.config.get_i64("maxmemory").max(0) as u64;
    let total = total_system_memory();
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    w.section("Memory");
    w.field("used_memory", used);
    w.field("used_memory_human", bytes_to_human(used));
    w.field("used_memory_rss", used);
    w.field("used_memory_rss_human", bytes_to_human(used));
    w.field("used_memory_peak", peak);
    w.field("used_memory_peak_human", bytes_to_human(peak));
    w.field("used_memory_peak_perc", format!("{:.2}%", pct(used, peak)));
    w.field("used_memory_overhead", 0);
    w.field("used_memory_startup", 0);
    w.field("used_memory_dataset", used);
    w.field(
        "used_memory_dataset_perc",
        format!("{:.2}%", pct(used, used)),
    );
    w.field("allocator_allocated", used);
    w.field("allocator_active", used);
    w.field("allocator_resident", used);
    w.field("total_system_memory", total);
    w.field("total_system_memory_human", bytes_to_human(total));
    // No Lua and no functions in rtool: what an idle Redis 7.0 reports for them.
    w.field("used_memory_lua", 32768);
    w.field("used_memory_vm_eval", 32768);
    w.field("used_memory_lua_human", "32.00K");
    w.field("used_memory_scripts_eval", 0);
    w.field("number_of_cached_scripts", 0);
    w.field("number_of_functions", 0);
    w.field("number_of_libraries", 0);
    w.field("used_memory_vm_functions", 33792);
    w.field("used_memory_vm_total", 66560);
    w.field("used_memory_vm_total_human", "65.00K");
    w.field("used_memory_functions", 200);
    w.field("used_memory_scripts", 200);
    w.field("used_memory_scripts_human", "200B");
    w.field("maxmemory", maxmemory);
    w.field("maxmemory_human", bytes_to_human(maxmemory));
    w.field("maxmemory_policy", e.config.get_str("maxmemory-policy"));
    w.field("allocator_frag_ratio", "1.00");
    w.field("allocator_frag_bytes", 0);
    w.field("allocator_rss_ratio", "1.00");
    w.field("allocator_rss_bytes", 0);
    w.field("rss_overhead_ratio", "1.00");
    w.field("rss_overhead_bytes", 0);
    w.field("mem_fragmentation_ratio", "1.00");
    w.field("mem_fragmentation_bytes", 0);
    w.field("mem_not_counted_for_evict", 0);
    w.field("mem_replication_backlog", 0);
    w.field("mem_total_replication_buffers", 0);
    w.field("mem_clients_slaves", 0);
    w.field("mem_clients_normal", 0);
    w.field("mem_cluster_links", 0);
    w.field("mem_aof_buffer", e.aof.buffered());
    // Rust's global allocator is the C library's malloc; Redis names that "libc".
    w.field("mem_allocator", "libc");
    w.field("active_defrag_running", 0);
    w.field("lazyfree_pending_objects", 0);
    w.field("lazyfreed_objects", 0);
}

fn persistence(ctx: &Ctx, w: &mut Writer) {
    let e = &*ctx.engine;
    w.section("Persistence");
    for f in [
        "loading",
        "async_loading",
        "current_cow_peak",
        "current_cow_size",
        "current_cow_size_age",
    ] {
        w.field(f, 0);
    }
    w.field("current_fork_perc", "0.00");
    w.field("current_save_keys_processed", 0);
    w.field("current_save_keys_total", 0);
    let p = &e.persist;
    w.field("rdb_changes_since_last_save", e.dirty);
    w.field("rdb_bgsave_in_progress", p.child.is_some() as u8);
    w.field("rdb_last_save_time", e.lastsave);
    w.field(
        "rdb_last_bgsave_status",
        if p.last_bgsave_ok { "ok" } else { "err" },
    );
    w.field(
        "rdb_last_bgsave_time_sec",
        if p.saves == 0 && p.total_forks == 0 {
            -1
        } else {
            p.last_bgsave_time_sec
        },
    );
    let current = p
        .child
        .as_ref()
        .map(|c| (e.now_ms - c.start_ms) / 1000)
        .unwrap_or(-1);
    w.field("rdb_current_bgsave_time_sec", current);
    w.field("rdb_saves", p.saves);
    w.field("rdb_last_cow_size", 0);
    w.field("rdb_last_load_keys_expired", p.loaded_expired);
    w.field("rdb_last_load_keys_loaded", p.loaded_keys);
    let a = &e.aof;
    let rewriting = p
        .child
        .as_ref()
        .filter(|c| c.kind == crate::persist::ChildKind::Aof);
    w.field("aof_enabled", a.active() as u8);
    w.field("aof_rewrite_in_progress", rewriting.is_some() as u8);
    w.field("aof_rewrite_scheduled", a.rewrite_scheduled as u8);
    w.field("aof_last_rewrite_time_sec", a.rewrite_time_last);
    w.field(
        "aof_current_rewrite_time_sec",
        rewriting
            .map(|c| (e.now_ms - c.start_ms) / 1000)
            .unwrap_or(-1),
    );
    w.field(
        "aof_last_bgrewrite_status",
        if a.last_bgrewrite_ok { "ok" } else { "err" },
    );
    w.field("aof_rewrites", a.rewrites);
    w.field(
        "aof_rewrites_consecutive_failures",
        a.rewrites_consecutive_failures,
    );
    w.field(
        "aof_last_write_status",
        if a.last_write_ok { "ok" } else { "err" },
    );
    w.field("aof_last_cow_size", 0);
    w.field("module_fork_in_progress", 0);
    w.field("module_fork_last_cow_size", 0);
    if a.active() {
        w.field("aof_current_size", a.current_size);
        w.field("aof_base_size", a.base_size);
        w.field("aof_pending_rewrite", a.rewrite_scheduled as u8);
        w.field("aof_buffer_length", a.buffered());
        w.field("aof_pending_bio_fsync", a.fsync_in_progress() as u8);
        w.field("aof_delayed_fsync", a.delayed_fsync);
    }
}

fn stats(ctx: &Ctx, w: &mut Writer) {
    let e = &*ctx.engine;
    let s = &e.stats;
    // Redis's `getInstantaneousMetric`: the mean of the last samples, truncated.
    let ops = if s.ops_samples.is_empty() {
        0
    } else {
        (s.ops_samples.iter().sum::<f64>() / s.ops_samples.len() as f64) as u64
    };
    w.section("Stats");
    w.field("total_connections_received", s.total_connections_received);
    w.field("total_commands_processed", s.total_commands_processed);
    w.field("instantaneous_ops_per_sec", ops);
    w.field("total_net_input_bytes", s.total_net_input_bytes);
    w.field("total_net_output_bytes", s.total_net_output_bytes);
    w.field("total_net_repl_input_bytes", 0);
    w.field("total_net_repl_output_bytes", 0);
    for f in [
        "instantaneous_input_kbps",
        "instantaneous_output_kbps",
        "instantaneous_input_repl_kbps",
        "instantaneous_output_repl_kbps",
    ] {
        w.field(f, "0.00");
    }
    w.field("rejected_connections", s.rejected_connections);
    w.field("sync_full", s.sync_full);
    w.field("sync_partial_ok", s.sync_partial_ok);
    w.field("sync_partial_err", s.sync_partial_err);
    w.field("expired_keys", s.expired_keys);
    w.field("expired_stale_perc", "0.00");
    w.field("expired_time_cap_reached_count", 0);
    w.field("expire_cycle_cpu_milliseconds", 0);
    w.field("evicted_keys", s.evicted_keys);
    w.field("evicted_clients", 0);
    w.field("total_eviction_exceeded_time", 0);
    w.field("current_eviction_exceeded_time", 0);
    w.field("keyspace_hits", s.keyspace_hits);
    w.field("keyspace_misses", s.keyspace_misses);
    w.field("pubsub_channels", e.pubsub.channels.len());
    w.field("pubsub_patterns", e.pubsub.patterns.len());
    w.field("pubsubshard_channels", 0);
    w.field("latest_fork_usec", e.persist.latest_fork_usec);
    w.field("total_forks", e.persist.total_forks);
    for f in [
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
        "tracking_total_keys",
        "tracking_total_items",
        "tracking_total_prefixes",
        "unexpected_error_replies",
    ] {
        w.field(f, 0);
    }
    w.field("total_error_replies", s.total_error_replies);
    w.field("dump_payload_sanitizations", 0);
    w.field("total_reads_processed", s.total_reads_processed);
    w.field("total_writes_processed", s.total_writes_processed);
    for f in [
        "io_threaded_reads_processed",
        "io_threaded_writes_processed",
        "reply_buffer_shrinks",
        "reply_buffer_expands",
    ] {
        w.field(f, 0);
    }
}

/// A master without replicas (replica links and the backlog will fill these in).
fn replication(ctx: &Ctx, w: &mut Writer) {
    let e = &*ctx.engine;
    w.section("Replication");
    if let Some(m) = &e.master {
        use crate::repl::replica::ReplState;
        w.field("role", "slave");
        w.field("master_host", &m.host);
        w.field("master_port", m.port);
        w.field("master_link_status", m.state.link_status());
        w.field(
            "master_last_io_seconds_ago",
            if m.state == ReplState::Connected {
                (e.now_ms - m.last_io_ms) / 1000
            } else {
                -1
            },
        );
        w.field(
            "master_sync_in_progress",
            (m.state == ReplState::Transfer) as u8,
        );
        w.field("slave_read_repl_offset", e.repl.offset());
        w.field("slave_repl_offset", e.repl.offset());
        if m.state == ReplState::Transfer {
            let left = if m.sync_size >= 0 {
                m.sync_size - m.sync_read as i64
            } else {
                -1
            };
            w.field("master_sync_total_bytes", m.sync_size);
            w.field("master_sync_read_bytes", m.sync_read);
            w.field("master_sync_left_bytes", left);
            let perc = if m.sync_size > 0 {
                m.sync_read as f64 * 100.0 / m.sync_size as f64
            } else {
                0.0
            };
            w.field("master_sync_perc", format!("{perc:.2}"));
            w.field(
                "master_sync_last_io_seconds_ago",
                (e.now_ms - m.last_io_ms) / 1000,
            );
        }
        if m.state != ReplState::Connected {
            w.field(
                "master_link_down_since_seconds",
                (e.now_ms - m.down_since_ms) / 1000,
            );
        }
        w.field("slave_priority", e.config.get_i64("replica-priority"));
        w.field(
            "slave_read_only",
            e.config.get_bool("replica-read-only") as u8,
        );
        w.field(
            "replica_announced",
            e.config.get_bool("replica-announced") as u8,
        );
    } else {
        w.field("role", "master");
    }
    w.field("connected_slaves", e.replicas.len());
    for (i, r) in e.replicas.values().enumerate() {
        let lag = (e.now_ms - r.ack_time_ms) / 1000;
        w.field(
            &format!("slave{i}"),
            format!(
                "ip={},port={},state={},offset={},lag={}",
                r.ip,
                r.listening_port,
                r.state.info_name(),
                r.ack_offset,
                lag
            ),
        );
    }
    w.field("master_failover_state", "no-failover");
    let r = &e.repl;
    w.field("master_replid", &r.replid);
    w.field("master_replid2", &r.replid2);
    w.field("master_repl_offset", r.offset());
    w.field("second_repl_offset", r.second_repl_offset);
    w.field("repl_backlog_active", r.backlog_active as u8);
    w.field("repl_backlog_size", e.config.get_i64("repl-backlog-size"));
    let (first, hist) = if r.backlog_active {
        (r.backlog.first_byte_offset(), r.backlog.histlen())
    } else {
        (0, 0)
    };
    w.field("repl_backlog_first_byte_offset", first);
    w.field("repl_backlog_histlen", hist);
}

/// CPU time as `getrusage` reports it, `seconds.microseconds`.
fn rusage(who: libc::c_int) -> (String, String) {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut u);
        u
    };
    let t = |tv: libc::timeval| format!("{}.{:06}", tv.tv_sec, tv.tv_usec);
    (t(u.ru_stime), t(u.ru_utime))
}

fn cpu(w: &mut Writer) {
    let (sys, user) = rusage(libc::RUSAGE_SELF);
    let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
    // rtool runs commands on whichever runtime thread holds the engine; this thread's usage
    // is the closest to Redis's "main thread".
    let (tsys, tuser) = rusage(libc::RUSAGE_THREAD);
    w.section("CPU");
    w.field("used_cpu_sys", sys);
    w.field("used_cpu_user", user);
    w.field("used_cpu_sys_children", csys);
    w.field("used_cpu_user_children", cuser);
    w.field("used_cpu_sys_main_thread", tsys);
    w.field("used_cpu_user_main_thread", tuser);
}

fn commandstats(ctx: &Ctx, w: &mut Writer) {
    w.section("Commandstats");
    let specs = &ctx.engine.table.specs;
    let mut names: Vec<(&str, &super::engine::CmdStat)> = ctx
        .engine
        .stats
        .commands
        .iter()
        .enumerate()
        .filter(|(_, c)| c.calls > 0 || c.failed > 0 || c.rejected > 0)
        .map(|(id, c)| (specs[id].name.as_str(), c))
        .collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    for (name, c) in names {
        let usec = super::clock::to_usec(c.ticks);
        let per_call = if c.calls == 0 {
            0.0
        } else {
            usec as f64 / c.calls as f64
        };
        w.field(
            &format!("cmdstat_{name}"),
            format!(
                "calls={},usec={usec},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
                c.calls, c.rejected, c.failed
            ),
        );
    }
}

fn errorstats(ctx: &Ctx, w: &mut Writer) {
    w.section("Errorstats");
    let mut errs: Vec<(&String, &u64)> = ctx.engine.stats.errors.iter().collect();
    errs.sort();
    for (code, n) in errs {
        w.field(&format!("errorstat_{code}"), format!("count={n}"));
    }
}

fn keyspace(ctx: &Ctx, w: &mut Writer) {
    w.section("Keyspace");
    for (i, db) in ctx.engine.keyspace.dbs.iter().enumerate() {
        if !db.is_empty() {
            w.field(
                &format!("db{i}"),
                format!(
                    "keys={},expires={},avg_ttl={}",
                    db.len(),
                    db.expires.len(),
                    db.avg_ttl
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(200), "200B");
        assert_eq!(bytes_to_human(990584), "967.37K");
        assert_eq!(bytes_to_human(7151616), "6.82M");
        assert_eq!(bytes_to_human(25276063744), "23.54G");
    }

    #[test]
    fn memory_is_measured() {
        let (rss, peak) = process_memory();
        assert!(rss > 0 && peak >= rss);
    }
}
